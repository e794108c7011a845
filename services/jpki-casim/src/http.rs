//! The HTTP front: axum router, handlers, and the serve/spawn entry points.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::error::{Error, Result};
use crate::sim::{
    CaSimulator, Conditions, DEFAULT_ERROR_STATUS, DEFAULT_HUGE_SIZE, DEFAULT_SLOW_DELAY_MS, Misbehaviour,
    MisbehaviourSetting, Planned, Revocation, RevokeTarget, parse_reason, parse_serial,
};

/// `Content-Type` of DER CRLs (RFC 2585).
pub const CRL_CONTENT_TYPE: &str = "application/pkix-crl";

/// Largest JSON body the POST endpoints read (64 KiB).
const MAX_JSON_BODY: usize = 64 * 1024;

fn json_error(status: StatusCode, field: Option<&str>, message: impl Into<String>) -> Response {
    let mut body = json!({ "error": message.into() });
    if let Some(field) = field {
        body["field"] = Value::from(field);
    }
    (status, axum::Json(body)).into_response()
}

fn error_response(e: &Error) -> Response {
    match e {
        Error::Invalid { field, message } => json_error(StatusCode::BAD_REQUEST, Some(field), message.clone()),
        Error::UnknownCa(ca) => json_error(StatusCode::BAD_REQUEST, Some("ca"), format!("unknown CA {ca:?}")),
        Error::UnknownHolder { .. } => json_error(StatusCode::BAD_REQUEST, Some("holder"), e.to_string()),
        _ => json_error(StatusCode::INTERNAL_SERVER_ERROR, None, e.to_string()),
    }
}

impl CaSimulator {
    /// The axum router with every endpoint (`GET /crl/{label}.crl`, `POST /revoke`,
    /// `POST /unrevoke`, `POST /misbehave`, `GET /stats`, `POST /publish`), to mount in a larger
    /// server.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/crl/{file}", get(get_crl))
            .route("/revoke", post(post_revoke))
            .route("/unrevoke", post(post_unrevoke))
            .route("/misbehave", post(post_misbehave))
            .route("/stats", get(get_stats))
            .route("/publish", post(post_publish))
            .fallback(|| async { json_error(StatusCode::NOT_FOUND, None, "no such endpoint") })
            .with_state(self.clone())
    }

    /// Serves on `listener` until `shutdown` completes, then ends open responses.
    /// Same as [`serve`].
    pub async fn serve(self, listener: TcpListener, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<()> {
        serve(self, listener, shutdown).await
    }

    /// Starts serving on `listener` in a task of the current tokio runtime and returns a handle
    /// to stop it. Fails outside a tokio runtime.
    pub fn spawn(&self, listener: TcpListener) -> Result<SimHandle> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|e| Error::Task(e.to_string()))?;
        let addr = listener.local_addr()?;
        let (tx, rx) = oneshot::channel::<()>();
        let router = self.router();
        let simulator = self.clone();
        let task = runtime.spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                    simulator.cancel_streams();
                })
                .await
        });
        Ok(SimHandle { addr, shutdown: Some(tx), task: Some(task), simulator: self.clone() })
    }

    /// Binds `addr` (e.g. `127.0.0.1:0`) and [`spawn`](CaSimulator::spawn)s.
    pub async fn bind(&self, addr: impl tokio::net::ToSocketAddrs) -> Result<SimHandle> {
        let listener = TcpListener::bind(addr).await?;
        self.spawn(listener)
    }
}

/// Serves `simulator` on `listener` until `shutdown` completes; then stops accepting, ends slow
/// and huge bodies in flight ([`CaSimulator::cancel_streams`]) and waits for the connections.
///
/// This is what `jpkictl ca-sim --pki DIR --listen ADDR` runs:
///
/// ```no_run
/// # async fn run(dir: std::path::PathBuf, listen: std::net::SocketAddr) -> Result<(), jpki_casim::Error> {
/// let sim = jpki_casim::CaSimulator::from_dir(&dir, jpki_casim::SimConfig::default())?;
/// let listener = tokio::net::TcpListener::bind(listen).await?;
/// jpki_casim::serve(sim, listener, async {
///     // e.g. `let _ = tokio::signal::ctrl_c().await;` (tokio's "signal" feature)
///     std::future::pending::<()>().await
/// })
/// .await?;
/// # Ok(()) }
/// ```
pub async fn serve(
    simulator: CaSimulator,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let router = simulator.router();
    axum::serve(listener, router)
        .with_graceful_shutdown(async move {
            shutdown.await;
            simulator.cancel_streams();
        })
        .await?;
    Ok(())
}

/// A running simulator started by [`CaSimulator::spawn`] or [`CaSimulator::bind`]. Dropping it
/// aborts the server; [`SimHandle::shutdown`] stops it gracefully.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    simulator: CaSimulator,
}

impl SimHandle {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `http://ADDR/crl/{label}.crl`.
    pub fn crl_url(&self, label: &str) -> String {
        format!("http://{}/crl/{label}.crl", self.addr)
    }

    /// The simulator, to revoke, publish or misbehave without HTTP.
    pub fn simulator(&self) -> &CaSimulator {
        &self.simulator
    }

    /// Stops accepting connections, ends slow and huge bodies in flight, waits up to
    /// [`SimConfig::shutdown_grace`](crate::SimConfig) for the connections to close, then aborts
    /// the server task.
    pub async fn shutdown(mut self) -> Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let Some(mut task) = self.task.take() else { return Ok(()) };
        match tokio::time::timeout(self.simulator.config().shutdown_grace, &mut task).await {
            Ok(Ok(result)) => Ok(result?),
            Ok(Err(join)) => Err(Error::Task(join.to_string())),
            Err(_elapsed) => {
                task.abort();
                Ok(())
            }
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

fn header_string(headers: &HeaderMap, name: header::HeaderName) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn set(headers: &mut HeaderMap, name: header::HeaderName, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        headers.insert(name, v);
    }
}

async fn get_crl(State(sim): State<CaSimulator>, Path(file): Path<String>, headers: HeaderMap) -> Response {
    let Some(label) = file.strip_suffix(".crl") else {
        return json_error(StatusCode::NOT_FOUND, None, "CRLs are at /crl/{label}.crl");
    };
    let conditions = Conditions {
        if_none_match: header_string(&headers, header::IF_NONE_MATCH),
        if_modified_since: header_string(&headers, header::IF_MODIFIED_SINCE),
    };
    let planned = match sim.plan_download(label, &conditions) {
        Ok(p) => p,
        Err(Error::UnknownCa(ca)) => return json_error(StatusCode::NOT_FOUND, None, format!("no list {ca:?}")),
        Err(e) => return error_response(&e),
    };
    match planned {
        Planned::NotModified { etag, last_modified, delay_ms } => {
            if delay_ms > 0 {
                let mut cancel = sim.cancel_receiver();
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(delay_ms)) => {}
                    _ = cancel.changed() => {}
                }
            }
            let mut response = StatusCode::NOT_MODIFIED.into_response();
            set(response.headers_mut(), header::ETAG, &etag);
            set(response.headers_mut(), header::LAST_MODIFIED, &httpdate::fmt_http_date(last_modified));
            response
        }
        Planned::Full { der, etag, last_modified, delay_ms } => {
            let len = der.len();
            let body = if delay_ms > 0 {
                let delay = Duration::from_millis(delay_ms);
                let mut cancel = sim.cancel_receiver();
                Body::from_stream(futures_util::stream::once(async move {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => Ok(der),
                        _ = cancel.changed() => Err(std::io::Error::other("CA simulator shutting down")),
                    }
                }))
            } else {
                Body::from(der)
            };
            let mut response = Response::new(body);
            let h = response.headers_mut();
            set(h, header::CONTENT_TYPE, CRL_CONTENT_TYPE);
            set(h, header::CONTENT_LENGTH, &len.to_string());
            set(h, header::ETAG, &etag);
            set(h, header::LAST_MODIFIED, &httpdate::fmt_http_date(last_modified));
            set(h, header::CACHE_CONTROL, "no-cache");
            response
        }
        Planned::Error { status } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            json_error(status, None, "simulated failure")
        }
        Planned::Huge { size } => {
            let mut response = Response::new(huge_body(size, sim.cancel_receiver()));
            let h = response.headers_mut();
            set(h, header::CONTENT_TYPE, CRL_CONTENT_TYPE);
            set(h, header::CONTENT_LENGTH, &size.to_string());
            response
        }
    }
}

/// `size` bytes: a SEQUENCE header with a four-octet length, then zeros, in 64 KiB chunks.
fn huge_body(size: u64, cancel: tokio::sync::watch::Receiver<u64>) -> Body {
    const CHUNK: u64 = 64 * 1024;
    static ZEROS: [u8; CHUNK as usize] = [0; CHUNK as usize];
    let inner = u32::try_from(size.saturating_sub(6)).unwrap_or(u32::MAX).to_be_bytes();
    let header = Bytes::from(vec![0x30, 0x84, inner[0], inner[1], inner[2], inner[3]]);
    let header_len = (header.len() as u64).min(size);
    let first = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(header) });
    let rest = futures_util::stream::unfold((size - header_len, cancel), |(remaining, cancel)| async move {
        if remaining == 0 {
            return None;
        }
        if cancel.has_changed().unwrap_or(true) {
            return Some((Err(std::io::Error::other("CA simulator shutting down")), (0, cancel)));
        }
        let n = remaining.min(CHUNK);
        let chunk = Bytes::from_static(&ZEROS[..usize::try_from(n).unwrap_or(0)]);
        Some((Ok(chunk), (remaining - n, cancel)))
    });
    Body::from_stream(futures_util::StreamExt::chain(first, rest))
}

/// Parses a JSON object body; an empty body is an empty object.
fn json_object(body: &Bytes) -> Result<Map<String, Value>> {
    if body.len() > MAX_JSON_BODY {
        return Err(Error::invalid("body", "JSON body larger than 64 KiB"));
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(Error::invalid("body", "expected a JSON object")),
        Err(e) => Err(Error::invalid("body", format!("invalid JSON: {e}"))),
    }
}

fn opt_str<'a>(map: &'a Map<String, Value>, field: &'static str) -> Result<Option<&'a str>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid(field, "expected a string")),
    }
}

fn req_str<'a>(map: &'a Map<String, Value>, field: &'static str) -> Result<&'a str> {
    opt_str(map, field)?.ok_or_else(|| Error::invalid(field, "required"))
}

fn opt_u64(map: &Map<String, Value>, field: &'static str) -> Result<Option<u64>> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| Error::invalid(field, "expected a non-negative integer")),
    }
}

fn parse_target(map: &Map<String, Value>) -> Result<RevokeTarget> {
    Ok(match (opt_str(map, "serial")?, opt_str(map, "holder")?) {
        (Some(serial), None) => RevokeTarget::Serial(
            parse_serial(serial).ok_or_else(|| Error::invalid("serial", "expected 1 to 20 octets in hex"))?,
        ),
        (None, Some(holder)) => RevokeTarget::Holder(holder.to_owned()),
        (Some(_), Some(_)) => return Err(Error::invalid("serial", "give either serial or holder, not both")),
        (None, None) => return Err(Error::invalid("serial", "give serial (hex) or holder (id)")),
    })
}

fn parse_revocation(map: &Map<String, Value>) -> Result<Revocation> {
    let ca = req_str(map, "ca")?.to_owned();
    let target = parse_target(map)?;
    let reason = opt_str(map, "reason")?
        .map(|r| parse_reason(r).ok_or_else(|| Error::invalid("reason", format!("unknown reason {r:?}"))))
        .transpose()?;
    let revoked_at = opt_str(map, "revoked_at")?
        .map(|t| {
            OffsetDateTime::parse(t, &Rfc3339).map_err(|e| Error::invalid("revoked_at", format!("not RFC 3339: {e}")))
        })
        .transpose()?;
    Ok(Revocation { ca, target, reason, revoked_at })
}

async fn post_revoke(State(sim): State<CaSimulator>, body: Bytes) -> Response {
    match json_object(&body).and_then(|map| parse_revocation(&map)).and_then(|r| sim.revoke(&r)) {
        Ok(revoked) => axum::Json(revoked).into_response(),
        Err(e) => error_response(&e),
    }
}

async fn post_unrevoke(State(sim): State<CaSimulator>, body: Bytes) -> Response {
    let parsed = json_object(&body).and_then(|map| Ok((req_str(&map, "ca")?.to_owned(), parse_target(&map)?)));
    match parsed.and_then(|(ca, target)| sim.unrevoke(&ca, &target)) {
        Ok(unrevoked) => axum::Json(unrevoked).into_response(),
        Err(e) => error_response(&e),
    }
}

fn parse_misbehaviour(map: &Map<String, Value>) -> Result<MisbehaviourSetting> {
    let mode = req_str(map, "mode")?;
    let misbehaviour = match mode {
        "normal" => Misbehaviour::Normal,
        "slow" => Misbehaviour::Slow { delay_ms: opt_u64(map, "delay_ms")?.unwrap_or(DEFAULT_SLOW_DELAY_MS) },
        "error" => {
            let status = opt_u64(map, "status")?.unwrap_or(u64::from(DEFAULT_ERROR_STATUS));
            let status = u16::try_from(status).map_err(|_| Error::invalid("status", "must be within 400..=599"))?;
            Misbehaviour::Error { status }
        }
        "truncated" => Misbehaviour::Truncated,
        "garbage" => Misbehaviour::Garbage,
        "expired" => Misbehaviour::Expired,
        "rolled_back" => Misbehaviour::RolledBack,
        "wrong_signer" => Misbehaviour::WrongSigner,
        "huge" => Misbehaviour::Huge { size: opt_u64(map, "size")?.unwrap_or(DEFAULT_HUGE_SIZE) },
        other => {
            return Err(Error::invalid(
                "mode",
                format!(
                    "unknown mode {other:?}; expected normal, slow, error, truncated, garbage, expired, rolled_back, \
                     wrong_signer or huge"
                ),
            ));
        }
    };
    let times = opt_u64(map, "times")?;
    let ca = opt_str(map, "ca")?.map(str::to_owned);
    Ok(MisbehaviourSetting { misbehaviour, times, ca })
}

async fn post_misbehave(State(sim): State<CaSimulator>, body: Bytes) -> Response {
    match json_object(&body).and_then(|map| parse_misbehaviour(&map)).and_then(|s| sim.set_misbehaviour(s)) {
        Ok(()) => axum::Json(sim.misbehaviour()).into_response(),
        Err(e) => error_response(&e),
    }
}

async fn get_stats(State(sim): State<CaSimulator>) -> Response {
    axum::Json(sim.stats()).into_response()
}

async fn post_publish(State(sim): State<CaSimulator>) -> Response {
    match sim.publish() {
        Ok(numbers) => axum::Json(json!({ "lists": numbers })).into_response(),
        Err(e) => error_response(&e),
    }
}
