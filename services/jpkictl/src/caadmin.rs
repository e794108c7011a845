//! `jpkictl ca-admin …`: a client for the CA simulator's admin endpoints (POST /revoke, /unrevoke,
//! /publish, GET /stats), so that a walkthrough can revoke a card without curl.

use std::fmt::Write;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

/// `ca-admin` options and subcommand.
#[derive(clap::Args, Debug)]
pub struct CaAdminArgs {
    /// The simulator's base URL.
    #[arg(long, global = true, env = "JPKI_CASIM_URL", default_value = "http://127.0.0.1:8480", value_name = "URL")]
    pub url: String,
    /// Print the simulator's JSON answer instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// The operation.
    #[command(subcommand)]
    pub command: CaAdminCommand,
}

/// A certificate of one CA: a holder's, or a serial.
#[derive(clap::Args, Debug)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["holder", "serial"]))]
pub struct Target {
    /// CA label, e.g. auth-card-g2 or signing-card-g2.
    #[arg(long)]
    pub ca: String,
    /// The holder whose certificate from this CA is meant (manifest id, e.g. h01).
    #[arg(long)]
    pub holder: Option<String>,
    /// A serial, hex.
    #[arg(long, value_name = "HEX")]
    pub serial: Option<String>,
}

/// `ca-admin` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum CaAdminCommand {
    /// Revoke a certificate: the CA issues a new list (number + 1) at once.
    Revoke {
        /// Which certificate.
        #[command(flatten)]
        target: Target,
        /// Reason: key-compromise (card lost), affiliation-changed (moved or renamed), superseded
        /// (renewed), cessation-of-operation (died), certificate-hold, unspecified, ...
        #[arg(long)]
        reason: Option<String>,
        /// revocationDate (RFC 3339); default now.
        #[arg(long, value_name = "TIME")]
        revoked_at: Option<String>,
    },
    /// Remove a revocation (a released hold): a new list.
    Unrevoke {
        /// Which certificate.
        #[command(flatten)]
        target: Target,
    },
    /// Re-issue every list now (number + 1): the daily publication.
    Publish,
    /// Lists, their numbers and entries, and download counters.
    Stats,
}

fn target_body(target: &Target) -> Value {
    let mut body = json!({ "ca": target.ca });
    if let Some(holder) = &target.holder {
        body["holder"] = json!(holder);
    }
    if let Some(serial) = &target.serial {
        body["serial"] = json!(serial);
    }
    body
}

/// Sends one request; a non-2xx answer is an error with the simulator's message.
async fn call(url: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> anyhow::Result<Value> {
    // jpki-refresh turns on reqwest's rustls without a provider; the first install wins.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().context("HTTP client")?;
    let address = format!("{}{path}", url.trim_end_matches('/'));
    let mut request = client.request(method, &address);
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.with_context(|| format!("cannot reach the CA simulator at {address}"))?;
    let status = response.status();
    let bytes = response.bytes().await.with_context(|| format!("{address}: reading the answer"))?;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| json!(String::from_utf8_lossy(&bytes)));
    if !status.is_success() {
        let message = value.get("error").and_then(Value::as_str).map_or_else(|| value.to_string(), str::to_owned);
        match value.get("field").and_then(Value::as_str) {
            Some(field) => bail!("{address}: HTTP {status}: {field}: {message}"),
            None => bail!("{address}: HTTP {status}: {message}"),
        }
    }
    Ok(value)
}

fn number(value: &Value, key: &str) -> String {
    value.get(key).map_or_else(|| "-".to_owned(), |field| field.as_str().map_or(field.to_string(), str::to_owned))
}

fn stats_text(value: &Value) -> String {
    let mut text = String::new();
    for (label, list) in value.get("lists").and_then(Value::as_object).into_iter().flatten() {
        let _ = writeln!(
            text,
            "{label}: #{}, {} entries, thisUpdate {}, nextUpdate {}",
            number(list, "number"),
            number(list, "entry_count"),
            number(list, "this_update"),
            number(list, "next_update")
        );
        for entry in list.get("entries").and_then(Value::as_array).into_iter().flatten() {
            let _ = writeln!(
                text,
                "  serial {} revoked at {} reason {}",
                number(entry, "serial"),
                number(entry, "revoked_at"),
                entry.get("reason").and_then(Value::as_str).unwrap_or("none")
            );
        }
    }
    text
}

/// Runs one `ca-admin` subcommand.
pub fn run(args: &CaAdminArgs) -> anyhow::Result<i32> {
    let (value, text) = crate::block_on(async {
        anyhow::Ok(match &args.command {
            CaAdminCommand::Revoke { target, reason, revoked_at } => {
                let mut body = target_body(target);
                if let Some(reason) = reason {
                    body["reason"] = json!(reason);
                }
                if let Some(time) = revoked_at {
                    body["revoked_at"] = json!(time);
                }
                let value = call(&args.url, reqwest::Method::POST, "/revoke", Some(body)).await?;
                let text = format!(
                    "revoked serial {} on {}: list #{} now has {} entries\n",
                    number(&value, "serial"),
                    number(&value, "ca"),
                    number(&value, "number"),
                    number(&value, "entries")
                );
                (value, text)
            }
            CaAdminCommand::Unrevoke { target } => {
                let value = call(&args.url, reqwest::Method::POST, "/unrevoke", Some(target_body(target))).await?;
                let text = format!(
                    "unrevoked serial {} on {}: list #{} now has {} entries\n",
                    number(&value, "serial"),
                    number(&value, "ca"),
                    number(&value, "number"),
                    number(&value, "entries")
                );
                (value, text)
            }
            CaAdminCommand::Publish => {
                let value = call(&args.url, reqwest::Method::POST, "/publish", None).await?;
                let mut text = String::from("published:");
                for (label, number) in value.get("lists").and_then(Value::as_object).into_iter().flatten() {
                    let _ = write!(text, " {label} #{number}");
                }
                text.push('\n');
                (value, text)
            }
            CaAdminCommand::Stats => {
                let value = call(&args.url, reqwest::Method::GET, "/stats", None).await?;
                let text = stats_text(&value);
                (value, text)
            }
        })
    })?;
    if args.json {
        println!("{value}");
    } else {
        print!("{text}");
    }
    Ok(0)
}
