//! The tenants' logs over HTTP in the C2SP tlog-tiles layout, for monitors, witnesses and standard
//! tools: `GET /<tenant>/checkpoint` (signed on demand) and `GET /<tenant>/tile/<L>/<N>[.p/<W>]`
//! (hash tiles). Entry bundles (`tile/entries/…`) are not served here: the events themselves go
//! only to the tenant's auditors, through `AuditService`. Hashes and checkpoints reveal nothing
//! of the events, and serving them appends nothing to any log, so anyone may read them without a
//! key. The checkpoint is the tenant's published one (`AuditLog::publish`: durable, so it never
//! covers a leaf a crash could lose), made again at most once a second per tenant, so that a flood
//! of reads cannot turn into a flood of commits; tiles are served within its size.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jpki_app::AuditLog;
use jpki_app::audit::{AuditReadError, SignedCheckpoint};
use jpki_app::directory::Directory;
use jpki_store::TenantId;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a published checkpoint is served before a new one is made.
const CHECKPOINT_REUSE: Duration = Duration::from_secs(1);

#[derive(Clone)]
struct Tiles {
    log: Arc<AuditLog>,
    directory: Directory,
    published: Arc<Mutex<HashMap<TenantId, (Instant, SignedCheckpoint)>>>,
}

/// The tenant's published checkpoint: the one made within the last second, or a new one.
async fn published(tiles: &Tiles, tenant: TenantId) -> Result<SignedCheckpoint, Response> {
    let recent = tiles.published.lock().ok().and_then(|published| {
        published
            .get(&tenant)
            .filter(|(made, _)| made.elapsed() < CHECKPOINT_REUSE)
            .map(|(_, checkpoint)| checkpoint.clone())
    });
    if let Some(checkpoint) = recent {
        return Ok(checkpoint);
    }
    let log = tiles.log.clone();
    let key = tenant.clone();
    match tokio::task::spawn_blocking(move || log.publish(&key)).await {
        Ok(Ok(checkpoint)) => {
            if let Ok(mut published) = tiles.published.lock() {
                published.insert(tenant, (Instant::now(), checkpoint.clone()));
            }
            Ok(checkpoint)
        }
        Ok(Err(error)) => {
            tracing::warn!(%error, "publishing a checkpoint");
            Err((StatusCode::SERVICE_UNAVAILABLE, "the log cannot be read now\n").into_response())
        }
        Err(_) => Err((StatusCode::INTERNAL_SERVER_ERROR, "the read's task failed\n").into_response()),
    }
}

fn not_found(what: &str) -> Response {
    (StatusCode::NOT_FOUND, format!("{what}\n")).into_response()
}

/// The tenant of a path, when it is one of the platform's tenants.
async fn tenant(tiles: &Tiles, tenant: String) -> Option<TenantId> {
    let directory = tiles.directory.clone();
    let known = tokio::task::spawn_blocking(move || directory.tenant_ids()).await.ok()?.ok()?;
    known.into_iter().find(|known| known.as_str() == tenant)
}

async fn checkpoint(State(tiles): State<Tiles>, Path(name): Path<String>) -> Response {
    let Some(tenant) = tenant(&tiles, name).await else { return not_found("no such log") };
    match published(&tiles, tenant).await {
        Ok(checkpoint) => (
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")],
            checkpoint.note,
        )
            .into_response(),
        Err(response) => response,
    }
}

async fn tile(State(tiles): State<Tiles>, Path((name, rest)): Path<(String, String)>) -> Response {
    if rest.starts_with("entries/") {
        return not_found("entry bundles are served to the tenant's auditors only (jpki.audit.v1.AuditService)");
    }
    let Some(tenant) = tenant(&tiles, name).await else { return not_found("no such log") };
    let within = match published(&tiles, tenant.clone()).await {
        Ok(checkpoint) => checkpoint.size,
        Err(response) => return response,
    };
    let (log, path) = (tiles.log.clone(), format!("tile/{rest}"));
    let partial = path.contains(".p/");
    match tokio::task::spawn_blocking(move || log.tile(&tenant, &path, within)).await {
        Ok(Ok(data)) => {
            // A full tile never changes; a partial one is replaced by a wider one.
            let cache = if partial { "no-cache" } else { "public, max-age=31536000, immutable" };
            ([(header::CONTENT_TYPE, "application/octet-stream"), (header::CACHE_CONTROL, cache)], data).into_response()
        }
        Ok(Err(AuditReadError::OutOfRange { .. })) => not_found("no such tile"),
        Ok(Err(error)) => {
            tracing::warn!(%error, "tile over HTTP");
            (StatusCode::SERVICE_UNAVAILABLE, "the log cannot be read now\n").into_response()
        }
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "the read's task failed\n").into_response(),
    }
}

/// Serves the tiles on `address` until the server drains; returns the bound address.
pub async fn serve(
    address: SocketAddr,
    log: Arc<AuditLog>,
    directory: Directory,
    mut draining: watch::Receiver<bool>,
) -> anyhow::Result<(SocketAddr, JoinHandle<()>)> {
    use anyhow::Context as _;
    let listener =
        TcpListener::bind(address).await.with_context(|| format!("audit.tiles_listen {address}: cannot listen"))?;
    let bound = listener.local_addr()?;
    let router = Router::new()
        .route("/{tenant}/checkpoint", get(checkpoint))
        .route("/{tenant}/tile/{*rest}", get(tile))
        .with_state(Tiles { log, directory, published: Arc::default() });
    let task = tokio::spawn(async move {
        let served = axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = draining.wait_for(|draining| *draining).await;
            })
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "tile server stopped");
        }
    });
    tracing::info!(address = %bound, "audit tiles served over HTTP");
    Ok((bound, task))
}
