//! `jpkictl admin …`: the operators' administration service (jpki.admin.v1.AdminService, on the
//! gateway's admin port), and `jpkictl api rotate-key|list-keys|revoke-key` (any principal's own
//! keys). docs/tenancy.md walks through onboarding, rotation and suspension.
//!
//! Output: the answer as text (indented JSON of the message), or one JSON line with `--json`.
//! `issue-key` and `rotate-key` print the new key once: store it, it is not shown again. Exit
//! code 0, or 3 for a gRPC error (printed with its code and violations) or an unreachable gateway.

use jpki_api::admin::v1 as admin;
use jpki_api::v1;

use crate::api::Connection;
use crate::api::client::Rpc;
use crate::api::output::{print_json, to_json};

/// `admin` options and subcommand.
#[derive(clap::Args, Debug)]
pub struct AdminArgs {
    /// The admin port and an operator's key (`--gateway http://127.0.0.1:50052 --api-key …`).
    #[command(flatten)]
    pub connection: Connection,
    /// The action.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// A tenant's policy on the command line; an empty list allows nothing (deny by default).
#[derive(clap::Args, Debug, Clone)]
pub struct PolicyArgs {
    /// Four fields it may receive: name, date_of_birth, address, sex (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub four_fields: Vec<String>,
    /// RPCs it may call: VerifySignature, IssueChallenge, VerifyAuthProof, Link, Unlink,
    /// LookupLink, CheckStatus, WatchRevocations; or `all`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub rpcs: Vec<String>,
    /// Certificate kinds: signing_card, auth_card, signing_phone, auth_phone; or `all`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub certificate_kinds: Vec<String>,
    /// Business purposes: account_opening, login, remittance, periodic_reverification; or `all`.
    #[arg(long, value_delimiter = ',', required = true)]
    pub business_purposes: Vec<String>,
    /// Calls per second on each replica (0: the default).
    #[arg(long, default_value_t = 0)]
    pub requests_per_second: u32,
    /// Burst above the rate (0: the default).
    #[arg(long, default_value_t = 0)]
    pub burst: u32,
    /// Calls in progress at once (0: the default).
    #[arg(long, default_value_t = 0)]
    pub max_concurrent: u32,
}

fn expand(names: &[String], all: &[&str]) -> Vec<String> {
    if names.iter().any(|name| name == "all") {
        all.iter().map(|name| (*name).to_owned()).collect()
    } else {
        names.to_vec()
    }
}

impl PolicyArgs {
    fn policy(&self) -> admin::TenantPolicy {
        use jpki_app::tenant::{BusinessPurpose, TenantRpc};
        let rpcs: Vec<&str> = TenantRpc::ALL.iter().map(|rpc| rpc.name()).collect();
        let kinds: Vec<&str> = jpki_core::CertKind::ALL.iter().map(|kind| kind.as_str()).collect();
        let purposes: Vec<&str> = BusinessPurpose::ALL.iter().map(|purpose| purpose.name()).collect();
        admin::TenantPolicy {
            four_fields: expand(&self.four_fields, &jpki_app::tenant::FOUR_FIELDS),
            rpcs: expand(&self.rpcs, &rpcs),
            certificate_kinds: expand(&self.certificate_kinds, &kinds),
            business_purposes: expand(&self.business_purposes, &purposes),
            requests_per_second: self.requests_per_second,
            burst: self.burst,
            max_concurrent: self.max_concurrent,
        }
    }
}

/// One subcommand per administrative RPC.
#[derive(clap::Subcommand, Debug)]
pub enum AdminCommand {
    /// Creates a tenant (no key yet: issue-key).
    CreateTenant {
        /// 1 to 64 of A-Z a-z 0-9 _ . -
        id: String,
        /// Its policy.
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Replaces a tenant's policy (not for tenants of the configuration file).
    UpdatePolicy {
        /// The tenant.
        id: String,
        /// Its new policy.
        #[command(flatten)]
        policy: PolicyArgs,
    },
    /// Creates an auditor or an operator.
    CreatePrincipal {
        /// Its id.
        id: String,
        /// auditor or operator.
        #[arg(long)]
        role: String,
        /// An auditor's tenants (comma-separated).
        #[arg(long, value_delimiter = ',')]
        auditor_of: Vec<String>,
    },
    /// Pins (or clears, with no --spki-sha256) a principal's client certificate for mTLS.
    SetClientCertificate {
        /// The principal.
        id: String,
        /// SHA-256 of the certificate's SubjectPublicKeyInfo, 64 hex digits
        /// (`openssl x509 -pubkey -noout -in c.crt | openssl pkey -pubin -outform der | sha256sum`).
        #[arg(long, default_value = "")]
        spki_sha256: String,
        /// Refuse the principal's calls without that certificate.
        #[arg(long)]
        required: bool,
    },
    /// Suspends a principal: its keys are refused and a tenant's watch streams end.
    Suspend {
        /// The principal.
        id: String,
    },
    /// Resumes a suspended principal.
    Resume {
        /// The principal.
        id: String,
    },
    /// Offboards a principal for good (keys revoked; data kept as retention requires).
    Offboard {
        /// The principal.
        id: String,
    },
    /// Shows one principal.
    Get {
        /// The principal.
        id: String,
    },
    /// Lists every principal.
    List,
    /// Issues an API key for a principal (printed once).
    IssueKey {
        /// The principal.
        principal: String,
        /// Lifetime in seconds (0: no expiry).
        #[arg(long, default_value_t = 0)]
        expires_in_seconds: u32,
        /// A note for people.
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Revokes an API key at once.
    RevokeKey {
        /// The key id (the part after `jpkigw_`, before the second `_`).
        key_id: String,
    },
    /// Lists a principal's keys.
    ListKeys {
        /// The principal.
        principal: String,
    },
    /// The platform log (who did what, when), oldest first.
    Log {
        /// Entries after this sequence.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many (at most 1000).
        #[arg(long, default_value_t = 100)]
        limit: u32,
    },
}

fn show<M: prost::Message>(json: bool, message: &M, full_name: &str) -> anyhow::Result<()> {
    let value = to_json(message, full_name)?;
    if json {
        print_json(&value);
    } else {
        println!("{}", serde_json::to_string_pretty(&value)?);
    }
    Ok(())
}

/// Prints a new key: on its own line first, so that scripts can take it with `head -1`.
fn show_key(json: bool, key: &str, info: Option<&v1::ApiKeyInfo>) -> anyhow::Result<()> {
    if json {
        let mut value = serde_json::json!({ "api_key": key });
        if let Some(info) = info {
            value["info"] = to_json(info, "jpki.gateway.v1.ApiKeyInfo")?;
        }
        print_json(&value);
        return Ok(());
    }
    println!("{key}");
    if let Some(info) = info {
        eprintln!("key id {} for {} (shown once: store it now)", info.key_id, info.principal);
    }
    Ok(())
}

/// Runs one `admin` subcommand; returns the exit code.
pub fn run(args: &AdminArgs) -> anyhow::Result<i32> {
    crate::block_on(async {
        let json = args.connection.json;
        let gateway = args.connection.connect().await?;
        let mut client = gateway.admin();
        let principal = "jpki.admin.v1.Principal";
        match &args.command {
            AdminCommand::CreateTenant { id, policy } => {
                let request = admin::CreateTenantRequest { id: id.clone(), policy: Some(policy.policy()) };
                show(json, &client.create_tenant(request).await.rpc()?, principal)?;
            }
            AdminCommand::UpdatePolicy { id, policy } => {
                let request = admin::UpdateTenantPolicyRequest { id: id.clone(), policy: Some(policy.policy()) };
                show(json, &client.update_tenant_policy(request).await.rpc()?, principal)?;
            }
            AdminCommand::CreatePrincipal { id, role, auditor_of } => {
                let request = admin::CreatePrincipalRequest {
                    id: id.clone(),
                    role: role.clone(),
                    auditor_of: auditor_of.clone(),
                };
                show(json, &client.create_principal(request).await.rpc()?, principal)?;
            }
            AdminCommand::SetClientCertificate { id, spki_sha256, required } => {
                let request = admin::SetClientCertificateRequest {
                    id: id.clone(),
                    spki_sha256: spki_sha256.clone(),
                    required: *required,
                };
                show(json, &client.set_client_certificate(request).await.rpc()?, principal)?;
            }
            AdminCommand::Suspend { id } => {
                show(json, &client.suspend_principal(admin::PrincipalRef { id: id.clone() }).await.rpc()?, principal)?;
            }
            AdminCommand::Resume { id } => {
                show(json, &client.resume_principal(admin::PrincipalRef { id: id.clone() }).await.rpc()?, principal)?;
            }
            AdminCommand::Offboard { id } => {
                show(json, &client.offboard_principal(admin::PrincipalRef { id: id.clone() }).await.rpc()?, principal)?;
            }
            AdminCommand::Get { id } => {
                show(json, &client.get_principal(admin::PrincipalRef { id: id.clone() }).await.rpc()?, principal)?;
            }
            AdminCommand::List => {
                let listed = client.list_principals(admin::ListPrincipalsRequest {}).await.rpc()?;
                show(json, &listed, "jpki.admin.v1.ListPrincipalsResponse")?;
            }
            AdminCommand::IssueKey { principal: id, expires_in_seconds, label } => {
                let request = admin::IssueApiKeyRequest {
                    principal: id.clone(),
                    expires_in_seconds: *expires_in_seconds,
                    label: label.clone(),
                };
                let issued = client.issue_api_key(request).await.rpc()?;
                show_key(json, &issued.api_key, issued.info.as_ref())?;
            }
            AdminCommand::RevokeKey { key_id } => {
                let revoked =
                    client.revoke_api_key(admin::RevokeApiKeyRequest { key_id: key_id.clone() }).await.rpc()?;
                show(json, &revoked, "jpki.gateway.v1.ApiKeyInfo")?;
            }
            AdminCommand::ListKeys { principal: id } => {
                let keys = client.list_api_keys(admin::PrincipalRef { id: id.clone() }).await.rpc()?;
                show(json, &keys, "jpki.admin.v1.ListApiKeysResponse")?;
            }
            AdminCommand::Log { after, limit } => {
                let request = admin::ListPlatformLogRequest { after: *after, limit: *limit };
                for entry in client.list_platform_log(request).await.rpc()?.entries {
                    println!("{} {}", entry.sequence, entry.entry_json);
                }
            }
        }
        Ok(0)
    })
}

/// `api rotate-key`: a new key for the caller; its other keys expire after the overlap.
#[derive(clap::Args, Debug)]
pub struct RotateKeyArgs {
    /// How long the caller's other keys keep working, in seconds (at most 30 days).
    #[arg(long, default_value_t = 3600)]
    pub overlap_seconds: u32,
    /// The new key's lifetime in seconds (0: no expiry).
    #[arg(long, default_value_t = 0)]
    pub expires_in_seconds: u32,
    /// A note for people.
    #[arg(long, default_value = "")]
    pub label: String,
}

/// `api revoke-key`: revokes one of the caller's keys.
#[derive(clap::Args, Debug)]
pub struct RevokeKeyArgs {
    /// The key id.
    pub key_id: String,
}

/// `api rotate-key`.
pub async fn rotate_key(connection: &Connection, args: &RotateKeyArgs) -> anyhow::Result<i32> {
    let gateway = connection.connect().await?;
    let request = v1::RotateApiKeyRequest {
        overlap_seconds: args.overlap_seconds,
        expires_in_seconds: args.expires_in_seconds,
        label: args.label.clone(),
    };
    let rotated = gateway.credentials().rotate_api_key(request).await.rpc()?;
    show_key(connection.json, &rotated.api_key, rotated.info.as_ref())?;
    Ok(0)
}

/// `api list-keys`.
pub async fn list_keys(connection: &Connection) -> anyhow::Result<i32> {
    let gateway = connection.connect().await?;
    let keys = gateway.credentials().list_api_keys(v1::ListApiKeysRequest {}).await.rpc()?;
    show(connection.json, &keys, "jpki.gateway.v1.ListApiKeysResponse")?;
    Ok(0)
}

/// `api revoke-key`.
pub async fn revoke_key(connection: &Connection, args: &RevokeKeyArgs) -> anyhow::Result<i32> {
    let gateway = connection.connect().await?;
    let revoked =
        gateway.credentials().revoke_api_key(v1::RevokeApiKeyRequest { key_id: args.key_id.clone() }).await.rpc()?;
    show(connection.json, &revoked, "jpki.gateway.v1.ApiKeyInfo")?;
    Ok(0)
}
