//! `jpkictl ca-sim`: the CA simulator for development and tests (see services/jpki-casim/README.md).

use std::path::PathBuf;

use anyhow::Context;
use jpki_casim::{CaSimulator, SimConfig};

/// `ca-sim` options.
#[derive(clap::Args, Debug)]
pub struct CaSimArgs {
    /// Test-PKI directory (from `jpkictl testpki generate`).
    #[arg(long, value_name = "DIR")]
    pub pki: PathBuf,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8480")]
    pub listen: String,
    /// Hours between a list's thisUpdate and nextUpdate.
    #[arg(long, default_value_t = 24)]
    pub validity_hours: u64,
}

/// Serves until interrupted.
pub fn run(args: &CaSimArgs) -> anyhow::Result<i32> {
    let hours = i64::try_from(args.validity_hours).context("--validity-hours too large")?;
    let config = SimConfig { validity: time::Duration::hours(hours), ..SimConfig::default() };
    let simulator =
        CaSimulator::from_dir(&args.pki, config).map_err(|error| anyhow::anyhow!("{}: {error}", args.pki.display()))?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start the async runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(&args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr().context("listening address")?;
        println!("CA simulator on http://{address}/ (lists: http://{address}/crl/LABEL.crl, e.g. signing-card-g2)");
        jpki_casim::serve(simulator, listener, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
        Ok(0)
    })
}
