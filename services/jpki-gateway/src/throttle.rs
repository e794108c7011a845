//! The throttle of failed authentication: [`ThrottleLayer`], outside authentication, counts per
//! peer IP the calls answered UNAUTHENTICATED (a `governor` keyed bucket of
//! `limits.auth_failures_per_minute`, up to `limits.auth_failure_burst` at once). A peer whose
//! failures spend its bucket is then answered at once, before authentication, until the bucket
//! holds a failure again: RESOURCE_EXHAUSTED with `google.rpc.RetryInfo` and `google.rpc.ErrorInfo`
//! reason [`THROTTLED_REASON`], whatever key it sends, so the answer never tells whether a key exists.
//!
//! Why RESOURCE_EXHAUSTED and not UNAVAILABLE: gRPC clients and retry policies retry UNAVAILABLE
//! at once and read it as "this replica is down" (failover, alerts), which would multiply a
//! misconfigured client's calls; RESOURCE_EXHAUSTED with a delay says "you, slow down, for this
//! long". Its details tell it from load shedding (none) and from a tenant's quota (`QuotaFailure`).
//!
//! Successful calls are never counted. Peers are told apart by IP only (a peer's ports are one
//! client); a connection without address information shares one bucket with all such. Behind a
//! proxy that hides client addresses, every client is one peer: raise the limits or turn the
//! throttle off (`auth_failures_per_minute = 0`).

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::keyed::DefaultKeyedStateStore;
use governor::{Quota, RateLimiter};
use tonic::transport::server::{TcpConnectInfo, TlsConnectInfo};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::settings::Limits;

/// The `ErrorInfo.reason` of a throttled call.
pub const THROTTLED_REASON: &str = "AUTHENTICATION_FAILURES_THROTTLED";

/// How often the state of peers that stopped failing is dropped.
const SWEEP_INTERVAL: Duration = Duration::from_secs(60);

/// A peer: its IP, or `None` for every connection without address information.
type Peer = Option<IpAddr>;

type FailureLimiter = RateLimiter<Peer, DefaultKeyedStateStore<Peer>, DefaultClock, StateInformationMiddleware>;

/// The failures per peer and the peers blocked until a time.
pub struct AuthFailures {
    limiter: FailureLimiter,
    clock: DefaultClock,
    state: Mutex<Blocked>,
}

struct Blocked {
    until: HashMap<Peer, Instant>,
    next_sweep: Instant,
}

impl std::fmt::Debug for AuthFailures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthFailures").field("peers", &self.limiter.len()).finish()
    }
}

impl AuthFailures {
    /// The throttle of `limits`, or `None` when `auth_failures_per_minute` is 0 (off).
    pub fn from_limits(limits: &Limits) -> Option<Self> {
        let per_minute = NonZeroU32::new(limits.auth_failures_per_minute)?;
        let burst = NonZeroU32::new(limits.auth_failure_burst).unwrap_or(NonZeroU32::MIN);
        let clock = DefaultClock::default();
        let limiter = FailureLimiter::new(
            Quota::per_minute(per_minute).allow_burst(burst),
            DefaultKeyedStateStore::default(),
            clock.clone(),
        );
        let state = Mutex::new(Blocked { until: HashMap::new(), next_sweep: Instant::now() + SWEEP_INTERVAL });
        Some(AuthFailures { limiter, clock, state })
    }

    /// How long `peer` stays blocked, if it is; sweeps the state now and then.
    pub fn blocked(&self, peer: Peer, now: Instant) -> Option<Duration> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if now >= state.next_sweep {
            state.next_sweep = now + SWEEP_INTERVAL;
            state.until.retain(|_, until| *until > now);
            // governor drops the peers whose bucket is full again.
            self.limiter.retain_recent();
            self.limiter.shrink_to_fit();
        }
        let until = *state.until.get(&peer)?;
        if until > now {
            Some(until - now)
        } else {
            state.until.remove(&peer);
            None
        }
    }

    /// Counts one failed authentication of `peer`; the one that empties its bucket blocks it
    /// until the bucket holds one again.
    pub fn failed(&self, peer: Peer, now: Instant) {
        let wait = match self.limiter.check_key(&peer) {
            Ok(snapshot) if snapshot.remaining_burst_capacity() > 0 => return,
            Ok(snapshot) => snapshot.quota().replenish_interval(),
            Err(not_until) => not_until.wait_time_from(self.clock.now()),
        };
        tracing::warn!(peer = ?peer, wait_ms = wait.as_millis() as u64, "too many failed authentications: peer throttled");
        self.state.lock().unwrap_or_else(PoisonError::into_inner).until.insert(peer, now + wait);
    }

    /// How many peers have failure state.
    pub fn peers(&self) -> usize {
        self.limiter.len()
    }
}

/// The answer to a blocked peer.
pub fn throttled_status(retry_after: Duration) -> Status {
    let mut details = ErrorDetails::with_retry_info(Some(retry_after));
    details.set_error_info(THROTTLED_REASON, "jpki-gateway", HashMap::new());
    Status::with_error_details(
        Code::ResourceExhausted,
        "too many failed authentications from this address; retry later",
        details,
    )
}

/// The peer of a request, from the connection information tonic puts in its extensions.
pub fn peer_of<B>(request: &http::Request<B>) -> Peer {
    let extensions = request.extensions();
    let tcp = extensions
        .get::<TcpConnectInfo>()
        .or_else(|| extensions.get::<TlsConnectInfo<TcpConnectInfo>>().map(TlsConnectInfo::get_ref));
    tcp.and_then(TcpConnectInfo::remote_addr).map(|address| address.ip())
}

/// The tower layer of the throttle; with the throttle off it passes every call.
#[derive(Clone, Debug)]
pub struct ThrottleLayer {
    failures: Option<Arc<AuthFailures>>,
}

impl ThrottleLayer {
    /// The layer of `limits` (one per server: its clones share the state).
    pub fn new(limits: &Limits) -> Self {
        ThrottleLayer { failures: AuthFailures::from_limits(limits).map(Arc::new) }
    }
}

impl<S> tower::Layer<S> for ThrottleLayer {
    type Service = Throttle<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Throttle { inner, failures: self.failures.clone() }
    }
}

/// The service of [`ThrottleLayer`].
#[derive(Clone, Debug)]
pub struct Throttle<S> {
    inner: S,
    failures: Option<Arc<AuthFailures>>,
}

type BoxedResponse<R, E> = Pin<Box<dyn Future<Output = Result<http::Response<R>, E>> + Send>>;

impl<S, B, R> tower::Service<http::Request<B>> for Throttle<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone,
    S::Future: Send + 'static,
    R: Default,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<std::future::Ready<Result<Self::Response, S::Error>>, BoxedResponse<R, S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use futures_util::future::Either;
        // As in auth.rs: the service made ready answers; a refusal drops it.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let Some(failures) = self.failures.clone() else {
            return Either::Right(Box::pin(ready.call(request)));
        };
        let peer = peer_of(&request);
        if let Some(retry_after) = failures.blocked(peer, Instant::now()) {
            return Either::Left(std::future::ready(Ok(throttled_status(retry_after).into_http())));
        }
        let future = ready.call(request);
        Either::Right(Box::pin(async move {
            let response = future.await?;
            // Authentication answers trailers-only: its status is in the headers.
            if response.headers().get("grpc-status").is_some_and(|status| status.as_bytes() == b"16") {
                failures.failed(peer, Instant::now());
            }
            Ok(response)
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn failures(per_minute: u32, burst: u32) -> AuthFailures {
        let limits = Limits { auth_failures_per_minute: per_minute, auth_failure_burst: burst, ..Limits::default() };
        AuthFailures::from_limits(&limits).unwrap()
    }

    #[test]
    fn the_failure_that_spends_the_budget_blocks_that_peer_only() {
        let failures = failures(10, 3);
        let now = Instant::now();
        let bad: Peer = Some("192.0.2.1".parse().unwrap());
        let other: Peer = Some("192.0.2.2".parse().unwrap());
        for _ in 0..2 {
            failures.failed(bad, now);
            assert_eq!(failures.blocked(bad, now), None);
        }
        failures.failed(bad, now);
        let wait = failures.blocked(bad, now).expect("blocked after 3 failures");
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(6), "{wait:?}");
        assert_eq!(failures.blocked(other, now), None);
        assert_eq!(failures.blocked(None, now), None);
        // The block ends when the bucket holds a failure again.
        assert_eq!(failures.blocked(bad, now + wait), None);
    }

    #[test]
    fn off_at_zero() {
        let limits = Limits { auth_failures_per_minute: 0, ..Limits::default() };
        assert!(AuthFailures::from_limits(&limits).is_none());
    }

    #[test]
    fn the_sweep_drops_expired_blocks() {
        let failures = failures(600, 1);
        let now = Instant::now();
        for index in 0..100u8 {
            failures.failed(Some(IpAddr::from([192, 0, 2, index])), now);
        }
        assert_eq!(failures.state.lock().unwrap().until.len(), 100);
        // 600 per minute: each bucket is full again 100 ms later; the sweep runs a minute later.
        let later = now + SWEEP_INTERVAL + Duration::from_secs(1);
        assert_eq!(failures.blocked(None, later), None);
        assert!(failures.state.lock().unwrap().until.is_empty());
    }

    #[test]
    fn the_throttled_answer_has_retry_info_and_a_reason_but_no_quota_failure() {
        let status = throttled_status(Duration::from_secs(6));
        assert_eq!(status.code(), Code::ResourceExhausted);
        assert_eq!(status.get_details_retry_info().unwrap().retry_delay, Some(Duration::from_secs(6)));
        assert_eq!(status.get_details_error_info().unwrap().reason, THROTTLED_REASON);
        assert!(status.get_details_quota_failure().is_none());
    }
}
