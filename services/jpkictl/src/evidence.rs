//! `jpkictl audit evidence INDEX --dir DIR`: fetch the evidence one audited answer rested on
//! (jpki.audit.v1.AuditService/GetEvidence) into `DIR/evidence/<INDEX>/`, then re-prove the answer
//! offline from those files alone:
//!
//! ```text
//! DIR/evidence/<INDEX>/event.json            the event's leaf, byte for byte
//! DIR/evidence/<INDEX>/certificate.der       the end-entity certificate, when served
//! DIR/evidence/<INDEX>/lists/<sha256>.crl    each list the event names, by its tbsCertList SHA-256
//! DIR/evidence/<INDEX>/served-anchors/<n>.der  the anchors the gateway is configured with
//! ```
//!
//! The checks: the certificate's SHA-256 is the event's `digests.certificate_sha256`; each list's
//! tbsCertList SHA-256 is the event's `revocation[i].sha256` and its signature verifies against the
//! anchors; the certificate, validated alone (`Verifier::validate_certificate`) at the event's
//! time with those anchors and lists, gets the event's indication and sub-indication.
//!
//! Exit codes: 0 re-proved (or nothing to re-prove); 1 a check fails or the answer differs; 2
//! usage or I/O errors (also a served event that differs from the pulled one).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use jpki_api::audit::v1 as audit;
use jpki_app::trust::{AnchorFile, TrustConfig, files_in, read};
use jpki_audit::{AuditEvent, sha256_hex};
use jpki_core::cert::{ParsedCertificate, pem_blocks};
use jpki_core::oid::jpki;
use jpki_core::{AlgorithmPolicy, CertKind, Purpose, TrustAnchor, UnixTime, ValidationReport};
use jpki_revocation::{CompactList, parse_crl};
use serde::Serialize;

use crate::api::Connection;
use crate::api::client::Rpc;
use crate::api::output::print_json;

/// The event's leaf in an evidence directory.
pub const EVENT_FILE: &str = "event.json";
/// The end-entity certificate in an evidence directory.
pub const CERTIFICATE_FILE: &str = "certificate.der";
/// The lists, `<tbsCertList SHA-256 hex>.crl`.
pub const LISTS_DIR: &str = "lists";
/// The anchors the gateway served, `<n>.der`.
pub const SERVED_ANCHORS_DIR: &str = "served-anchors";

/// Exit code when the answer is not re-proved.
pub const NOT_REPROVED: i32 = 1;
/// Exit code for usage and I/O errors.
pub const USAGE_OR_IO: i32 = 2;

/// `audit evidence`.
#[derive(clap::Args, Debug)]
pub struct EvidenceArgs {
    /// The event's index (from 0).
    #[arg(value_name = "INDEX")]
    pub index: u64,
    /// The pulled directory; the evidence is written to DIR/evidence/INDEX/.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The auditor's own copy of the CA roots (PEM or DER files named after their kind:
    /// signing-card…, auth-card…, or a test-PKI directory). Without it the anchors the gateway
    /// served are used, which only shows the gateway is consistent with itself.
    #[arg(long, value_name = "DIR2")]
    pub anchors: Option<PathBuf>,
    /// Do not call GetEvidence: re-prove from DIR/evidence/INDEX/ as already fetched.
    #[arg(long)]
    pub offline: bool,
    /// The tenant (default: the one DIR/origin names, `<platform>/tenant/<tenant>`).
    #[arg(long)]
    pub tenant: Option<String>,
}

/// Where the evidence of event `index` lives in a pulled directory.
pub fn evidence_dir(dir: &Path, index: u64) -> PathBuf {
    dir.join("evidence").join(index.to_string())
}

/// Runs `audit evidence`; every error is reported here with [`USAGE_OR_IO`].
pub fn run(connection: &Connection, args: &EvidenceArgs) -> i32 {
    let target = evidence_dir(&args.dir, args.index);
    let outcome = (|| {
        if !args.offline {
            crate::block_on(fetch(connection, args, &target))?;
        }
        reprove(&target, args.anchors.as_deref())
    })();
    match outcome {
        Ok(reproof) => {
            if connection.json {
                print_json(&serde_json::json!({ "index": args.index, "evidence": target, "reproof": reproof }));
            } else {
                print!("{}", reproof_text(args.index, &reproof));
            }
            reproof.exit_code()
        }
        Err(error) => {
            eprintln!("jpkictl: {error:#}");
            USAGE_OR_IO
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fetching.

/// The tenant an origin `<platform>/tenant/<tenant>` names.
///
/// # Errors
/// An origin of another form.
pub fn tenant_of_origin(origin: &str) -> anyhow::Result<String> {
    match origin.rsplit_once("/tenant/") {
        Some((platform, tenant)) if !platform.is_empty() && !tenant.is_empty() && !tenant.contains('/') => {
            Ok(tenant.to_owned())
        }
        _ => bail!("origin {origin:?} is not \"<platform>/tenant/<tenant>\": pass --tenant"),
    }
}

async fn fetch(connection: &Connection, args: &EvidenceArgs, target: &Path) -> anyhow::Result<()> {
    let pulled = crate::audit::pulled_leaf(&args.dir, args.index)?;
    let tenant = match &args.tenant {
        Some(tenant) => tenant.clone(),
        None => tenant_of_origin(&crate::audit::read_origin(&args.dir)?)?,
    };
    let gateway = connection.connect().await?;
    let mut client = gateway.audit();
    let served = client.get_evidence(audit::GetEvidenceRequest { tenant, index: args.index }).await.rpc()?;
    store_evidence(target, args.index, &served, pulled.as_deref())
}

/// Writes served evidence to `target` (replacing what was there). `pulled` is the pulled event at
/// the index, if the directory holds it: the served leaf must equal it byte for byte.
///
/// # Errors
/// A served event for another index or that differs from the pulled one, an event neither served
/// nor pulled (expired), or an I/O error.
pub fn store_evidence(
    target: &Path,
    index: u64,
    served: &audit::Evidence,
    pulled: Option<&[u8]>,
) -> anyhow::Result<()> {
    if served.index != index {
        bail!("the gateway served the evidence of event {}, not of event {index}", served.index);
    }
    let leaf: &[u8] = match (served.leaf.as_bytes(), pulled) {
        (served_leaf, Some(pulled)) if !served_leaf.is_empty() && served_leaf != pulled => bail!(
            "the platform showed a different event at index {index} than the one pulled (and verified) in the \
             log:\n  pulled {}\n  served {}",
            String::from_utf8_lossy(pulled),
            served.leaf
        ),
        (served_leaf, _) if !served_leaf.is_empty() => served_leaf,
        (_, Some(pulled)) => pulled,
        (_, None) => bail!("event {index} expired: the gateway no longer serves it and it was not pulled before"),
    };
    if target.exists() {
        std::fs::remove_dir_all(target).with_context(|| format!("{}: cannot replace", target.display()))?;
    }
    write(&target.join(EVENT_FILE), leaf)?;
    if !served.certificate.is_empty() {
        write(&target.join(CERTIFICATE_FILE), &served.certificate)?;
    }
    std::fs::create_dir_all(target.join(LISTS_DIR)).with_context(|| format!("{}: cannot create", target.display()))?;
    for list in served.lists.iter().filter(|list| !list.der.is_empty()) {
        write(&target.join(LISTS_DIR).join(format!("{}.crl", hex::encode(&list.tbs_sha256))), &list.der)?;
    }
    for (n, anchor) in served.anchors.iter().enumerate() {
        write(&target.join(SERVED_ANCHORS_DIR).join(format!("{n}.der")), anchor)?;
    }
    Ok(())
}

fn write(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).with_context(|| format!("{}: cannot create", parent.display()))?;
    }
    std::fs::write(path, data).with_context(|| format!("{}: cannot write", path.display()))
}

// ---------------------------------------------------------------------------------------------
// Re-proving, offline.

/// The outcome of a re-proof.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every check passed and the certificate gets the event's indication and sub-indication.
    Reproved,
    /// Every check passed and the certificate is valid; the event's failure lies in what the
    /// evidence does not hold (the signature, or the tenant's policy).
    CertificateReproved,
    /// The event names no certificate, or the evidence holds none for an answer that did not pass.
    NothingToReprove,
    /// Every check passed, yet the re-proved answer differs from the event's.
    Differs,
    /// A check failed (digest, list, anchors).
    CheckFailed,
}

/// One named check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckLine {
    /// What was checked.
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
}

/// What `reprove` found.
#[derive(Debug, Clone, Serialize)]
pub struct Reproof {
    /// The outcome.
    pub verdict: Verdict,
    /// The event's rpc.
    pub rpc: String,
    /// The event's time (unix seconds), the validation time.
    pub time: i64,
    /// The event's indication and sub-indication.
    pub event_indication: Option<String>,
    /// The event's sub-indication.
    pub event_sub_indication: Option<String>,
    /// The re-proved indication, when the certificate was validated.
    pub reproved_indication: Option<String>,
    /// The re-proved sub-indication.
    pub reproved_sub_indication: Option<String>,
    /// The re-proved reason code.
    pub reproved_reason: Option<String>,
    /// Where the anchors came from.
    pub anchors: Option<String>,
    /// The checks, in order.
    pub checks: Vec<CheckLine>,
    /// Remarks (why there is nothing to re-prove, lists set aside, ...).
    pub notes: Vec<String>,
    /// The full report of the re-proof.
    pub report: Option<ValidationReport>,
}

impl Reproof {
    fn new(event: &AuditEvent) -> Self {
        Reproof {
            verdict: Verdict::NothingToReprove,
            rpc: event.rpc.clone(),
            time: event.time,
            event_indication: event.indication.clone(),
            event_sub_indication: event.sub_indication.clone(),
            reproved_indication: None,
            reproved_sub_indication: None,
            reproved_reason: None,
            anchors: None,
            checks: Vec::new(),
            notes: Vec::new(),
            report: None,
        }
    }

    fn check(&mut self, name: impl Into<String>, passed: bool, detail: impl Into<String>) {
        self.checks.push(CheckLine { name: name.into(), passed, detail: detail.into() });
    }

    fn nothing(mut self, why: impl Into<String>) -> Self {
        self.verdict = Verdict::NothingToReprove;
        self.notes.push(why.into());
        self
    }

    /// 0 re-proved or nothing to re-prove, [`NOT_REPROVED`] otherwise.
    pub fn exit_code(&self) -> i32 {
        match self.verdict {
            Verdict::Reproved | Verdict::CertificateReproved | Verdict::NothingToReprove => 0,
            Verdict::Differs | Verdict::CheckFailed => NOT_REPROVED,
        }
    }
}

/// The certificate usage an rpc verifies, if any.
pub fn purpose_of_rpc(rpc: &str) -> Option<Purpose> {
    match rpc.rsplit('/').next() {
        Some("VerifySignature") => Some(Purpose::Signing),
        Some("VerifyAuthProof") => Some(Purpose::Authentication),
        _ => None,
    }
}

/// Sub-indications only a signature (or the tenant's policy) can produce: a valid certificate
/// alone is consistent with them.
const BEYOND_THE_CERTIFICATE: [&str; 5] = [
    "SIG_CRYPTO_FAILURE",
    "HASH_FAILURE",
    "SIGNED_DATA_NOT_FOUND",
    "NO_SIGNING_CERTIFICATE_FOUND",
    "SIG_CONSTRAINTS_FAILURE",
];

fn wire_name<T: Serialize>(value: &T) -> Option<String> {
    serde_json::to_value(value).ok().and_then(|value| value.as_str().map(str::to_owned))
}

/// The kind served anchors (which carry none) are taken as: the card kind the certificate's policy
/// names, else the card kind of the purpose; so a certificate of the wrong usage still fails as it
/// did at the gateway, but the policy check is not independent of the certificate.
fn served_kind(certificate: &[u8], purpose: Purpose) -> CertKind {
    let policies = ParsedCertificate::parse(certificate).map(|parsed| parsed.policies).unwrap_or_default();
    if policies.iter().any(|policy| policy == jpki::POLICY_AUTH_CARD) {
        CertKind::AuthCard
    } else if policies.iter().any(|policy| policy == jpki::POLICY_SIGNING_CARD) {
        CertKind::SigningCard
    } else {
        match purpose {
            Purpose::Signing => CertKind::SigningCard,
            Purpose::Authentication => CertKind::AuthCard,
        }
    }
}

/// The trust anchors of `files` (any kind: a list is checked against the key).
fn trust_anchors(files: &[AnchorFile]) -> anyhow::Result<Vec<TrustAnchor>> {
    let mut anchors = Vec::new();
    for file in files {
        let bytes = read(&file.path)?;
        let blocks = pem_blocks(&bytes, "CERTIFICATE")
            .map_err(|_| anyhow::anyhow!("{}: PEM file without a CERTIFICATE block", file.path.display()))?;
        for der in blocks {
            let anchor = TrustAnchor::from_der(file.kind, &der, &AlgorithmPolicy::default())
                .map_err(|error| anyhow::anyhow!("{}: unusable trust anchor: {error}", file.path.display()))?;
            anchors.push(anchor);
        }
    }
    Ok(anchors)
}

/// Re-proves the answer of the event in `evidence` (a directory as [`store_evidence`] writes it)
/// from its files alone, with the anchors of `anchors` (see [`EvidenceArgs::anchors`]) or else the
/// served ones.
///
/// # Errors
/// Unreadable files or directories, an event that is not a valid leaf, unusable anchors.
pub fn reprove(evidence: &Path, anchors: Option<&Path>) -> anyhow::Result<Reproof> {
    let leaf = read(&evidence.join(EVENT_FILE))?;
    let event = AuditEvent::from_leaf(&leaf).with_context(|| format!("{}", evidence.join(EVENT_FILE).display()))?;
    let mut reproof = Reproof::new(&event);
    let digest = event.digests.get("certificate_sha256");
    if event.certificate.is_none() && digest.is_none() {
        return Ok(reproof.nothing("the event names no certificate: there is nothing to re-prove"));
    }
    let Some(purpose) = purpose_of_rpc(&event.rpc) else {
        return Ok(reproof.nothing(format!("{} validates no certificate: there is nothing to re-prove", event.rpc)));
    };
    let certificate_path = evidence.join(CERTIFICATE_FILE);
    if !certificate_path.exists() {
        if event.indication.as_deref() == Some("TOTAL_PASSED") {
            reproof.verdict = Verdict::CheckFailed;
            reproof.check("certificate", false, "the event passed, yet the evidence holds no certificate");
            return Ok(reproof);
        }
        return Ok(reproof.nothing(
            "the evidence holds no certificate (the verification did not pass): there is nothing to re-prove",
        ));
    }
    let certificate = read(&certificate_path)?;

    // (a) The certificate is the one the event names.
    let found = sha256_hex(&certificate);
    match digest {
        Some(expected) if *expected == found => {
            reproof.check("certificate_sha256", true, format!("{found} as in the event"))
        }
        Some(expected) => {
            reproof.check("certificate_sha256", false, format!("{found}, the event names {expected}"));
        }
        None => reproof.check("certificate_sha256", false, format!("{found}; the event names no certificate_sha256")),
    }

    // The anchors.
    let mut config = TrustConfig::default();
    match anchors {
        Some(directory) => {
            crate::trust::add_anchor_dir(&mut config, directory)?;
            reproof.anchors = Some(format!("{} (the auditor's own)", directory.display()));
        }
        None => {
            let directory = evidence.join(SERVED_ANCHORS_DIR);
            let files = if directory.is_dir() { files_in(&directory)? } else { Vec::new() };
            let kind = served_kind(&certificate, purpose);
            config.anchors = files.into_iter().map(|path| AnchorFile { kind, path }).collect();
            reproof.anchors = Some(format!(
                "{} (served by the gateway: this shows the gateway consistent with itself, not with the CA's roots; \
                 pass --anchors with your own copy; taken as {kind})",
                directory.display()
            ));
        }
    }
    if config.anchors.is_empty() {
        bail!("no trust anchors: pass --anchors DIR2 (the evidence holds no served anchors)");
    }
    let trusted = trust_anchors(&config.anchors)?;
    let at = UnixTime(event.time);

    // (b) Each list the event names: its identity and its signature.
    for (i, relied) in event.revocation.iter().enumerate() {
        let name = format!("list {i} {}", relied.sha256);
        if relied.sha256.len() != 64 || !relied.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            reproof.check(name, false, "the event's digest is not 64 lowercase hex digits");
            continue;
        }
        let path = evidence.join(LISTS_DIR).join(format!("{}.crl", relied.sha256));
        if !path.exists() {
            reproof.check(name, false, format!("{}: not in the evidence", path.display()));
            continue;
        }
        let der = read(&path)?;
        let tbs = match parse_crl(&der, |_| Ok(())) {
            Ok(parsed) => sha256_hex(parsed.tbs),
            Err(error) => {
                reproof.check(name, false, format!("does not parse: {error}"));
                continue;
            }
        };
        if tbs != relied.sha256 {
            reproof.check(name, false, format!("tbsCertList SHA-256 is {tbs}, the event names {}", relied.sha256));
            continue;
        }
        match CompactList::from_der(&path.display().to_string(), &der, &trusted, at) {
            Ok(_) => {
                reproof.check(
                    name,
                    true,
                    format!(
                        "tbsCertList SHA-256 as in the event; signature verifies; {} number {}",
                        relied.scope,
                        relied.number.as_deref().unwrap_or("-")
                    ),
                );
                config.crls.push(path);
            }
            Err(error) => reproof.check(name, false, format!("refused against the anchors: {error}")),
        }
    }

    // (c) The certificate alone, at the event's time, with those anchors and lists.
    let loaded = config.load(at)?;
    reproof.notes.extend(loaded.skipped.iter().cloned());
    let report = loaded.verifier.validate_certificate(&certificate, purpose, at);
    reproof.reproved_indication = wire_name(&report.indication);
    reproof.reproved_sub_indication = report.sub_indication.as_ref().and_then(wire_name);
    reproof.reproved_reason = report.reason.as_ref().map(|reason| reason.code().to_owned());
    reproof.report = Some(report);

    // (d) The answer.
    let same =
        reproof.reproved_indication == event.indication && reproof.reproved_sub_indication == event.sub_indication;
    let beyond = event.sub_indication.as_deref().is_some_and(|sub| BEYOND_THE_CERTIFICATE.contains(&sub))
        && reproof.reproved_indication.as_deref() == Some("TOTAL_PASSED");
    let failed = reproof.checks.iter().any(|check| !check.passed);
    let answer = |indication: &Option<String>, sub: &Option<String>| {
        format!("{} / {}", or_dash(indication.as_deref()), or_dash(sub.as_deref()))
    };
    let detail = format!(
        "re-proved {} ({}), the event {}",
        answer(&reproof.reproved_indication, &reproof.reproved_sub_indication),
        or_dash(reproof.reproved_reason.as_deref()),
        answer(&event.indication, &event.sub_indication)
    );
    reproof.check("answer", same || beyond, detail);
    reproof.verdict = if failed {
        Verdict::CheckFailed
    } else if same {
        Verdict::Reproved
    } else if beyond {
        reproof.notes.push(format!(
            "the certificate is valid; the event's {} lies in the signature or the tenant's policy, which the \
             evidence does not hold",
            event.sub_indication.as_deref().unwrap_or_default()
        ));
        Verdict::CertificateReproved
    } else {
        Verdict::Differs
    };
    Ok(reproof)
}

fn or_dash(value: Option<&str>) -> &str {
    value.unwrap_or("-")
}

/// The text report.
pub fn reproof_text(index: u64, reproof: &Reproof) -> String {
    let mut out = String::new();
    let headline = match reproof.verdict {
        Verdict::Reproved => "RE-PROVED",
        Verdict::CertificateReproved => "CERTIFICATE RE-PROVED",
        Verdict::NothingToReprove => "NOTHING TO RE-PROVE",
        Verdict::Differs => "DIFFERS",
        Verdict::CheckFailed => "NOT RE-PROVED",
    };
    let time = crate::audit::time_text(Some(reproof.time));
    let _ = writeln!(out, "{headline}  event {index} ({}, {time})", reproof.rpc);
    let event = format!(
        "{} / {}",
        or_dash(reproof.event_indication.as_deref()),
        or_dash(reproof.event_sub_indication.as_deref())
    );
    let _ = writeln!(out, "  event answered    {event}");
    if reproof.reproved_indication.is_some() {
        let _ = writeln!(
            out,
            "  re-proved         {} / {} ({})",
            or_dash(reproof.reproved_indication.as_deref()),
            or_dash(reproof.reproved_sub_indication.as_deref()),
            or_dash(reproof.reproved_reason.as_deref())
        );
    }
    if let Some(anchors) = &reproof.anchors {
        let _ = writeln!(out, "  anchors           {anchors}");
    }
    if let Some(report) = &reproof.report {
        let checks: Vec<String> = report
            .checks
            .iter()
            .map(|outcome| {
                let name = wire_name(&outcome.check).unwrap_or_default();
                if outcome.passed { name } else { format!("{name} FAILED") }
            })
            .collect();
        let _ = writeln!(out, "  validated alone   {} at {time}", checks.join(", "));
    }
    for check in &reproof.checks {
        let mark = if check.passed { "ok  " } else { "FAIL" };
        let _ = writeln!(out, "  [{mark}] {}: {}", check.name, check.detail);
    }
    for note in &reproof.notes {
        let _ = writeln!(out, "  note: {note}");
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use jpki_audit::{CertRef, ListRelied};
    use jpki_testpki::{CertKind as PkiKind, TestPki};
    use jpki_testsupport::testing::{at, offset, pki, time};

    /// A g2 card holder and the test PKI.
    fn holder(pki: &TestPki) -> jpki_testpki::Holder {
        pki.holders()
            .iter()
            .find(|h| h.signing().kind() == PkiKind::SigningCard && h.signing().issuer_label().ends_with("g2"))
            .cloned()
            .unwrap()
    }

    /// The card anchors, named after their kind (what `--anchors` reads).
    fn anchors_dir(pki: &TestPki) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for ca in pki.cas().iter().filter(|ca| ca.is_anchor()) {
            if matches!(ca.kind(), PkiKind::SigningCard | PkiKind::AuthCard) {
                let kind = jpki_testsupport::core_kind(ca.kind());
                std::fs::write(dir.path().join(format!("{}-{}.der", kind.as_str(), ca.label())), ca.cert_der())
                    .unwrap();
            }
        }
        dir
    }

    fn served_anchors(pki: &TestPki) -> Vec<Vec<u8>> {
        pki.cas()
            .iter()
            .filter(|ca| ca.is_anchor() && matches!(ca.kind(), PkiKind::SigningCard | PkiKind::AuthCard))
            .map(|ca| ca.cert_der().to_vec())
            .collect()
    }

    /// A list of the signing card g2 CA, valid 2026-05-01 to 2026-07-01, with `entries`.
    fn list(pki: &TestPki, number: u64, entries: &[jpki_testpki::CrlEntry]) -> (String, Vec<u8>) {
        let ca = pki.ca(PkiKind::SigningCard, 2).unwrap();
        let der = ca
            .issue_crl(offset(time("2026-05-01T00:00:00Z")), offset(time("2026-07-01T00:00:00Z")), number, entries)
            .unwrap();
        let tbs = sha256_hex(parse_crl(&der, |_| Ok(())).unwrap().tbs);
        (tbs, der)
    }

    /// A VerifySignature event that passed on `certificate`, relying on the list `tbs`.
    fn event(certificate: &[u8], ca_key_id: &[u8], tbs: &str) -> AuditEvent {
        AuditEvent {
            time: at().0,
            tenant: "acme".into(),
            principal: "p".into(),
            credential: "k".into(),
            rpc: "/jpki.gateway.v1.GatewayService/VerifySignature".into(),
            request_id: "r".into(),
            indication: Some("TOTAL_PASSED".into()),
            certificate: Some(CertRef { ca_key_id: hex::encode(ca_key_id), serial: "01".into() }),
            digests: [("certificate_sha256".to_owned(), sha256_hex(certificate))].into_iter().collect(),
            revocation: vec![ListRelied {
                issuer_key_id: hex::encode(ca_key_id),
                scope: "base".into(),
                number: Some("1".into()),
                sha256: tbs.to_owned(),
            }],
            ..Default::default()
        }
    }

    fn served(
        event: &AuditEvent,
        certificate: &[u8],
        lists: &[(String, Vec<u8>)],
        anchors: Vec<Vec<u8>>,
    ) -> audit::Evidence {
        audit::Evidence {
            index: 3,
            leaf: String::from_utf8(event.leaf().unwrap()).unwrap(),
            certificate: certificate.to_vec(),
            lists: lists
                .iter()
                .map(|(tbs, der)| audit::EvidenceList { tbs_sha256: hex::decode(tbs).unwrap(), der: der.clone() })
                .collect(),
            anchors,
        }
    }

    struct Case {
        _dir: tempfile::TempDir,
        evidence: PathBuf,
        anchors: tempfile::TempDir,
    }

    /// Evidence of a passed signature stored as `audit evidence` stores it; `list_entries` are the
    /// entries of the list served (the event names that list).
    fn case(list_entries: &[jpki_testpki::CrlEntry], certificate: Option<&[u8]>) -> Case {
        let pki = pki();
        let holder = holder(&pki);
        let ca = pki.ca(PkiKind::SigningCard, 2).unwrap();
        let real = holder.signing().cert_der().to_vec();
        let (tbs, der) = list(&pki, 1, list_entries);
        let event = event(&real, ca.key_id(), &tbs);
        let dir = tempfile::tempdir().unwrap();
        let evidence = evidence_dir(dir.path(), 3);
        let served = served(&event, certificate.unwrap_or(&real), &[(tbs, der)], served_anchors(&pki));
        store_evidence(&evidence, 3, &served, None).unwrap();
        Case { _dir: dir, evidence, anchors: anchors_dir(&pki) }
    }

    #[test]
    fn a_good_certificate_and_list_re_prove_the_answer() {
        let case = case(&[], None);
        let reproof = reprove(&case.evidence, Some(case.anchors.path())).unwrap();
        assert_eq!(reproof.verdict, Verdict::Reproved, "{}", reproof_text(3, &reproof));
        assert_eq!(reproof.exit_code(), 0);
        let names: Vec<&str> = reproof.checks.iter().map(|check| check.name.as_str()).collect();
        assert_eq!(names[0], "certificate_sha256");
        assert!(names[1].starts_with("list 0 "));
        assert_eq!(names[2], "answer");
        assert_eq!(names.len(), 3);
        assert!(reproof.checks.iter().all(|check| check.passed));
        assert!(reproof.anchors.as_deref().unwrap().contains("auditor's own"));
        let report = reproof.report.as_ref().unwrap();
        assert_eq!(report.operation, jpki_core::report::Operation::Certificate);
        assert!(report.revocation.as_ref().unwrap().provenance.is_some());
        // With the anchors the gateway served, and it says so.
        let served = reprove(&case.evidence, None).unwrap();
        assert_eq!(served.verdict, Verdict::Reproved, "{}", reproof_text(3, &served));
        assert!(served.anchors.as_deref().unwrap().contains("served by the gateway"));
        let text = reproof_text(3, &served);
        assert!(text.starts_with("RE-PROVED") && text.contains("certificate_sha256"), "{text}");
        assert!(text.contains("2026-06-01T00:00:00Z") && text.contains("validated alone   format,"), "{text}");
    }

    #[test]
    fn a_list_revoking_the_certificate_differs_from_an_event_that_passed() {
        let pki = pki();
        let entry = holder(&pki).signing().crl_entry(offset(time("2026-05-10T00:00:00Z")));
        let case = case(&[entry], None);
        let reproof = reprove(&case.evidence, Some(case.anchors.path())).unwrap();
        assert_eq!(reproof.verdict, Verdict::Differs, "{}", reproof_text(3, &reproof));
        assert_eq!(reproof.exit_code(), NOT_REPROVED);
        assert_eq!(reproof.reproved_sub_indication.as_deref(), Some("REVOKED_NO_POE"));
        assert_eq!(reproof.reproved_reason.as_deref(), Some("REVOKED"));
        let answer = reproof.checks.last().unwrap();
        assert!(answer.name == "answer" && !answer.passed, "{answer:?}");
        assert!(reproof.checks[..2].iter().all(|check| check.passed));
        assert!(reproof_text(3, &reproof).starts_with("DIFFERS"));
    }

    #[test]
    fn a_tampered_list_fails() {
        let case = case(&[], None);
        let lists = case.evidence.join(LISTS_DIR);
        let path = files_in(&lists).unwrap().remove(0);
        let mut der = std::fs::read(&path).unwrap();
        // The signature's last byte: the tbsCertList (its digest) is unchanged, its signature not.
        let last = der.len() - 1;
        der[last] ^= 0x01;
        std::fs::write(&path, &der).unwrap();
        let reproof = reprove(&case.evidence, Some(case.anchors.path())).unwrap();
        assert_eq!(reproof.verdict, Verdict::CheckFailed, "{}", reproof_text(3, &reproof));
        assert!(!reproof.checks[1].passed && reproof.checks[1].detail.contains("refused"), "{:?}", reproof.checks);
        // A byte of the tbsCertList: its digest is not the event's.
        der[last] ^= 0x01;
        der[40] ^= 0x01;
        std::fs::write(&path, &der).unwrap();
        let reproof = reprove(&case.evidence, Some(case.anchors.path())).unwrap();
        assert_eq!(reproof.verdict, Verdict::CheckFailed);
        assert_eq!(reproof.exit_code(), NOT_REPROVED);
        // Gone altogether.
        std::fs::remove_file(&path).unwrap();
        let reproof = reprove(&case.evidence, Some(case.anchors.path())).unwrap();
        assert!(reproof.checks[1].detail.contains("not in the evidence"));
        assert_eq!(reproof.verdict, Verdict::CheckFailed);
    }

    #[test]
    fn a_wrong_certificate_is_a_digest_mismatch() {
        let pki = pki();
        let other = pki
            .holders()
            .iter()
            .map(|h| h.signing().cert_der().to_vec())
            .find(|der| *der != holder(&pki).signing().cert_der())
            .unwrap();
        let case = case(&[], Some(&other));
        let reproof = reprove(&case.evidence, Some(case.anchors.path())).unwrap();
        assert_eq!(reproof.verdict, Verdict::CheckFailed, "{}", reproof_text(3, &reproof));
        assert!(!reproof.checks[0].passed && reproof.checks[0].name == "certificate_sha256");
        assert!(reproof_text(3, &reproof).contains("[FAIL] certificate_sha256"));
    }

    #[test]
    fn events_without_a_certificate_have_nothing_to_re_prove() {
        let pki = pki();
        let mut challenge = event(b"", b"", "");
        challenge.rpc = "/jpki.gateway.v1.GatewayService/IssueChallenge".into();
        challenge.certificate = None;
        challenge.digests.clear();
        challenge.revocation.clear();
        challenge.indication = None;
        let dir = tempfile::tempdir().unwrap();
        store_evidence(dir.path(), 3, &served(&challenge, b"", &[], served_anchors(&pki)), None).unwrap();
        let reproof = reprove(dir.path(), None).unwrap();
        assert_eq!(reproof.verdict, Verdict::NothingToReprove);
        assert_eq!(reproof.exit_code(), 0);
        assert!(reproof_text(3, &reproof).starts_with("NOTHING TO RE-PROVE"));
    }

    #[test]
    fn the_served_event_must_be_the_pulled_one() {
        let pki = pki();
        let ca = pki.ca(PkiKind::SigningCard, 2).unwrap();
        let certificate = holder(&pki).signing().cert_der().to_vec();
        let (tbs, der) = list(&pki, 1, &[]);
        let pulled = event(&certificate, ca.key_id(), &tbs);
        let mut shown = pulled.clone();
        shown.indication = Some("TOTAL_FAILED".into());
        let dir = tempfile::tempdir().unwrap();
        let lists = [(tbs, der)];
        let error =
            store_evidence(dir.path(), 3, &served(&shown, &certificate, &lists, vec![]), Some(&pulled.leaf().unwrap()))
                .unwrap_err()
                .to_string();
        assert!(error.contains("different event"), "{error}");
        // The same event, or an expired one served empty: the pulled leaf is kept.
        let mut expired = served(&pulled, &certificate, &lists, vec![]);
        store_evidence(dir.path(), 3, &expired, Some(&pulled.leaf().unwrap())).unwrap();
        expired.leaf.clear();
        store_evidence(dir.path(), 3, &expired, Some(&pulled.leaf().unwrap())).unwrap();
        assert_eq!(std::fs::read(dir.path().join(EVENT_FILE)).unwrap(), pulled.leaf().unwrap());
        assert!(store_evidence(dir.path(), 3, &expired, None).unwrap_err().to_string().contains("expired"));
        assert!(store_evidence(dir.path(), 4, &expired, None).is_err());
        assert_eq!(tenant_of_origin("gw.example/tenant/acme").unwrap(), "acme");
        assert!(tenant_of_origin("acme").is_err());
        assert_eq!(purpose_of_rpc("/jpki.gateway.v1.GatewayService/VerifyAuthProof"), Some(Purpose::Authentication));
        assert_eq!(purpose_of_rpc("/jpki.gateway.v1.GatewayService/Link"), None);
    }
}
