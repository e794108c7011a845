//! Responses as JSON (the proto3 JSON mapping, with proto field names) or as text, and the JSON
//! files `--save` writes and later commands read.

use std::fmt::Write;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{Context, bail};
use jpki_api::v1::{
    CertificateFacts, CertificateId, CertificateKind, DateOfBirth, Era, FieldVerdict, FourFields, Indication,
    RevocationFacts, RevocationReason, RevocationStatus, Sex, SubIndication, VerificationResult,
};
use prost_reflect::{DescriptorPool, DynamicMessage, SerializeOptions};

fn pool() -> anyhow::Result<&'static DescriptorPool> {
    static POOL: OnceLock<Result<DescriptorPool, String>> = OnceLock::new();
    POOL.get_or_init(|| {
        let mut pool = DescriptorPool::decode(jpki_api::FILE_DESCRIPTOR_SET).map_err(|error| error.to_string())?;
        pool.decode_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET).map_err(|error| error.to_string())?;
        Ok(pool)
    })
    .as_ref()
    .map_err(|error| anyhow::anyhow!("the API's descriptor set does not load: {error}"))
}

/// A message as JSON: the proto3 mapping (enum names, RFC 3339 timestamps, fields at their default
/// value left out) with the proto's snake_case field names, so that `result.verification_id` reads
/// as in the API.
pub fn to_json<M: prost::Message>(message: &M, full_name: &str) -> anyhow::Result<serde_json::Value> {
    let descriptor =
        pool()?.get_message_by_name(full_name).with_context(|| format!("{full_name}: not in the descriptor set"))?;
    let dynamic = DynamicMessage::decode(descriptor, message.encode_to_vec().as_slice())
        .with_context(|| format!("{full_name}: cannot re-decode"))?;
    let options = SerializeOptions::new().use_proto_field_name(true);
    dynamic
        .serialize_with_options(serde_json::value::Serializer, &options)
        .with_context(|| format!("{full_name}: cannot convert to JSON"))
}

/// Prints a JSON value on one line (so that a stream of them is one JSON document per line).
pub fn print_json(value: &serde_json::Value) {
    println!("{value}");
}

/// Prints `value` (with `--json`) or `text`, and saves the JSON to `save_to` when asked.
pub fn answer(json: bool, value: &serde_json::Value, text: &str, save_to: Option<&PathBuf>) -> anyhow::Result<()> {
    if json {
        print_json(value);
    } else {
        print!("{text}");
    }
    if let Some(path) = save_to {
        save(path, value)?;
        if !json {
            println!("  saved to          {}", path.display());
        }
    }
    Ok(())
}

/// Writes `value` to `path` as pretty JSON.
pub fn save(path: &Path, value: &serde_json::Value) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value).context("JSON")?;
    std::fs::write(path, text + "\n").with_context(|| format!("{}: cannot write", path.display()))
}

/// A string field of a JSON file written by `--save`, at a JSON pointer such as
/// `/result/verification_id`; `made_by` says which command writes such a file.
pub fn saved_string(path: &Path, pointer: &str, made_by: &str) -> anyhow::Result<String> {
    let bytes = crate::trust::read(path)?;
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not JSON (expected the file saved by {made_by})", path.display()))?;
    match value.pointer(pointer) {
        Some(serde_json::Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        _ => bail!(
            "{}: no {} (expected the file saved by {made_by})",
            path.display(),
            pointer.trim_start_matches('/').replace('/', ".")
        ),
    }
}

/// The challenge bytes of a file saved by `api issue-challenge --save` (`challenge`, hex).
pub fn saved_challenge(path: &Path) -> anyhow::Result<Vec<u8>> {
    let text = saved_string(path, "/challenge", "`jpkictl api issue-challenge --save`")?;
    hex::decode(text.trim()).with_context(|| format!("{}: challenge is not hex", path.display()))
}

/// `CAKEYID:SERIAL`, the form `--id` takes.
pub fn certificate_id(id: Option<&CertificateId>) -> String {
    id.map_or_else(|| "-".to_owned(), |id| format!("{}:{}", id.ca_key_id, id.serial))
}

/// A timestamp in RFC 3339, or `-`.
pub fn timestamp(time: Option<&prost_types::Timestamp>) -> String {
    time.map_or_else(|| "-".to_owned(), ToString::to_string)
}

/// The proto name of an enum value (its number when the server sent one this client does not know).
pub fn enum_name<E: TryFrom<i32>>(value: i32, name: fn(&E) -> &'static str) -> String {
    E::try_from(value).map_or_else(|_| format!("unknown({value})"), |known| name(&known).to_owned())
}

/// The exit code of a verification: 0 TOTAL_PASSED, 1 TOTAL_FAILED, 2 INDETERMINATE (and
/// anything else), as `jpkictl verify` does.
pub fn exit_code(result: Option<&VerificationResult>) -> i32 {
    match result.map(|result| Indication::try_from(result.indication)) {
        Some(Ok(Indication::TotalPassed)) => 0,
        Some(Ok(Indication::TotalFailed)) => 1,
        _ => 2,
    }
}

/// The verification part of a response, in the layout of the offline `verify` output.
pub fn result_text(out: &mut String, what: &str, result: Option<&VerificationResult>) {
    let Some(result) = result else {
        let _ = writeln!(out, "(the gateway sent no result)  {what}");
        return;
    };
    let indication = enum_name(result.indication, Indication::as_str_name);
    match &result.reason {
        Some(reason) => {
            let sub = enum_name(result.sub_indication, SubIndication::as_str_name);
            let _ = writeln!(out, "{indication} / {sub}  {what}");
            let _ = writeln!(out, "  reason            {}", reason.code);
            let mut details: Vec<_> = reason.details.iter().collect();
            details.sort();
            for (key, value) in details {
                let _ = writeln!(out, "    {key:<15} {value}");
            }
            let _ = writeln!(out, "  retry later helps {}", if result.retry_may_help { "yes" } else { "no" });
        }
        None => {
            let _ = writeln!(out, "{indication}  {what}");
        }
    }
    let _ = writeln!(out, "  verification id   {}", result.verification_id);
    let _ = writeln!(out, "  validation time   {}", timestamp(result.validation_time.as_ref()));
    if let Some(certificate) = &result.certificate {
        certificate_text(out, certificate);
    }
    if let Some(revocation) = &result.revocation {
        revocation_text(out, "  revocation        ", revocation);
    }
}

fn certificate_text(out: &mut String, certificate: &CertificateFacts) {
    let kind = enum_name(certificate.kind, CertificateKind::as_str_name);
    let (serial, ca) = certificate.id.as_ref().map_or(("-", "-"), |id| (id.serial.as_str(), id.ca_key_id.as_str()));
    let _ = writeln!(out, "  certificate       {kind}, serial {serial}, CA key {ca}");
    let _ = writeln!(out, "    issuer          {}", certificate.issuer);
    let _ = writeln!(
        out,
        "    valid           {} .. {}",
        timestamp(certificate.not_before.as_ref()),
        timestamp(certificate.not_after.as_ref())
    );
    let _ = writeln!(out, "    policies        {}", certificate.policies.join(", "));
}

/// A reason as the CRL names it, lower case (`key_compromise`), or `none`.
pub fn reason_text(reason: i32) -> String {
    match RevocationReason::try_from(reason) {
        Ok(RevocationReason::Unspecified) => "none".to_owned(),
        Ok(known) => known.as_str_name().to_ascii_lowercase(),
        Err(_) => format!("unknown reason {reason}"),
    }
}

/// One `revocation` line (after `label`) and its list line.
pub fn revocation_text(out: &mut String, label: &str, revocation: &RevocationFacts) {
    let status = match revocation.status() {
        RevocationStatus::Revoked => {
            format!(
                "revoked at {}, reason {}",
                timestamp(revocation.revoked_at.as_ref()),
                reason_text(revocation.reason)
            )
        }
        RevocationStatus::Good => "good".to_owned(),
        RevocationStatus::Unknown if !revocation.unknown_cause.is_empty() => {
            format!("unknown ({})", revocation.unknown_cause)
        }
        RevocationStatus::Unknown => "unknown".to_owned(),
        RevocationStatus::NotEntitled => {
            "not entitled (this tenant has no passed verification of it or link to it)".to_owned()
        }
        RevocationStatus::Unspecified => enum_name(revocation.status, RevocationStatus::as_str_name),
    };
    let _ = writeln!(out, "{label}{status}");
    if !revocation.list.is_empty() {
        let number = if revocation.crl_number.is_empty() { "-" } else { revocation.crl_number.as_str() };
        let _ = writeln!(
            out,
            "    list            {} (number {number}, thisUpdate {}, nextUpdate {})",
            revocation.list,
            timestamp(revocation.this_update.as_ref()),
            timestamp(revocation.next_update.as_ref())
        );
    }
}

/// The four fields with their verdicts. These are personal data: printed for the user who asked,
/// never logged.
pub fn four_fields_text(out: &mut String, fields: &FourFields) {
    let _ = writeln!(out, "  four fields                                         (compared with the applicant's data)");
    let absent = |out: &mut String, label: &str| {
        let _ = writeln!(out, "    {label:<16}(not provided to this tenant)");
    };
    match &fields.name {
        Some(field) => {
            field_line(out, "name", &field.value, &field.substitute_positions, &field.problems, field.verdict)
        }
        None => absent(out, "name"),
    }
    match &fields.date_of_birth {
        Some(field) => {
            let value = format!("{} ({})", date_text(field), enum_name(field.era, Era::as_str_name));
            field_line(out, "date of birth", &value, &[], &field.problems, field.verdict);
        }
        None => absent(out, "date of birth"),
    }
    match &fields.address {
        Some(field) => {
            field_line(out, "address", &field.value, &field.substitute_positions, &field.problems, field.verdict);
        }
        None => absent(out, "address"),
    }
    match &fields.sex {
        Some(field) => {
            let value = format!("{} ({})", enum_name(field.value, Sex::as_str_name), field.raw);
            field_line(out, "sex", &value, &[], &field.problems, field.verdict);
        }
        None => absent(out, "sex"),
    }
}

/// `YYYY-MM-DD` from the typed parts, `??` where the register does not know a part.
fn date_text(field: &DateOfBirth) -> String {
    let part = |value: u32, width: usize| if value == 0 { "??".to_owned() } else { format!("{value:0width$}") };
    format!("{}-{}-{}", part(field.year, 4), part(field.month, 2), part(field.day, 2))
}

fn field_line(out: &mut String, label: &str, value: &str, substitutes: &[u32], problems: &[String], verdict: i32) {
    let verdict = match FieldVerdict::try_from(verdict) {
        Ok(FieldVerdict::Unspecified) => "not compared".to_owned(),
        _ => enum_name(verdict, FieldVerdict::as_str_name),
    };
    // Pad by characters, not bytes: the values are mostly full-width Japanese.
    let width = value.chars().count() + value.chars().filter(|c| !c.is_ascii()).count();
    let padding = " ".repeat(36usize.saturating_sub(width).max(2));
    let _ = write!(out, "    {label:<16}{value}{padding}{verdict}");
    if !substitutes.is_empty() {
        let _ = write!(out, "  [substitute characters at {substitutes:?}]");
    }
    for problem in problems {
        let _ = write!(out, "  [problem: {problem}]");
    }
    out.push('\n');
}
