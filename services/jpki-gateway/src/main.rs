//! `jpki-gateway`: serves the jpki.gateway.v1 API with the configuration given by `--config FILE`
//! (and `JPKI_GATEWAY_*` environment overrides). There is no built-in configuration: the server
//! holds no test PKI and no demo tenant; `jpkictl demo` runs the demo.

/// mimalloc instead of glibc's malloc: the server allocates and frees many small buffers per call
/// (HTTP/2 frames, protobuf messages, JSON); glibc's malloc and free took about a tenth of its CPU
/// in a profile under load (docs/performance.md, "Cutting the server's cost per call").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;

use clap::Parser;
use jpki_gateway::{Gateway, GatewayConfig};

/// The jpki-gateway gRPC server.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Configuration file (TOML; every key in deploy/gateway.example.toml). Environment variables
    /// `JPKI_GATEWAY_*` override it. Required: for a demo on a generated test PKI, run `jpkictl demo`.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Overrides the listening address (e.g. 127.0.0.1:0 for a free port).
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
}

/// What a start without `--config` answers.
const NO_CONFIGURATION: &str = "jpki-gateway: no configuration given. Start it with --config FILE (every key is \
documented in deploy/gateway.example.toml). For a demo on a generated test PKI with a demo tenant, run \
`cargo run --release -p jpkictl -- demo` (or `jpkictl demo`).";

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
    let Some(file) = &args.config else {
        eprintln!("{NO_CONFIGURATION}");
        std::process::exit(2);
    };
    let mut config = GatewayConfig::load(Some(file))?;
    if let Some(listen) = args.listen {
        config.listen = listen;
    }
    let listener = tokio::net::TcpListener::bind(config.listen).await?;
    let gateway = Gateway::start(config, listener).await?;
    // Tests and scripts read the actual address from this line.
    println!("jpki-gateway listening on {}", gateway.local_addr());
    gateway.run_until_signal().await
}
