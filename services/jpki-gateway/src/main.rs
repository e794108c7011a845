//! `jpki-gateway`: serves the jpki.gateway.v1 API (first slice: VerifySignature, health, reflection).
//!
//! Plaintext HTTP/2 only: TLS is not implemented yet, so listen on a loopback or private address.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use jpki_gateway::ServerConfig;

/// The jpki-gateway gRPC server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// A directory written by `jpkictl testpki generate`: its anchors, policies and `crl/` lists.
    #[arg(long, value_name = "DIR")]
    test_pki: PathBuf,
    /// Address to listen on (plaintext; TLS is not implemented yet).
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "ADDR")]
    listen: SocketAddr,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let args = Args::parse();
    let config = ServerConfig::from_test_pki(&args.test_pki, args.listen)?;
    let loaded = config.load_verifier(jpki_gateway::config::now())?;
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    tracing::info!(address = %listener.local_addr()?, lists = loaded.lists, "jpki-gateway listening (plaintext, no TLS)");
    jpki_gateway::serve(&loaded, listener, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
}
