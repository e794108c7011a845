//! StatusService (`check-status`, `watch-revocations`) and grpc.health.v1 (`health`).

use std::fmt::Write;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use jpki_api::v1::{
    BusinessMeaning, CertificateId, CertificateKind, CheckStatusRequest, RevocationChange, RevocationEvent,
    RevocationStatus, WatchRevocationsRequest,
};
use jpki_core::CertId;
use jpki_core::cert::ParsedCertificate;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;

use super::client::{Connection, Rpc, RpcError};
use super::output::{answer, certificate_id, enum_name, print_json, reason_text, revocation_text, timestamp, to_json};
use crate::trust::read_certificate;

/// `api check-status`. Exit code: 0 every certificate good, 1 one or more revoked, 2 none revoked
/// but one or more unknown (retry later).
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("what").required(true).multiple(true).args(["id", "certificate"]))]
pub struct CheckStatusArgs {
    /// A certificate identity, CAKEYID:SERIAL (hex, as the API prints it). Repeatable.
    #[arg(long, value_name = "CAKEYID:SERIAL")]
    pub id: Vec<String>,
    /// A certificate file (PEM or DER); its identity is its authorityKeyIdentifier and serial. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub certificate: Vec<PathBuf>,
}

/// `api watch-revocations`. Exit code: 0 when --count events arrived (or, without --count, when
/// --timeout-seconds passed or the gateway ended the stream); 4 when the time ran out or the
/// stream ended before --count events; 3 on an error.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// Resume after this cursor (from a previous event); 0 for every stored event; default: new
    /// events only.
    #[arg(long, value_name = "CURSOR", default_value = "")]
    pub cursor: String,
    /// Stop after this many events.
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "S")]
    pub timeout_seconds: Option<u64>,
}

/// `api health`. Exit code: 0 SERVING, 1 any other status.
#[derive(clap::Args, Debug)]
pub struct HealthArgs {
    /// Service name, e.g. jpki.gateway.v1.VerificationService (default: the server as a whole).
    #[arg(long, value_name = "NAME", default_value = "")]
    pub service: String,
}

/// Exit code of watch-revocations when it stopped before --count events.
pub const WATCH_INCOMPLETE: i32 = 4;

/// A certificate's identity as the API names it: the issuing key (the certificate's
/// authorityKeyIdentifier, which is the anchor's subjectKeyIdentifier) and the serial.
fn id_of_certificate(path: &std::path::Path) -> anyhow::Result<CertificateId> {
    let der = read_certificate(path)?;
    let parsed = ParsedCertificate::parse(&der)
        .map_err(|reason| anyhow::anyhow!("{}: not a certificate ({})", path.display(), reason.code()))?;
    let key_id = parsed
        .authority_key_id
        .as_deref()
        .with_context(|| format!("{}: no authorityKeyIdentifier: give --id CAKEYID:SERIAL", path.display()))?;
    let CertId { ca_key_id, serial } = CertId::new(key_id, &parsed.serial);
    Ok(CertificateId { ca_key_id, serial })
}

/// CheckStatus.
pub async fn check_status(connection: &Connection, args: &CheckStatusArgs) -> anyhow::Result<i32> {
    let json = connection.json;
    let mut certificates = Vec::new();
    for id in &args.id {
        let (ca_key_id, serial) = id.split_once(':').with_context(|| format!("--id {id}: expected CAKEYID:SERIAL"))?;
        certificates.push(CertificateId { ca_key_id: ca_key_id.to_owned(), serial: serial.to_owned() });
    }
    for path in &args.certificate {
        certificates.push(id_of_certificate(path)?);
    }
    let gateway = connection.connect().await?;
    let response = gateway.status().check_status(CheckStatusRequest { certificates }).await.rpc()?;
    let value = to_json(&response, "jpki.gateway.v1.CheckStatusResponse")?;
    let mut text = String::new();
    let (mut revoked, mut unknown) = (false, false);
    for status in &response.statuses {
        let facts = status.revocation.clone().unwrap_or_default();
        revoked |= facts.status() == RevocationStatus::Revoked;
        unknown |= !matches!(facts.status(), RevocationStatus::Revoked | RevocationStatus::Good);
        revocation_text(&mut text, &format!("{}  ", certificate_id(status.certificate.as_ref())), &facts);
    }
    answer(json, &value, &text, None)?;
    Ok(if revoked {
        1
    } else if unknown {
        2
    } else {
        0
    })
}

fn event_text(event: &RevocationEvent) -> String {
    let change = match event.change() {
        RevocationChange::Held => format!("held since {}", timestamp(event.revoked_at.as_ref())),
        RevocationChange::Released => format!("released by the list of {}", timestamp(event.revoked_at.as_ref())),
        RevocationChange::Revoked | RevocationChange::Unspecified => {
            format!("revoked at {}", timestamp(event.revoked_at.as_ref()))
        }
    };
    let mut text = format!(
        "cursor {}  {}  {change}  reason {}  {}",
        event.cursor,
        certificate_id(event.certificate.as_ref()),
        reason_text(event.reason),
        enum_name(event.meaning, BusinessMeaning::as_str_name),
    );
    let customer = if event.customer_id.is_empty() { "no customer linked" } else { event.customer_id.as_str() };
    let _ = write!(text, "  customer {customer}  {}", enum_name(event.kind, CertificateKind::as_str_name));
    if !event.crl_number.is_empty() {
        let _ = write!(text, "  CRL #{}", event.crl_number);
    }
    text
}

/// WatchRevocations: prints each event as it arrives (one JSON document per line with --json).
pub async fn watch_revocations(connection: &Connection, args: &WatchArgs) -> anyhow::Result<i32> {
    let json = connection.json;
    let wanted = args.count;
    let gateway = connection.connect().await?;
    let watch = async {
        let request = WatchRevocationsRequest { cursor: args.cursor.clone() };
        let mut stream = gateway.status().watch_revocations(request).await.rpc()?;
        let mut received = 0u64;
        while wanted.is_none_or(|wanted| received < wanted) {
            match stream.message().await {
                Ok(Some(event)) => {
                    received += 1;
                    if json {
                        print_json(&to_json(&event, "jpki.gateway.v1.RevocationEvent")?);
                    } else {
                        println!("{}", event_text(&event));
                    }
                }
                Ok(None) => break,
                Err(status) => return Err(anyhow::Error::new(RpcError(status))),
            }
        }
        anyhow::Ok(received)
    };
    let received = match args.timeout_seconds {
        Some(seconds) => match tokio::time::timeout(Duration::from_secs(seconds), watch).await {
            Ok(received) => Some(received?),
            Err(_elapsed) => None,
        },
        None => Some(watch.await?),
    };
    let complete = match (received, wanted) {
        (Some(received), Some(wanted)) => received >= wanted,
        (_, None) => true,
        (None, Some(_)) => false,
    };
    if complete {
        Ok(0)
    } else {
        eprintln!("jpkictl: stopped before {} event(s) arrived", wanted.unwrap_or_default());
        Ok(WATCH_INCOMPLETE)
    }
}

/// Waits until the plaintext gateway at `url` reports SERVING (every list loaded).
pub async fn wait_until_serving(url: &str, timeout: Duration) -> anyhow::Result<()> {
    let connection =
        Connection { gateway: url.to_owned(), ca_cert: None, tls_domain: None, api_key: None, json: false };
    let deadline = tokio::time::Instant::now() + timeout;
    let gateway = connection.connect().await?;
    loop {
        let answer = gateway.health().check(HealthCheckRequest::default()).await.rpc();
        if answer.is_ok_and(|answer| answer.status == ServingStatus::Serving as i32) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            anyhow::bail!("the gateway at {url} did not report SERVING within {} s", timeout.as_secs());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// grpc.health.v1.Health/Check.
pub async fn health(connection: &Connection, args: &HealthArgs) -> anyhow::Result<i32> {
    let json = connection.json;
    let gateway = connection.connect().await?;
    let response = gateway.health().check(HealthCheckRequest { service: args.service.clone() }).await.rpc()?;
    let value = to_json(&response, "grpc.health.v1.HealthCheckResponse")?;
    let status = enum_name(response.status, ServingStatus::as_str_name);
    let service = if args.service.is_empty() { "(server)" } else { args.service.as_str() };
    answer(json, &value, &format!("{service}: {status}\n"), None)?;
    Ok(if response.status == ServingStatus::Serving as i32 { 0 } else { 1 })
}
