//! The server: the tower stack, the services, health, reflection, the CRL refresher, the event
//! producer, and a graceful drain.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jpki_api::v1::link_service_server::LinkServiceServer;
use jpki_api::v1::status_service_server::StatusServiceServer;
use jpki_api::v1::verification_service_server::VerificationServiceServer;
use jpki_refresh::{CrlSource, Fetcher, HttpPolicy, ListConfig, RedisConfig, RefreshConfig, Refresher};
use jpki_store::{DurabilityCheck, LocalStore, RedisStore, RedisStoreConfig, TenantStore};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity, ServerTlsConfig};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use tower::ServiceBuilder;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::config::{now, read};
use crate::events::EventHub;
use crate::layers::{REQUEST_ID_HEADER, admission_errors_to_status, call_span};
use crate::links::LinkApi;
use crate::settings::GatewayConfig;
use crate::state::AppState;
use crate::status::StatusApi;
use crate::tenant::Tenants;
use crate::verification::{MAX_CONTENT_BYTES, VerificationApi};

/// Largest accepted gRPC message: two 10 MiB fields plus room for the rest.
pub const MAX_MESSAGE_BYTES: usize = 2 * MAX_CONTENT_BYTES + 64 * 1024;

/// How often readiness and list freshness are re-evaluated.
const HEALTH_INTERVAL: Duration = Duration::from_millis(500);
/// How often expired challenges and old verification records are purged.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// A running gateway.
pub struct Gateway {
    local_addr: SocketAddr,
    draining: watch::Sender<bool>,
    server: JoinHandle<anyhow::Result<()>>,
    background: Vec<JoinHandle<()>>,
    drain_timeout: Duration,
}

/// The tower stack around every service, outermost first: request id (kept or made), a span per
/// call, the id echoed in the response, statuses for shed or timed-out calls, load shedding, a
/// global concurrency limit, and the request timeout.
macro_rules! build_stack {
    ($limits:expr) => {
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(http::HeaderName::from_static(REQUEST_ID_HEADER), MakeRequestUuid))
            .layer(TraceLayer::new_for_grpc().make_span_with(call_span))
            .layer(PropagateRequestIdLayer::new(http::HeaderName::from_static(REQUEST_ID_HEADER)))
            .map_result(admission_errors_to_status)
            .load_shed()
            .layer(tower::limit::GlobalConcurrencyLimitLayer::new($limits.max_concurrent_requests))
            .timeout(Duration::from_millis($limits.request_timeout_ms))
            .into_inner()
    };
}

async fn set_all(reporter: &HealthReporter, status: ServingStatus) {
    reporter.set_service_status("", status).await;
    for name in jpki_api::SERVICE_NAMES {
        reporter.set_service_status(name, status).await;
    }
}

/// Readiness: SERVING once every configured list has been installed once; NOT_SERVING while
/// draining. A list that later goes stale keeps SERVING (its answers are TRY_LATER) and raises an
/// alert in the log.
async fn watch_health(
    reporter: HealthReporter,
    refresher: Option<Arc<Refresher>>,
    mut draining: watch::Receiver<bool>,
) {
    let mut ready = false;
    let mut stale_reported = std::collections::HashSet::new();
    loop {
        if *draining.borrow() {
            set_all(&reporter, ServingStatus::NotServing).await;
            return;
        }
        let loaded = refresher.as_ref().is_none_or(|refresher| refresher.all_loaded());
        if loaded && !ready {
            ready = true;
            set_all(&reporter, ServingStatus::Serving).await;
            tracing::info!("ready: trust anchors and every configured list loaded");
        }
        if let Some(refresher) = &refresher {
            for list in refresher.status() {
                if list.stale && list.number.is_some() && stale_reported.insert(list.name.clone()) {
                    tracing::error!(list = %list.name, next_update = ?list.next_update, "ALERT: revocation list stale; its certificates get TRY_LATER");
                } else if !list.stale {
                    stale_reported.remove(&list.name);
                }
            }
        }
        tokio::select! {
            _ = draining.changed() => {}
            () = tokio::time::sleep(HEALTH_INTERVAL) => {}
        }
    }
}

async fn purge(store: Arc<dyn TenantStore>, retention: i64, mut draining: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = draining.changed() => return,
            () = tokio::time::sleep(PURGE_INTERVAL) => {}
        }
        let store = store.clone();
        match tokio::task::spawn_blocking(move || store.purge_expired(now().0, retention)).await {
            Ok(Ok(purged)) if purged > 0 => tracing::info!(purged, "purged expired challenges and old records"),
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "purge failed"),
            Err(_) => tracing::warn!("purge task failed"),
        }
    }
}

/// Server reflection of the API, health, and the google.rpc error details (so that tools such as
/// grpcurl can decode BadRequest and PreconditionFailure).
fn reflection() -> tonic_reflection::server::Builder<'static> {
    tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(jpki_api::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
}

/// The tenant store: Redis when configured (shared by replicas), else the local file.
async fn open_store(config: &GatewayConfig, retention: i64) -> anyhow::Result<Arc<dyn TenantStore>> {
    match &config.redis {
        Some(redis) => {
            let mut settings = RedisStoreConfig::new(redis.url.clone());
            settings.prefix = format!("{}store:", redis.prefix);
            settings.durability_check =
                if redis.require_durable { DurabilityCheck::Require } else { DurabilityCheck::ReportOnly };
            settings.verification_retention_secs = Some(retention);
            let store = tokio::task::spawn_blocking(move || RedisStore::connect_with(settings))
                .await
                .context("redis connect task")?
                .map_err(|error| anyhow::anyhow!("redis store: {error}"))?;
            for problem in store.durability().problems() {
                tracing::warn!(%problem, "redis durability (require_durable = false)");
            }
            Ok(Arc::new(store))
        }
        None => {
            let path = config.data_dir.join("store.redb");
            let store = LocalStore::open(&path).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
            Ok(Arc::new(store))
        }
    }
}

impl Gateway {
    /// Loads trust and storage, starts the refresher and the server on `listener`, and returns
    /// once it accepts calls (health answers NOT_SERVING until every list is loaded).
    pub async fn start(config: GatewayConfig, listener: TcpListener) -> anyhow::Result<Gateway> {
        config.check()?;
        // The listener may differ from `listen` (tests and socket activation bind it themselves).
        let address = listener.local_addr().context("listener address")?;
        config.check_plaintext_address(address)?;
        if config.plaintext && !address.ip().is_loopback() {
            tracing::warn!(%address, "plaintext on a network address (allow_plaintext_on_network = true): API keys and personal data cross the network in clear");
        }
        // reqwest is built without a default TLS provider; the process picks ring once.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tenants = Tenants::from_settings(&config.tenants)?;
        // Everything that can fail on configuration comes before any task starts or the store
        // opens, so that a refused start leaves nothing behind.
        let mut builder = tonic::transport::Server::builder().http2_keepalive_interval(Some(Duration::from_secs(30)));
        if let Some(tls) = &config.tls {
            let identity = Identity::from_pem(read(&tls.certificate)?, read(&tls.private_key)?);
            builder = builder
                .tls_config(ServerTlsConfig::new().identity(identity))
                .context("tls: the certificate or key cannot be used")?;
        }
        let loaded = config.trust_config()?.load(now())?;
        for skipped in &loaded.skipped {
            tracing::warn!("{skipped}");
        }
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("{}: cannot create the data directory", config.data_dir.display()))?;
        let retention = i64::try_from(config.links.verification_retention_seconds).unwrap_or(i64::MAX);
        let store = open_store(&config, retention).await?;
        let (draining, draining_receiver) = watch::channel(false);
        let hub = EventHub::new(draining_receiver.clone());
        let mut background = Vec::new();

        let refresher = if config.trust.lists.is_empty() {
            None
        } else {
            let lists = config
                .trust
                .lists
                .iter()
                .map(|list| {
                    Ok(ListConfig {
                        name: list.name.clone(),
                        source: CrlSource::parse(&list.source)
                            .map_err(|error| anyhow::anyhow!("trust.lists {}: {error}", list.name))?,
                    })
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let interval = Duration::from_secs(config.trust.refresh_interval_seconds);
            let refresh = RefreshConfig {
                lists,
                interval,
                poll_interval: interval,
                redis: config
                    .redis
                    .as_ref()
                    .map(|redis| RedisConfig { prefix: redis.prefix.clone(), ..RedisConfig::new(&redis.url) }),
                ledger: Some(config.data_dir.join("crl-ledger.json")),
            };
            let fetcher =
                Fetcher::new(HttpPolicy::default()).map_err(|error| anyhow::anyhow!("HTTP client: {error}"))?;
            Some(Arc::new(
                Refresher::new(refresh, loaded.revocation.clone(), fetcher)
                    .await
                    .map_err(|error| anyhow::anyhow!("refresher: {error}"))?,
            ))
        };
        let changes = refresher.as_ref().map(|refresher| refresher.subscribe_changes());
        if let Some(refresher) = &refresher {
            background.push(tokio::spawn(refresher.clone().run(draining_receiver.clone())));
        }
        // Without refreshed lists nothing changes after the start: a closed channel lets the event
        // task reconcile once and end.
        let changes = changes.unwrap_or_else(|| tokio::sync::broadcast::channel(1).1);
        background.push(tokio::spawn(crate::events::run(
            store.clone(),
            loaded.revocation.clone(),
            tenants.ids(),
            hub.clone(),
            changes,
            draining_receiver.clone(),
        )));
        background.push(tokio::spawn(purge(store.clone(), retention, draining_receiver.clone())));

        let (reporter, health) = tonic_health::server::health_reporter();
        set_all(&reporter, ServingStatus::NotServing).await;
        background.push(tokio::spawn(watch_health(reporter, refresher.clone(), draining_receiver.clone())));

        let reflection_v1 = reflection().build_v1()?;
        let reflection_v1alpha = reflection().build_v1alpha()?;

        let drain_timeout = Duration::from_secs(config.limits.drain_timeout_seconds);
        let limits = config.limits.clone();
        let state = AppState {
            verifier: loaded.verifier.clone(),
            revocation: loaded.revocation.clone(),
            store,
            config: Arc::new(config),
            events: hub,
        };
        let authenticate = {
            let tenants = Arc::new(tenants);
            move |request| tenants.authenticate(request)
        };
        let verification = InterceptedService::new(
            VerificationServiceServer::new(VerificationApi::new(state.clone()))
                .max_decoding_message_size(MAX_MESSAGE_BYTES),
            authenticate.clone(),
        );
        let links = InterceptedService::new(LinkServiceServer::new(LinkApi::new(state.clone())), authenticate.clone());
        let status = InterceptedService::new(StatusServiceServer::new(StatusApi::new(state.clone())), authenticate);
        let router = builder
            .layer(build_stack!(limits))
            .add_service(health)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(verification)
            .add_service(links)
            .add_service(status);
        let local_addr = listener.local_addr()?;
        let mut shutdown = draining_receiver;
        let server = tokio::spawn(async move {
            router
                // TCP_NODELAY: without it, Nagle's algorithm and delayed ACKs hold a response's last
                // frames for ~40 ms (measured: 44 ms per VerifySignature at one call in flight).
                .serve_with_incoming_shutdown(TcpIncoming::from(listener).with_nodelay(Some(true)), async move {
                    let _ = shutdown.wait_for(|draining| *draining).await;
                })
                .await
                .map_err(anyhow::Error::from)
        });
        tracing::info!(address = %local_addr, tls = state.config.tls.is_some(), lists = loaded.lists, "jpki-gateway listening");
        Ok(Gateway { local_addr, draining, server, background, drain_timeout })
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Drains: health turns NOT_SERVING, no new connections are accepted, watch streams end with
    /// UNAVAILABLE (clients resume from their cursor elsewhere), and in-flight calls get up to
    /// the drain timeout to finish.
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.draining.send(true);
        let mut server = self.server;
        let outcome = match tokio::time::timeout(self.drain_timeout, &mut server).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(anyhow::anyhow!("server task failed")),
            Err(_) => {
                tracing::warn!(timeout = ?self.drain_timeout, "drain timeout: stopping with calls in flight");
                server.abort();
                Ok(())
            }
        };
        for task in self.background {
            task.abort();
        }
        outcome
    }

    /// Serves until the process gets SIGINT or SIGTERM, then drains.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        wait_for_signal().await;
        tracing::info!("signal received: draining");
        self.shutdown().await
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(signal) => signal,
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                return;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    //! The tower stack of [`build_stack`] around a service that holds each call until released.

    use std::convert::Infallible;

    use tonic::body::Body;
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::settings::Limits;

    fn request(request_id: Option<&str>) -> http::Request<Body> {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri("http://localhost/jpki.gateway.v1.VerificationService/IssueChallenge")
            .header("content-type", "application/grpc");
        if let Some(id) = request_id {
            builder = builder.header(REQUEST_ID_HEADER, id);
        }
        builder.body(Body::empty()).unwrap()
    }

    fn grpc_status<B>(response: &http::Response<B>) -> Option<&str> {
        response.headers().get("grpc-status").and_then(|value| value.to_str().ok())
    }

    fn request_id<B>(response: &http::Response<B>) -> Option<&str> {
        response.headers().get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok())
    }

    /// The stack around an inner service that reports each call on `started` and answers once
    /// `release` is true.
    fn stack(
        limits: &Limits,
        started: tokio::sync::mpsc::UnboundedSender<()>,
        release: watch::Receiver<bool>,
    ) -> tower::util::BoxCloneService<http::Request<Body>, http::Response<()>, tower::BoxError> {
        let inner = tower::service_fn(move |_request: http::Request<Body>| {
            let (started, mut release) = (started.clone(), release.clone());
            async move {
                let _ = started.send(());
                let _ = release.wait_for(|released| *released).await;
                Ok::<_, Infallible>(http::Response::new(Body::empty()))
            }
        });
        // The bodies do not matter here: statuses are in the headers (trailers-only responses).
        tower::util::BoxCloneService::new(
            build_stack!(limits).layer(inner).map_response(|response: http::Response<_>| response.map(|_| ())),
        )
    }

    /// A hang guard only: every call here answers at once or is released explicitly.
    async fn guarded<T>(future: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(Duration::from_secs(30), future).await.expect("the call hangs")
    }

    #[tokio::test]
    async fn a_call_over_the_concurrency_limit_is_shed_at_once() {
        let limits = Limits { max_concurrent_requests: 1, request_timeout_ms: 600_000, ..Limits::default() };
        let (started_sender, mut started) = tokio::sync::mpsc::unbounded_channel();
        let (release, released) = watch::channel(false);
        let service = stack(&limits, started_sender, released);

        let first = tokio::spawn(service.clone().oneshot(request(None)));
        guarded(started.recv()).await.unwrap();

        // The first call holds the only permit: the second is answered RESOURCE_EXHAUSTED without
        // waiting for it.
        let shed = guarded(service.clone().oneshot(request(Some("shed-1")))).await.unwrap();
        assert_eq!(grpc_status(&shed), Some("8"));
        assert_eq!(request_id(&shed), Some("shed-1"), "shed answers carry the request id too");
        assert!(started.try_recv().is_err(), "the shed call never reached the service");

        release.send(true).unwrap();
        let answered = guarded(first).await.unwrap().unwrap();
        assert_eq!(answered.status(), http::StatusCode::OK);
        assert_eq!(grpc_status(&answered), None);
        // The permit is back.
        let next = guarded(service.oneshot(request(None))).await.unwrap();
        assert_eq!(grpc_status(&next), None);
    }

    #[tokio::test]
    async fn a_call_over_the_request_timeout_gets_deadline_exceeded() {
        let limits = Limits { max_concurrent_requests: 4, request_timeout_ms: 50, ..Limits::default() };
        let (started_sender, _started) = tokio::sync::mpsc::unbounded_channel();
        let (_release, released) = watch::channel(false);
        let service = stack(&limits, started_sender, released);
        let response = guarded(service.oneshot(request(None))).await.unwrap();
        assert_eq!(grpc_status(&response), Some("4"));
        assert!(request_id(&response).is_some());
    }

    #[tokio::test]
    async fn every_response_carries_a_request_id() {
        let (started_sender, _started) = tokio::sync::mpsc::unbounded_channel();
        let (_release, released) = watch::channel(true);
        let service = stack(&Limits::default(), started_sender, released);
        let made = guarded(service.clone().oneshot(request(None))).await.unwrap();
        let id = request_id(&made).expect("a request id is made").to_owned();
        assert_eq!(id.len(), 36, "a UUID: {id}");
        let other = guarded(service.clone().oneshot(request(None))).await.unwrap();
        assert_ne!(request_id(&other), Some(id.as_str()));
        let echoed = guarded(service.oneshot(request(Some("bank-a-0001")))).await.unwrap();
        assert_eq!(request_id(&echoed), Some("bank-a-0001"));
    }
}
