//! jpkictl: a client for every gateway RPC, offline verification, the test PKI and card simulator,
//! the CA simulator and its admin client, and the demo.
//!
//! An auditor's copy of a tenant's transparency log (`jpkictl audit`, module `audit`):
//!
//! ```text
//! jpkictl audit pull   --tenant T --dir D [--accept-new-keys]   # + --gateway/--api-key/--ca-cert/--tls-domain
//! jpkictl audit verify --dir D                                  # offline; exit 1 when D does not verify
//! jpkictl audit proof  --tenant T --index N [--dir D]           # inclusion of event N (D: its pinned checkpoint)
//! jpkictl audit show   --dir D [--index N]                      # offline, events as pretty JSON
//! jpkictl audit evidence N --dir D [--anchors A] [--offline]    # fetch event N's evidence, re-prove it offline
//! ```
//!
//! `pull` verifies D first (refusing a D that does not verify), then takes a fresh checkpoint only
//! if a key pinned in D/keys.vkey signed it (or `--accept-new-keys`) and, against D's newest
//! checkpoint, the log neither shrank nor forked (RFC 9162 consistency proof); only then does it
//! fetch the missing events and write D. `--json` prints one JSON object instead of text.

/// mimalloc instead of glibc's malloc: the server allocates and frees many small buffers per call
/// (HTTP/2 frames, protobuf messages, JSON); glibc's malloc and free took about a tenth of its CPU
/// in a profile under load (docs/performance.md, "Cutting the server's cost per call").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod admin;
mod api;
mod audit;
mod caadmin;
mod casim;
mod crl;
mod demo;
mod evidence;
mod render;
mod store;
mod testpki;
mod trust;
mod verify;

use clap::{Parser, Subcommand};

/// jpki-gateway command-line tool.
#[derive(Parser, Debug)]
#[command(name = "jpkictl", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Verify a signature or an authentication proof offline, exactly as the gateway does.
    /// Exit code: 0 TOTAL_PASSED, 1 TOTAL_FAILED, 2 INDETERMINATE, 3 bad input or configuration.
    #[command(subcommand)]
    Verify(VerifyCommand),
    /// The test PKI and card simulator.
    #[command(subcommand)]
    Testpki(testpki::TestPkiCommand),
    /// Walk through account opening and login end to end on a generated test PKI.
    Demo(demo::DemoArgs),
    /// Run the CA simulator: serve the test PKI's CRLs over HTTP, revoke on request, misbehave on demand.
    CaSim(casim::CaSimArgs),
    /// Call the gateway's tenant API: one subcommand per RPC.
    Api(api::ApiArgs),
    /// Administer the gateway's principals on its admin port (an operator's key): onboard,
    /// policy, suspend, resume, offboard, keys, the platform log.
    Admin(admin::AdminArgs),
    /// An auditor's copy of a tenant's transparency log: pull (checked against the pinned
    /// checkpoint and keys), verify offline, prove one event, show events.
    Audit(audit::AuditArgs),
    /// Administer a running CA simulator: revoke, unrevoke, publish, stats.
    CaAdmin(caadmin::CaAdminArgs),
    /// Inspect a revocation list or look a serial up in it, exactly as the gateway loads it.
    #[command(subcommand)]
    Crl(crl::CrlCommand),
    /// Maintain a stopped single-node gateway's store (move a redb store into a journal).
    #[command(subcommand)]
    Store(store::StoreCommand),
}

#[derive(Subcommand, Debug)]
enum VerifyCommand {
    /// A document signature (電子署名): raw PKCS#1 v1.5 or CMS SignedData.
    Signature(verify::SignatureArgs),
    /// A user-authentication proof (電子利用者証明) over a challenge.
    Auth(verify::AuthArgs),
}

/// Runs one command; returns the exit code.
fn run(command: &Command) -> anyhow::Result<i32> {
    match command {
        Command::Verify(VerifyCommand::Signature(args)) => verify::signature(args),
        Command::Verify(VerifyCommand::Auth(args)) => verify::auth(args),
        Command::Testpki(command) => testpki::run(command),
        Command::Demo(args) => demo::run(args),
        Command::Crl(command) => crl::run(command),
        Command::CaSim(args) => casim::run(args),
        Command::Api(args) => api::run(args),
        Command::CaAdmin(args) => caadmin::run(args),
        Command::Admin(args) => admin::run(args),
        Command::Audit(args) => audit::run(args),
        Command::Store(command) => store::run(command),
    }
}

/// Runs a client's future on a single-threaded runtime (one call at a time needs no more).
fn block_on<T>(future: impl std::future::Future<Output = anyhow::Result<T>>) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| anyhow::anyhow!("cannot start the async runtime: {error}"))?
        .block_on(future)
}

fn main() {
    let cli = Cli::parse();
    match run(&cli.command) {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("jpkictl: {error:#}");
            std::process::exit(3);
        }
    }
}
