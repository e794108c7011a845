//! Human-readable rendering of a validation report. JSON output is the report itself.

use std::fmt::Write;

use jpki_core::four_fields::{DateOfBirthField, Era, FourFields, TextField};
use jpki_core::report::{Check, ValidationReport};
use jpki_core::revocation::{RevocationReason, RevocationStatus};

/// Renders a report as text for a terminal.
pub fn report_text(report: &ValidationReport) -> String {
    let mut out = String::new();
    let what = match report.operation {
        jpki_core::report::Operation::Signature => "signature",
        jpki_core::report::Operation::AuthenticationProof => "authentication proof",
        jpki_core::report::Operation::Certificate => "certificate",
    };
    let indication = json_name(&report.indication);
    match (&report.sub_indication, &report.reason) {
        (Some(sub), Some(reason)) => {
            let _ = writeln!(out, "{indication} / {}  {what}", json_name(sub));
            let _ = writeln!(out, "  reason            {}", reason.code());
            let detail = serde_json::to_value(reason).ok();
            if let Some(serde_json::Value::Object(fields)) = detail {
                for (key, value) in fields.iter().filter(|(key, _)| key.as_str() != "code") {
                    let _ = writeln!(out, "    {key:<15} {}", compact(value));
                }
            }
            let retry = if report.retry_may_help { "yes" } else { "no" };
            let _ = writeln!(out, "  retry later helps {retry}");
        }
        _ => {
            let _ = writeln!(out, "{indication}  {what}");
        }
    }
    let _ = writeln!(out, "  validation time   {}", report.validation_time);
    if let Some(signature) = &report.signature {
        let mut line = format!("{} {}", json_name(&signature.format), signature.hash);
        if let Some(attached) = signature.attached {
            line.push_str(if attached { ", attached" } else { ", detached" });
        }
        if let Some(time) = signature.claimed_signing_time {
            let _ = write!(line, ", claimed signing time {time}");
        }
        let _ = writeln!(out, "  signature         {line}");
    }
    if let Some(certificate) = &report.certificate {
        let kind = certificate.kind.map_or_else(|| "unknown kind".to_owned(), |kind| kind.to_string());
        let ca = certificate.ca_key_id.as_deref().unwrap_or("-");
        let _ = writeln!(out, "  certificate       {kind}, serial {}, CA key {ca}", certificate.serial);
        let _ = writeln!(out, "    issuer          {}", certificate.issuer);
        let _ = writeln!(out, "    subject         {}", certificate.subject);
        let _ = writeln!(out, "    valid           {} .. {}", certificate.not_before, certificate.not_after);
        let _ = writeln!(out, "    policies        {}", certificate.policies.join(", "));
    }
    if let Some(revocation) = &report.revocation {
        let status = match &revocation.status {
            RevocationStatus::Good => "good".to_owned(),
            RevocationStatus::Revoked { revoked_at, reason } => {
                format!("revoked at {revoked_at}, reason {}", reason.map_or("none", RevocationReason::name))
            }
            RevocationStatus::Unknown { cause } => format!("unknown ({})", compact(&serde_json::json!(cause))),
        };
        let _ = writeln!(out, "  revocation        {status}");
        if let Some(provenance) = &revocation.provenance {
            let number = provenance.crl_number.as_deref().unwrap_or("-");
            let next = provenance.next_update.map_or("-".to_owned(), |time| time.to_string());
            let _ = writeln!(
                out,
                "    list            {} (number {number}, thisUpdate {}, nextUpdate {next})",
                provenance.list, provenance.this_update
            );
        }
    }
    if let Some(fields) = &report.four_fields {
        four_fields_text(&mut out, fields);
    }
    let checks: Vec<String> = report
        .checks
        .iter()
        .map(|outcome| format!("{} {}", check_name(outcome.check), if outcome.passed { "ok" } else { "FAILED" }))
        .collect();
    let _ = writeln!(out, "  checks            {}", checks.join(", "));
    out
}

fn four_fields_text(out: &mut String, fields: &FourFields) {
    let _ = writeln!(out, "  four fields");
    text_field(out, "name", &fields.name);
    let sex = fields.sex.value.map_or_else(|| format!("malformed {:?}", fields.sex.raw), |sex| json_name(&sex));
    let _ = writeln!(out, "    sex             {sex}");
    let _ = writeln!(out, "    date of birth   {}", date_of_birth(&fields.date_of_birth));
    text_field(out, "address", &fields.address);
}

fn text_field(out: &mut String, label: &str, field: &TextField) {
    let value = field.value.as_deref().unwrap_or("(absent)");
    let _ = write!(out, "    {label:<16}{value}");
    if !field.substitute_positions.is_empty() {
        let _ = write!(out, "  [substitute characters at {:?}]", field.substitute_positions);
    }
    for problem in &field.problems {
        let _ = write!(out, "  [problem: {}]", compact(&serde_json::json!(problem)));
    }
    out.push('\n');
}

fn date_of_birth(field: &DateOfBirthField) -> String {
    if !field.problems.is_empty() {
        return format!("malformed {:?}", field.raw);
    }
    let era = match field.era {
        Some(Era::Meiji) => "明治",
        Some(Era::Taisho) => "大正",
        Some(Era::Showa) => "昭和",
        Some(Era::Heisei) => "平成",
        Some(Era::Reiwa) => "令和",
        Some(Era::Unknown) | None => "era unknown",
    };
    let part = |value: Option<u16>, width: usize| value.map_or("??".to_owned(), |value| format!("{value:0width$}"));
    format!(
        "{}-{}-{} ({era})",
        part(field.year, 4),
        part(field.month.map(u16::from), 2),
        part(field.day.map(u16::from), 2)
    )
}

fn check_name(check: Check) -> String {
    json_name(&check)
}

/// The serde name of a unit enum value.
fn json_name<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        Ok(other) => other.to_string(),
        Err(_) => "?".to_owned(),
    }
}

fn compact(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}
