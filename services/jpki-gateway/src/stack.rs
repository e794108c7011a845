//! The one tower stack every call passes through, built by [`build_stack`], and its small parts.

use std::sync::Arc;
use std::time::Duration;

use tonic::Status;
use tower::layer::util::{Identity, Stack};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::load_shed::LoadShedLayer;
use tower::timeout::TimeoutLayer;
use tower::util::MapResultLayer;
use tower::{BoxError, ServiceBuilder};
use tower_http::classify::{GrpcErrorsAsFailures, SharedClassifier};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::auth::{Access, AuthenticateLayer};
use crate::quota::QuotaLayer;
use crate::settings::Limits;
use crate::throttle::ThrottleLayer;

/// The header carrying the request id (set when the caller sent none, echoed in the response).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Turns the errors of the admission layers into gRPC statuses a client can act on:
/// load shedding becomes RESOURCE_EXHAUSTED (retry with backoff), a timeout DEADLINE_EXCEEDED.
/// Anything else stays an error (tonic answers it as a connection-level failure).
pub fn admission_errors_to_status<B: Default>(
    result: Result<http::Response<B>, BoxError>,
) -> Result<http::Response<B>, BoxError> {
    match result {
        Ok(response) => Ok(response),
        Err(error) if error.is::<tower::load_shed::error::Overloaded>() => {
            tracing::warn!("load shed: too many calls in progress");
            Ok(Status::resource_exhausted("too many calls in progress; retry with backoff").into_http())
        }
        Err(error) if error.is::<tower::timeout::error::Elapsed>() => {
            Ok(Status::deadline_exceeded("the call took longer than the server's request timeout").into_http())
        }
        Err(error) => Err(error),
    }
}

/// The tracing span of one call: method and request id, never the payload.
pub fn call_span<B>(request: &http::Request<B>) -> tracing::Span {
    let request_id = request.headers().get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok()).unwrap_or("");
    tracing::info_span!("grpc", method = %request.uri().path(), request_id = %request_id)
}

/// A call's response from the inner services, before the stack: the body tonic produces.
type Body = tonic::body::Body;
/// What the admission statuses map.
type AdmissionResult = Result<http::Response<Body>, BoxError>;

/// The stack's type, innermost layer first (tower nests each added layer outside the previous).
pub type GatewayStack = Stack<
    QuotaLayer,
    Stack<
        AuthenticateLayer,
        Stack<
            ThrottleLayer,
            Stack<
                TimeoutLayer,
                Stack<
                    GlobalConcurrencyLimitLayer,
                    Stack<
                        LoadShedLayer,
                        Stack<
                            MapResultLayer<fn(AdmissionResult) -> AdmissionResult>,
                            Stack<
                                PropagateRequestIdLayer,
                                Stack<
                                    TraceLayer<
                                        SharedClassifier<GrpcErrorsAsFailures>,
                                        fn(&http::Request<Body>) -> tracing::Span,
                                    >,
                                    Stack<SetRequestIdLayer<MakeRequestUuid>, Identity>,
                                >,
                            >,
                        >,
                    >,
                >,
            >,
        >,
    >,
>;

/// Every layer around the services, outermost first:
///
/// 1. the request id: kept from the caller's `x-request-id`, or a new UUID;
/// 2. a tracing span per call (method and request id);
/// 3. the request id echoed in the response, refusals included;
/// 4. statuses for shed and timed-out calls (RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED);
/// 5. load shedding: a call over the limit is refused at once rather than queued;
/// 6. the global concurrency limit (`limits.max_concurrent_requests`);
/// 7. the request timeout (`limits.request_timeout_ms`);
/// 8. the throttle of failed authentication (`limits.auth_failures_per_minute`): a peer IP that
///    failed too often is refused before its key is looked at;
/// 9. authentication and authorization: the principal of the API key, or UNAUTHENTICATED; a
///    call outside its role (or a tenant's policy), PERMISSION_DENIED (health and reflection are
///    exempt), after admission so that only admitted calls pay for it;
/// 10. the tenant's quota (rate and calls in progress, per replica): RESOURCE_EXHAUSTED with
///     QuotaFailure. Innermost, so that only authenticated tenant calls count.
pub fn build_stack(limits: &Limits, access: Arc<Access>) -> GatewayStack {
    let refusals = access.refusals().clone();
    ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(http::HeaderName::from_static(REQUEST_ID_HEADER), MakeRequestUuid))
        .layer(
            TraceLayer::new_for_grpc().make_span_with(call_span::<Body> as fn(&http::Request<Body>) -> tracing::Span),
        )
        .layer(PropagateRequestIdLayer::new(http::HeaderName::from_static(REQUEST_ID_HEADER)))
        .map_result(admission_errors_to_status::<Body> as fn(AdmissionResult) -> AdmissionResult)
        .load_shed()
        .layer(GlobalConcurrencyLimitLayer::new(limits.max_concurrent_requests))
        .timeout(Duration::from_millis(limits.request_timeout_ms))
        .layer(ThrottleLayer::new(limits))
        .layer(AuthenticateLayer::new(access))
        .layer(QuotaLayer::new(refusals))
        .into_inner()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    //! The tower stack of [`build_stack`] around a service that holds each call until released.

    use std::convert::Infallible;

    use tokio::sync::watch;
    use tonic::body::Body;
    use tower::{Layer, ServiceExt};

    use super::*;
    use crate::settings::TenantSettings;

    const KEY: &str = "key-bank-a";

    /// The directory of one tenant on a journal in a temporary directory (kept for the process).
    fn access() -> Arc<Access> {
        let dir = Box::leak(Box::new(tempfile::tempdir().unwrap()));
        let store = Arc::new(jpki_store::JournalStore::open(dir.path().join("store.journal")).unwrap());
        let directory = jpki_app::directory::Directory::new(store);
        let config = crate::settings::GatewayConfig {
            tenants: vec![TenantSettings::with_key("bank-a", KEY)],
            ..crate::settings::GatewayConfig::default()
        };
        let (principals, keys) = crate::auth::configured_principals(&config).unwrap();
        directory.bootstrap(&principals, jpki_app::clock::now().0).unwrap();
        Arc::new(Access::new(directory, keys, std::collections::HashMap::new(), Duration::from_secs(5)))
    }

    fn request(request_id: Option<&str>) -> http::Request<Body> {
        call("/jpki.gateway.v1.VerificationService/IssueChallenge", Some(KEY), request_id)
    }

    fn call(path: &str, key: Option<&str>, request_id: Option<&str>) -> http::Request<Body> {
        let mut builder = http::Request::builder()
            .method("POST")
            .uri(format!("http://localhost{path}"))
            .header("content-type", "application/grpc");
        if let Some(key) = key {
            builder = builder.header("authorization", format!("Bearer {key}"));
        }
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
            build_stack(limits, access()).layer(inner).map_response(|response: http::Response<_>| response.map(|_| ())),
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
        // No details at all: a client tells shedding from its quota (QuotaFailure) and from the
        // throttle of failed authentication (ErrorInfo) by them.
        let status = tonic::Status::from_header_map(shed.headers()).expect("a status in the headers");
        assert!(status.details().is_empty(), "shedding carries no details: {status:?}");
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

    #[tokio::test]
    async fn a_call_without_a_known_key_is_refused_before_any_service() {
        let (started_sender, mut started) = tokio::sync::mpsc::unbounded_channel();
        let (_release, released) = watch::channel(true);
        let service = stack(&Limits::default(), started_sender, released);
        let path = "/jpki.gateway.v1.StatusService/CheckStatus";
        for key in [None, Some("not-a-key")] {
            let refused = guarded(service.clone().oneshot(call(path, key, Some("r-1")))).await.unwrap();
            assert_eq!(grpc_status(&refused), Some("16"), "UNAUTHENTICATED for {key:?}");
            assert_eq!(request_id(&refused), Some("r-1"), "refusals carry the request id");
        }
        assert!(started.try_recv().is_err(), "no refused call reached the service");
        let admitted = guarded(service.oneshot(call(path, Some(KEY), None))).await.unwrap();
        assert_eq!(grpc_status(&admitted), None);
        assert!(started.try_recv().is_ok());
    }

    #[tokio::test]
    async fn health_and_reflection_need_no_key() {
        let (started_sender, mut started) = tokio::sync::mpsc::unbounded_channel();
        let (_release, released) = watch::channel(true);
        let service = stack(&Limits::default(), started_sender, released);
        for path in [
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            let answered = guarded(service.clone().oneshot(call(path, None, None))).await.unwrap();
            assert_eq!(grpc_status(&answered), None, "{path}");
            assert!(started.try_recv().is_ok(), "{path} reached the service");
        }
    }
}
