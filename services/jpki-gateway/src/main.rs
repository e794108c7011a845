//! `jpki-gateway`: serves the jpki.gateway.v1 API.
//!
//! With `--config FILE` (and `JPKI_GATEWAY_*` environment overrides) it serves that
//! configuration; without, the embedded default: a test PKI generated into the data directory, the
//! demo tenant, plaintext on 127.0.0.1:50051, durable local storage.

use std::path::PathBuf;

use clap::Parser;
use jpki_gateway::{Gateway, GatewayConfig};

/// The jpki-gateway gRPC server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Configuration file (TOML; see deploy/gateway.example.toml). Environment variables
    /// `JPKI_GATEWAY_*` override it. Without it: the embedded default.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Embedded default only: where the test PKI and the store live.
    #[arg(long, value_name = "DIR", default_value = "jpki-gateway-data", conflicts_with = "config")]
    data_dir: PathBuf,
    /// Overrides the listening address (e.g. 127.0.0.1:0 for a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Logs go to stderr; stdout carries only the address line that scripts read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let mut config = match &args.config {
        Some(file) => GatewayConfig::load(Some(file))?,
        None => {
            let config = GatewayConfig::embedded(&args.data_dir)?;
            tracing::warn!(
                data_dir = %args.data_dir.display(),
                tenant = jpki_gateway::settings::DEMO_TENANT,
                api_key = jpki_gateway::settings::DEMO_API_KEY,
                "embedded default: test PKI and demo tenant, plaintext; not for production"
            );
            config
        }
    };
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let gateway = Gateway::start(config, listener).await?;
    // Tests and scripts read the actual address from this line.
    println!("jpki-gateway listening on {}", gateway.local_addr());
    gateway.run_until_signal().await
}
