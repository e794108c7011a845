//! `jpkictl api …`: a client for every RPC of the gateway's tenant API (proto/jpki/gateway/v1).
//!
//! Exit codes: verifications 0 TOTAL_PASSED, 1 TOTAL_FAILED, 2 INDETERMINATE; 3 for a gRPC error
//! (printed with its code, message and every field or precondition violation), an unreachable
//! gateway or bad input; `check-status`, `watch-revocations` and `health` document their own.

pub mod client;
mod links;
pub mod output;
mod status;
mod verification;

pub use client::Connection;
pub use status::wait_until_serving;

/// `api` options and subcommand.
#[derive(clap::Args, Debug)]
pub struct ApiArgs {
    /// Gateway and caller.
    #[command(flatten)]
    pub connection: Connection,
    /// The RPC.
    #[command(subcommand)]
    pub command: ApiCommand,
}

/// One subcommand per RPC.
#[derive(clap::Subcommand, Debug)]
pub enum ApiCommand {
    /// VerifySignature: a document signature (本人確認), optionally compared with the applicant's data.
    VerifySignature(verification::VerifySignatureArgs),
    /// IssueChallenge: a fresh single-use challenge for a login (資格確認).
    IssueChallenge(verification::IssueChallengeArgs),
    /// VerifyAuthProof: the card's proof over an issued challenge; names the linked customer.
    VerifyAuthProof(verification::VerifyAuthProofArgs),
    /// Link: a customer id to the certificate of a successful verify-auth-proof (※3).
    Link(links::LinkArgs),
    /// Unlink: remove a customer's links (all, or one certificate's).
    Unlink(links::UnlinkArgs),
    /// LookupLink: the links of a customer id or of a certificate.
    LookupLink(links::LookupLinkArgs),
    /// CheckStatus: the revocation status of certificates now. Exit code: 0 all good, 1 any
    /// revoked, 2 any unknown.
    CheckStatus(status::CheckStatusArgs),
    /// WatchRevocations: revocation events of your linked and verified certificates, as they come.
    /// Exit code: 0 when --count events arrived, 4 when --timeout-seconds ran out first.
    WatchRevocations(status::WatchArgs),
    /// Health: grpc.health.v1 Check. Exit code: 0 SERVING, 1 otherwise.
    Health(status::HealthArgs),
    /// RotateApiKey: a new key for you (printed once); your other keys expire after the overlap.
    RotateKey(crate::admin::RotateKeyArgs),
    /// ListApiKeys: your keys (never the secrets).
    ListKeys,
    /// RevokeApiKey: revokes one of your keys at once.
    RevokeKey(crate::admin::RevokeKeyArgs),
}

/// Runs one `api` subcommand; returns the exit code.
pub fn run(args: &ApiArgs) -> anyhow::Result<i32> {
    crate::block_on(async {
        // Each subcommand reads its files before it connects, so that a bad input is named first.
        let connection = &args.connection;
        match &args.command {
            ApiCommand::VerifySignature(command) => verification::verify_signature(connection, command).await,
            ApiCommand::IssueChallenge(command) => verification::issue_challenge(connection, command).await,
            ApiCommand::VerifyAuthProof(command) => verification::verify_auth_proof(connection, command).await,
            ApiCommand::Link(command) => links::link(connection, command).await,
            ApiCommand::Unlink(command) => links::unlink(connection, command).await,
            ApiCommand::LookupLink(command) => links::lookup_link(connection, command).await,
            ApiCommand::CheckStatus(command) => status::check_status(connection, command).await,
            ApiCommand::WatchRevocations(command) => status::watch_revocations(connection, command).await,
            ApiCommand::Health(command) => status::health(connection, command).await,
            ApiCommand::RotateKey(command) => crate::admin::rotate_key(connection, command).await,
            ApiCommand::ListKeys => crate::admin::list_keys(connection).await,
            ApiCommand::RevokeKey(command) => crate::admin::revoke_key(connection, command).await,
        }
    })
}
