//! `jpkictl crl inspect|lookup`: load a list exactly as the gateway does and explain it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use jpki_core::cert::pem_blocks;
use jpki_core::revocation::RevocationReason;
use jpki_core::{AlgorithmPolicy, CertKind, TrustAnchor, UnixTime};
use jpki_revocation::CompactList;

use crate::trust::{read, read_certificate, validation_time};

/// CRL subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum CrlCommand {
    /// Load, check and index a CRL; print its number, dates, entries, reasons, load time and memory.
    /// Exit code: 0 fresh, 1 stale or not yet valid, 3 refused (the message says why).
    Inspect(InspectArgs),
    /// Look one serial up in a CRL. Exit code: 0 not revoked by this list, 1 revoked, 3 refused.
    Lookup(LookupArgs),
    /// Keep lists fresh exactly as the gateway does (alone, or with other replicas through Redis),
    /// printing every refresh event as a JSON line. Runs until interrupted, or once with --once.
    Sync(SyncArgs),
}

/// `crl sync`.
#[derive(clap::Args, Debug)]
pub struct SyncArgs {
    /// A list to follow: NAME=SOURCE, the source an http(s) URL, a file or a directory. Repeatable.
    #[arg(long = "list", value_name = "NAME=SOURCE", required = true)]
    pub lists: Vec<String>,
    /// Redis URL (redis://host:port); several processes with the same Redis share one download.
    #[arg(long, value_name = "URL")]
    pub redis: Option<String>,
    /// Prefix of the Redis keys.
    #[arg(long, default_value = "jpki:")]
    pub redis_prefix: String,
    /// Seconds between asks to the CA, per list, across all replicas.
    #[arg(long, default_value_t = 300)]
    pub interval: u64,
    /// Seconds between looks at Redis when no notification arrives.
    #[arg(long, default_value_t = 10)]
    pub poll: u64,
    /// Seconds a leader may hold a list's lease.
    #[arg(long, default_value_t = 60)]
    pub lease: u64,
    /// Bytes per Redis chunk.
    #[arg(long, default_value_t = 4 << 20)]
    pub chunk_bytes: usize,
    /// File keeping the highest accepted cRLNumber per (issuer key, scope) across restarts.
    #[arg(long, value_name = "FILE")]
    pub ledger: Option<PathBuf>,
    /// HTTP attempts per fetch (first included).
    #[arg(long, default_value_t = 4)]
    pub attempts: u32,
    /// HTTP timeout per attempt, seconds.
    #[arg(long, default_value_t = 300)]
    pub timeout: u64,
    /// Largest list accepted, bytes.
    #[arg(long, default_value_t = 1 << 30)]
    pub max_bytes: u64,
    /// One refresh round, then print the status and exit.
    #[arg(long)]
    pub once: bool,
    #[command(flatten)]
    pub trust: crate::trust::TrustArgs,
}

/// `crl inspect`.
#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// The CRL (DER or PEM).
    pub file: PathBuf,
    /// The issuing CA's certificate (PEM or DER); its key must verify the list.
    #[arg(long, value_name = "CA_CERT")]
    pub issuer: PathBuf,
    /// Freshness is judged at this time (RFC 3339); default now.
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `crl lookup`.
#[derive(clap::Args, Debug)]
pub struct LookupArgs {
    /// The CRL (DER or PEM).
    pub file: PathBuf,
    /// Serial number, hex.
    pub serial: String,
    /// The issuing CA's certificate (PEM or DER).
    #[arg(long, value_name = "CA_CERT")]
    pub issuer: PathBuf,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// Peak resident set size of this process, in bytes (VmHWM), where /proc is available.
fn peak_resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kilobytes: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kilobytes * 1024)
}

fn load(file: &Path, issuer: &Path, at: UnixTime) -> anyhow::Result<(CompactList, f64, Option<u64>, usize)> {
    // The kind only labels the anchor here: a CRL is checked against the key, whatever its kind.
    let anchor = TrustAnchor::from_der(CertKind::SigningCard, &read_certificate(issuer)?, &AlgorithmPolicy::default())
        .map_err(|error| anyhow::anyhow!("{}: unusable CA certificate: {error}", issuer.display()))?;
    let bytes = read(file)?;
    let der = if bytes.starts_with(b"-----BEGIN ") {
        let mut blocks = pem_blocks(&bytes, "X509 CRL")
            .map_err(|_| anyhow::anyhow!("{}: PEM without an X509 CRL block", file.display()))?;
        blocks.swap_remove(0)
    } else {
        bytes
    };
    let size = der.len();
    let before = peak_resident_bytes();
    let started = Instant::now();
    let list = CompactList::from_der(&file.display().to_string(), &der, &[anchor], at)
        .map_err(|error| anyhow::anyhow!("{}: refused: {error}", file.display()))?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_resident_bytes().zip(before).map(|(after, before)| after.saturating_sub(before));
    Ok((list, seconds, peak, size))
}

/// A listed entry's reason name, `none` when the entry has no reasonCode.
fn reason_name(reason: Option<RevocationReason>) -> &'static str {
    reason.map_or("none", RevocationReason::name)
}

/// Runs a CRL subcommand.
pub fn run(command: &CrlCommand) -> anyhow::Result<i32> {
    match command {
        CrlCommand::Inspect(args) => inspect(args),
        CrlCommand::Lookup(args) => lookup(args),
        CrlCommand::Sync(args) => sync(args),
    }
}

fn inspect(args: &InspectArgs) -> anyhow::Result<i32> {
    let at: UnixTime = validation_time(args.at.as_deref())?;
    let (list, seconds, peak, size) = load(&args.file, &args.issuer, at)?;
    let meta = list.meta();
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, entry) in list.entries() {
        *reasons.entry(reason_name(entry.reason)).or_default() += 1;
    }
    let freshness = match meta.next_update {
        _ if at < meta.this_update => format!("not yet valid: thisUpdate {} is after {at}", meta.this_update),
        None => "no nextUpdate: freshness cannot be judged".to_owned(),
        Some(next) if next < at => format!("stale: nextUpdate {next} is before {at}"),
        Some(next) => format!("fresh until {next}"),
    };
    let fresh = freshness.starts_with("fresh");
    if args.json {
        let summary = serde_json::json!({
            "file": args.file.display().to_string(),
            "crl_number": meta.crl_number.to_string(),
            "delta_base": meta.delta_base.as_ref().map(ToString::to_string),
            "issuer_key_id": hex::encode(&meta.issuer_key_id),
            "this_update": meta.this_update,
            "next_update": meta.next_update,
            "freshness": freshness,
            "entries": meta.entries,
            "reasons": reasons,
            "bytes": size,
            "load_seconds": seconds,
            "index_bytes": list.resident_bytes(),
            "peak_resident_increase_bytes": peak,
        });
        println!("{}", serde_json::to_string_pretty(&summary).context("serialise summary")?);
    } else {
        println!("{}: signature verified by CA key {}", args.file.display(), hex::encode(&meta.issuer_key_id));
        println!("  cRLNumber         {}", meta.crl_number);
        if let Some(base) = &meta.delta_base {
            println!("  delta of          {base}");
        }
        println!("  thisUpdate        {}", meta.this_update);
        println!("  nextUpdate        {}", meta.next_update.map_or("-".to_owned(), |time| time.to_string()));
        println!("  status at {at}  {freshness}");
        println!("  entries           {}", meta.entries);
        for (reason, count) in &reasons {
            println!("    {reason:<24}{count}");
        }
        println!("  size              {size} bytes");
        println!("  load              {seconds:.3} s (parse, signature check, index)");
        let per_entry = if meta.entries > 0 { list.resident_bytes() as f64 / meta.entries as f64 } else { 0.0 };
        println!("  index             {} bytes ({per_entry:.1} per entry)", list.resident_bytes());
        if let Some(peak) = peak {
            println!("  peak RSS increase {peak} bytes (VmHWM, beyond the file read)");
        }
    }
    Ok(if fresh { 0 } else { 1 })
}

fn lookup(args: &LookupArgs) -> anyhow::Result<i32> {
    let serial = hex::decode(args.serial.trim().trim_start_matches("0x"))
        .with_context(|| format!("{}: the serial is not hex", args.serial))?;
    // The issuing anchor must be valid now for the list to be trusted.
    let (list, ..) = load(&args.file, &args.issuer, validation_time(None)?)?;
    let serial = jpki_core::der::unsigned_integer_bytes(&serial);
    let entry = list.lookup(serial);
    if args.json {
        let answer = serde_json::json!({
            "serial": hex::encode(serial),
            "crl_number": list.meta().crl_number.to_string(),
            "revoked": entry.is_some(),
            "revoked_at": entry.map(|entry| entry.revoked_at),
            "reason": entry.map(|entry| reason_name(entry.reason)),
        });
        println!("{}", serde_json::to_string_pretty(&answer).context("serialise answer")?);
    } else {
        match entry {
            Some(entry) => println!(
                "{} REVOKED at {}, reason {} (list #{})",
                hex::encode(serial),
                entry.revoked_at,
                reason_name(entry.reason),
                list.meta().crl_number
            ),
            None => println!("{} is not on this list (#{})", hex::encode(serial), list.meta().crl_number),
        }
    }
    Ok(if entry.is_some() { 1 } else { 0 })
}

fn sync(args: &SyncArgs) -> anyhow::Result<i32> {
    use std::sync::Arc;
    use std::time::Duration;

    use jpki_refresh::{CrlSource, Fetcher, HttpPolicy, ListConfig, RedisConfig, RefreshConfig, Refresher};

    let trust = args.trust.load()?;
    let mut lists = Vec::new();
    for item in &args.lists {
        let (name, source) = item.split_once('=').with_context(|| format!("--list {item}: expected NAME=SOURCE"))?;
        let source = CrlSource::parse(source).map_err(|error| anyhow::anyhow!("--list {item}: {error}"))?;
        lists.push(ListConfig { name: name.to_owned(), source });
    }
    let redis = args.redis.as_ref().map(|url| RedisConfig {
        prefix: args.redis_prefix.clone(),
        chunk_bytes: args.chunk_bytes,
        lease: Duration::from_secs(args.lease),
        ..RedisConfig::new(url)
    });
    let config = RefreshConfig {
        lists,
        interval: Duration::from_secs(args.interval),
        poll_interval: Duration::from_secs(args.poll),
        redis,
        ledger: args.ledger.clone(),
        archive: None,
    };
    let policy = HttpPolicy {
        attempts: args.attempts.max(1),
        total_timeout: Duration::from_secs(args.timeout),
        max_bytes: args.max_bytes,
        backoff_base: Duration::from_millis(200),
        ..HttpPolicy::default()
    };
    let store =
        Arc::new(jpki_revocation::RevocationStore::new(trust.verifier.anchors().to_vec(), args.trust.crl_grace));
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("start the async runtime")?;
    runtime.block_on(async {
        let fetcher = Fetcher::new(policy).map_err(|error| anyhow::anyhow!("{error}"))?;
        let refresher =
            Arc::new(Refresher::new(config, store, fetcher).await.map_err(|error| anyhow::anyhow!("{error}"))?);
        let mut events = refresher.subscribe_events();
        let printer = tokio::spawn(async move {
            while let Ok(event) = events.recv().await {
                if let Ok(line) = serde_json::to_string(&event) {
                    println!("{line}");
                }
            }
        });
        if args.once {
            for list in &refresher_lists(&refresher) {
                refresher.refresh(list).await;
            }
        } else {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let runner = tokio::spawn(refresher.clone().run(stopped));
            let _ = tokio::signal::ctrl_c().await;
            let _ = stop.send(true);
            let _ = runner.await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        printer.abort();
        let status = serde_json::json!({ "event": "status", "lists": refresher.status() });
        println!("{status}");
        Ok::<_, anyhow::Error>(if refresher.all_loaded() { 0 } else { 1 })
    })
}

fn refresher_lists(refresher: &jpki_refresh::Refresher) -> Vec<jpki_refresh::ListConfig> {
    refresher.lists().to_vec()
}
