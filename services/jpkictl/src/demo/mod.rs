//! `jpkictl demo`: the seed flows (本人確認 at account opening, ※3 linking, 資格確認 at login, a
//! lost card) against a real gateway and CA simulator started in this process; `--offline` walks
//! through the verifications without a server.

mod live;
mod offline;

use std::path::PathBuf;

/// `demo` options.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Working directory for the test PKI, the gateway's store and the demo files (default: a
    /// fresh temporary directory, removed on exit; with --offline it is kept).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Test-PKI seed.
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// Address of the gateway (plaintext gRPC); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:50051", value_name = "ADDR")]
    pub listen: String,
    /// Address of the gateway's admin service (the demo operator's port); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:50052", value_name = "ADDR")]
    pub admin_listen: String,
    /// Address of the CA simulator (HTTP); port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:8480", value_name = "ADDR")]
    pub ca_listen: String,
    /// Seconds between the gateway's downloads of each list from the CA simulator.
    #[arg(long, default_value_t = 2, value_name = "SECONDS")]
    pub refresh_seconds: u64,
    /// The gateway store's engine: `journal` (the default) or `redb` (to compare them:
    /// docs/durability.md).
    #[arg(long, value_name = "ENGINE", value_parser = ["journal", "redb"], conflicts_with = "offline")]
    pub store_engine: Option<String>,
    /// The earlier walkthrough without any server: `jpkictl verify` on files, then exit.
    #[arg(long, conflicts_with_all = ["listen", "admin_listen", "ca_listen", "refresh_seconds"])]
    pub offline: bool,
}

/// The application form the applicant signs (申込書).
const APPLICATION: &str = "オンラインバンキング利用申込書\n\
申込者: 公的個人認証サービスの署名用電子証明書に記録された氏名・生年月日・住所のとおり\n\
口座番号: 1234567\n\
申込日: 本日\n";

/// Quotes a shell argument only when it needs it, so that printed commands stay readable.
fn quote(argument: &str) -> String {
    if !argument.is_empty() && argument.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-_./:=@,+".contains(&byte))
    {
        argument.to_owned()
    } else {
        format!("'{}'", argument.replace('\'', "'\\''"))
    }
}

/// Runs the demo.
pub fn run(args: &DemoArgs) -> anyhow::Result<i32> {
    if args.offline { offline::run(args) } else { live::run(args) }
}
