//! LinkService: `link`, `unlink` and `lookup-link` (※3: customer id ↔ authentication certificate).

use std::fmt::Write;
use std::path::PathBuf;

use jpki_api::v1::{CertificateId, LinkRequest, LookupLinkRequest, UnlinkRequest, lookup_link_request};

use super::client::{Connection, Rpc};
use super::output::{answer, certificate_id, saved_string, timestamp, to_json};

/// `api link`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("auth").required(true).args(["auth_verification", "auth_verification_id"]))]
pub struct LinkArgs {
    /// Your customer id.
    #[arg(long, value_name = "ID")]
    pub customer_id: String,
    /// The JSON saved by `api verify-auth-proof --save` (its result.verification_id).
    #[arg(long, value_name = "FILE")]
    pub auth_verification: Option<PathBuf>,
    /// The verification id of a successful verify-auth-proof.
    #[arg(long, value_name = "ID")]
    pub auth_verification_id: Option<String>,
    /// The JSON saved by `api verify-signature --save` of the same account opening.
    #[arg(long, value_name = "FILE", conflicts_with = "signature_verification_id")]
    pub signature_verification: Option<PathBuf>,
    /// The verification id of the account opening's verify-signature.
    #[arg(long, value_name = "ID")]
    pub signature_verification_id: Option<String>,
}

/// A certificate given as its identity.
#[derive(clap::Args, Debug)]
pub struct CertificateArgs {
    /// Issuing CA key identifier, hex (with --serial).
    #[arg(long, value_name = "HEX", requires = "serial")]
    pub ca_key_id: Option<String>,
    /// Serial number, hex (with --ca-key-id).
    #[arg(long, value_name = "HEX", requires = "ca_key_id")]
    pub serial: Option<String>,
}

impl CertificateArgs {
    fn id(&self) -> Option<CertificateId> {
        match (&self.ca_key_id, &self.serial) {
            (Some(ca_key_id), Some(serial)) => {
                Some(CertificateId { ca_key_id: ca_key_id.clone(), serial: serial.clone() })
            }
            _ => None,
        }
    }
}

/// `api unlink`.
#[derive(clap::Args, Debug)]
pub struct UnlinkArgs {
    /// Your customer id.
    #[arg(long, value_name = "ID")]
    pub customer_id: String,
    /// Only this certificate (default: every certificate of the customer).
    #[command(flatten)]
    pub certificate: CertificateArgs,
}

/// `api lookup-link`.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("key").required(true).args(["customer_id", "ca_key_id"]))]
pub struct LookupLinkArgs {
    /// A customer id.
    #[arg(long, value_name = "ID")]
    pub customer_id: Option<String>,
    /// Or a certificate.
    #[command(flatten)]
    pub certificate: CertificateArgs,
}

const VERIFICATION_ID: &str = "/result/verification_id";

/// Link.
pub async fn link(connection: &Connection, args: &LinkArgs) -> anyhow::Result<i32> {
    let json = connection.json;
    let auth_verification_id = match (&args.auth_verification, &args.auth_verification_id) {
        (Some(path), _) => saved_string(path, VERIFICATION_ID, "`jpkictl api verify-auth-proof --save`")?,
        (None, Some(id)) => id.clone(),
        (None, None) => anyhow::bail!("give --auth-verification FILE or --auth-verification-id ID"),
    };
    let signature_verification_id = match (&args.signature_verification, &args.signature_verification_id) {
        (Some(path), _) => saved_string(path, VERIFICATION_ID, "`jpkictl api verify-signature --save`")?,
        (None, Some(id)) => id.clone(),
        (None, None) => String::new(),
    };
    let request =
        LinkRequest { customer_id: args.customer_id.clone(), auth_verification_id, signature_verification_id };
    let gateway = connection.connect().await?;
    let response = gateway.links().link(request).await.rpc()?;
    let value = to_json(&response, "jpki.gateway.v1.LinkResponse")?;
    let what = if response.created { "linked" } else { "already linked (nothing changed)" };
    let text = format!(
        "{what}: customer {} to certificate {} (notAfter {})\n",
        args.customer_id,
        certificate_id(response.certificate.as_ref()),
        timestamp(response.not_after.as_ref())
    );
    answer(json, &value, &text, None)?;
    Ok(0)
}

/// Unlink.
pub async fn unlink(connection: &Connection, args: &UnlinkArgs) -> anyhow::Result<i32> {
    let json = connection.json;
    let request = UnlinkRequest { customer_id: args.customer_id.clone(), certificate: args.certificate.id() };
    let gateway = connection.connect().await?;
    let response = gateway.links().unlink(request).await.rpc()?;
    let value = to_json(&response, "jpki.gateway.v1.UnlinkResponse")?;
    let text = format!("removed {} link(s) of customer {}\n", response.removed, args.customer_id);
    answer(json, &value, &text, None)?;
    Ok(0)
}

/// LookupLink.
pub async fn lookup_link(connection: &Connection, args: &LookupLinkArgs) -> anyhow::Result<i32> {
    let json = connection.json;
    let key = match (&args.customer_id, args.certificate.id()) {
        (Some(customer), _) => lookup_link_request::Key::CustomerId(customer.clone()),
        (None, Some(id)) => lookup_link_request::Key::Certificate(id),
        (None, None) => anyhow::bail!("give --customer-id ID or --ca-key-id HEX --serial HEX"),
    };
    let gateway = connection.connect().await?;
    let response = gateway.links().lookup_link(LookupLinkRequest { key: Some(key) }).await.rpc()?;
    let value = to_json(&response, "jpki.gateway.v1.LookupLinkResponse")?;
    let mut text = String::new();
    if response.links.is_empty() {
        text.push_str("no link found\n");
    }
    for link in &response.links {
        let _ = writeln!(
            text,
            "customer {}  certificate {}  notAfter {}  linked at {}",
            link.customer_id,
            certificate_id(link.certificate.as_ref()),
            timestamp(link.not_after.as_ref()),
            timestamp(link.linked_at.as_ref())
        );
    }
    answer(json, &value, &text, None)?;
    Ok(0)
}
