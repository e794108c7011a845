//! Per-tenant quotas: [`QuotaLayer`] admits a tenant's call if its rate (a `governor` bucket of
//! `requests_per_second` refilling up to `burst`) and its calls in progress (`max_concurrent`,
//! streams included until their body ends) allow it; otherwise RESOURCE_EXHAUSTED with
//! `google.rpc.QuotaFailure` and `google.rpc.RetryInfo`.
//!
//! Quotas hold **per replica**: nothing is shared between gateway processes, so a tenant's
//! cluster-wide rate is its quota × the replicas serving it (docs/tenancy.md#quotas).
//!
//! The layer sits inside authentication and reads `Tenant.policy.quota` on every call: a changed
//! quota rebuilds the tenant's bucket (full again) and keeps its count of calls in progress.

use std::collections::HashMap;
use std::future::Future;
use std::num::NonZeroU32;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, RateLimiter};
use jpki_app::Tenant;
use jpki_app::tenant::Quota;
use jpki_store::TenantId;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `RetryInfo` delay of a call refused for concurrency: when a call ends is unknown, so a short
/// fixed pause rather than a promise.
pub const CONCURRENCY_RETRY_DELAY: Duration = Duration::from_millis(100);

/// The map is swept once it holds this many entries (and then at twice what the sweep kept).
const SWEEP_FLOOR: usize = 1024;

/// Why a call was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Refusal {
    /// The tenant's rate is spent; a call is admitted again after `retry_after` (governor's wait).
    Rate {
        /// The quota that refused.
        quota: Quota,
        /// When the bucket holds a call again.
        retry_after: Duration,
    },
    /// The tenant already has `quota.max_concurrent` calls in progress.
    Concurrency {
        /// The quota that refused.
        quota: Quota,
    },
}

impl Refusal {
    /// RESOURCE_EXHAUSTED with `QuotaFailure` (subject `tenant:<id>`, the description naming the
    /// rate or the concurrency) and `RetryInfo`. Load shedding has no details: that is how a client
    /// tells its own quota from an overloaded replica.
    pub fn status(&self, tenant: &TenantId) -> Status {
        let (description, retry_after) = match *self {
            Refusal::Rate { quota, retry_after } => (
                format!(
                    "rate quota: {} calls per second, burst {}, on this replica",
                    quota.requests_per_second, quota.burst
                ),
                retry_after,
            ),
            Refusal::Concurrency { quota } => (
                format!("concurrency quota: {} calls in progress on this replica", quota.max_concurrent),
                CONCURRENCY_RETRY_DELAY,
            ),
        };
        let mut details =
            ErrorDetails::with_quota_failure_violation(format!("tenant:{}", tenant.as_str()), description);
        details.set_retry_info(Some(retry_after));
        Status::with_error_details(Code::ResourceExhausted, "the tenant's quota is exhausted; retry later", details)
    }
}

/// One call in progress for a tenant; dropping it ends the call.
#[derive(Debug)]
pub struct InFlight(Arc<AtomicU32>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A tenant's limiter state.
struct Entry {
    /// The quota the bucket was built for.
    quota: Quota,
    rate: DefaultDirectRateLimiter,
    /// Kept across a rebuild: calls in progress still count against a changed quota.
    in_flight: Arc<AtomicU32>,
    last_used: Instant,
}

impl Entry {
    fn new(quota: Quota, clock: &DefaultClock, in_flight: Arc<AtomicU32>, now: Instant) -> Self {
        Entry { quota, rate: RateLimiter::direct_with_clock(bucket(quota), clock.clone()), in_flight, last_used: now }
    }

    /// Idle with a full bucket: dropping it loses nothing (a new one would be the same).
    fn forgettable(&self, now: Instant) -> bool {
        let refill = Duration::from_secs_f64(
            f64::from(self.quota.burst.max(1)) / f64::from(self.quota.requests_per_second.max(1)),
        );
        self.in_flight.load(Ordering::Acquire) == 0 && now.saturating_duration_since(self.last_used) > refill
    }
}

/// governor's quota for ours. The settings refuse zeros; a zero set elsewhere counts as one
/// (governor cannot express an empty bucket).
fn bucket(quota: Quota) -> governor::Quota {
    let rate = NonZeroU32::new(quota.requests_per_second).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(quota.burst).unwrap_or(NonZeroU32::MIN);
    governor::Quota::per_second(rate).allow_burst(burst)
}

struct Entries {
    by_tenant: HashMap<TenantId, Entry>,
    sweep_at: usize,
}

/// The limiter state of every tenant seen recently, keyed by tenant id.
///
/// Bounded: once the map reaches its sweep mark it drops the entries that are idle with a full
/// bucket and no call in progress, and sets the mark to twice what is left (at least
/// [`SWEEP_FLOOR`]), so memory follows the tenants active within their refill time.
pub struct TenantLimiters {
    clock: DefaultClock,
    sweep_floor: usize,
    entries: Mutex<Entries>,
}

impl std::fmt::Debug for TenantLimiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantLimiters").field("tenants", &self.len()).finish()
    }
}

impl Default for TenantLimiters {
    fn default() -> Self {
        TenantLimiters::with_sweep_floor(SWEEP_FLOOR)
    }
}

impl TenantLimiters {
    fn with_sweep_floor(sweep_floor: usize) -> Self {
        TenantLimiters {
            clock: DefaultClock::default(),
            sweep_floor,
            entries: Mutex::new(Entries { by_tenant: HashMap::new(), sweep_at: sweep_floor }),
        }
    }

    /// Admits one call of `tenant` under its current quota, or says why not. Concurrency is
    /// checked first, so that a call refused for it does not spend the rate.
    pub fn admit(&self, tenant: &Tenant, now: Instant) -> Result<InFlight, Refusal> {
        let quota = tenant.policy.quota;
        // A panic elsewhere while holding the lock leaves counters that are still consistent.
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if !entries.by_tenant.contains_key(&tenant.id) && entries.by_tenant.len() >= entries.sweep_at {
            entries.by_tenant.retain(|_, entry| !entry.forgettable(now));
            entries.sweep_at = (entries.by_tenant.len() * 2).max(self.sweep_floor);
        }
        let entry = entries
            .by_tenant
            .entry(tenant.id.clone())
            .or_insert_with(|| Entry::new(quota, &self.clock, Arc::default(), now));
        if entry.quota != quota {
            *entry = Entry::new(quota, &self.clock, entry.in_flight.clone(), now);
        }
        entry.last_used = now;
        // Increments happen under the lock only, so the check cannot be overtaken.
        if entry.in_flight.load(Ordering::Acquire) >= quota.max_concurrent {
            return Err(Refusal::Concurrency { quota });
        }
        if let Err(not_until) = entry.rate.check() {
            return Err(Refusal::Rate { quota, retry_after: not_until.wait_time_from(self.clock.now()) });
        }
        entry.in_flight.fetch_add(1, Ordering::AcqRel);
        Ok(InFlight(entry.in_flight.clone()))
    }

    /// How many tenants have state.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).by_tenant.len()
    }

    /// Whether no tenant has state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The tower layer of per-tenant quotas. Calls without a tenant (health, reflection) pass.
#[derive(Clone, Debug, Default)]
pub struct QuotaLayer {
    limiters: Arc<TenantLimiters>,
    refusals: Arc<crate::refusals::Refusals>,
}

impl QuotaLayer {
    /// A layer with fresh state (one per server: its clones share it), counting its refusals in
    /// `refusals` (the audit log's aggregates).
    pub fn new(refusals: Arc<crate::refusals::Refusals>) -> Self {
        QuotaLayer { limiters: Arc::default(), refusals }
    }
}

impl<S> tower::Layer<S> for QuotaLayer {
    type Service = QuotaService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        QuotaService { inner, limiters: self.limiters.clone(), refusals: self.refusals.clone() }
    }
}

/// The service of [`QuotaLayer`].
#[derive(Clone, Debug)]
pub struct QuotaService<S> {
    inner: S,
    limiters: Arc<TenantLimiters>,
    refusals: Arc<crate::refusals::Refusals>,
}

type Body = tonic::body::Body;
type BoxedResponse<E> = Pin<Box<dyn Future<Output = Result<http::Response<Body>, E>> + Send>>;

impl<S, B> tower::Service<http::Request<B>> for QuotaService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>> + Clone,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future =
        futures_util::future::Either<std::future::Ready<Result<Self::Response, S::Error>>, BoxedResponse<S::Error>>;

    fn poll_ready(&mut self, context: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(context)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        use futures_util::future::Either;
        // As in auth.rs: the service made ready answers; a refusal drops it.
        let clone = self.inner.clone();
        let mut ready = std::mem::replace(&mut self.inner, clone);
        let Some(tenant) = request.extensions().get::<Arc<Tenant>>().cloned() else {
            let future = ready.call(request);
            return Either::Right(Box::pin(future));
        };
        match self.limiters.admit(&tenant, Instant::now()) {
            Ok(in_flight) => {
                let future = ready.call(request);
                Either::Right(Box::pin(async move {
                    let response = future.await?;
                    Ok(response.map(|body| Body::new(HeldBody { body, in_flight: Some(in_flight) })))
                }))
            }
            Err(refusal) => {
                tracing::debug!(tenant = %tenant.id.as_str(), ?refusal, "quota refused a call");
                self.refusals.record(&tenant.id, tenant.id.as_str(), tonic::Code::ResourceExhausted);
                Either::Left(std::future::ready(Ok(refusal.status(&tenant.id).into_http())))
            }
        }
    }
}

/// A response body that holds the call's [`InFlight`] until it ends or is dropped, so that an
/// open stream counts as a call in progress.
struct HeldBody {
    body: Body,
    in_flight: Option<InFlight>,
}

impl http_body::Body for HeldBody {
    type Data = <Body as http_body::Body>::Data;
    type Error = <Body as http_body::Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(context);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) {
            self.in_flight = None;
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use jpki_app::FieldPermissions;
    use jpki_app::tenant::TenantPolicy;

    use super::*;

    fn tenant(id: &str, requests_per_second: u32, burst: u32, max_concurrent: u32) -> Tenant {
        let mut policy = TenantPolicy::everything();
        policy.quota = Quota { requests_per_second, burst, max_concurrent };
        Tenant { id: TenantId::new(id).unwrap(), fields: FieldPermissions::default(), policy }
    }

    #[test]
    fn the_burst_then_a_rate_refusal_with_a_wait() {
        let limiters = TenantLimiters::default();
        let a = tenant("bank-a", 1, 2, 10);
        let now = Instant::now();
        let _first = limiters.admit(&a, now).unwrap();
        let _second = limiters.admit(&a, now).unwrap();
        match limiters.admit(&a, now) {
            Err(Refusal::Rate { quota, retry_after }) => {
                assert_eq!(quota, a.policy.quota);
                assert!(retry_after > Duration::ZERO && retry_after <= Duration::from_secs(1), "{retry_after:?}");
            }
            other => panic!("{other:?}"),
        }
        // Another tenant has its own bucket.
        assert!(limiters.admit(&tenant("bank-b", 1, 2, 10), now).is_ok());
    }

    #[test]
    fn calls_in_progress_are_limited_until_dropped() {
        let limiters = TenantLimiters::default();
        let a = tenant("bank-a", 100, 100, 1);
        let now = Instant::now();
        let held = limiters.admit(&a, now).unwrap();
        assert!(matches!(limiters.admit(&a, now), Err(Refusal::Concurrency { .. })));
        drop(held);
        assert!(limiters.admit(&a, now).is_ok());
    }

    #[test]
    fn a_changed_quota_rebuilds_the_bucket_and_keeps_the_calls_in_progress() {
        let limiters = TenantLimiters::default();
        let now = Instant::now();
        let before = tenant("bank-a", 1, 1, 2);
        let held = limiters.admit(&before, now).unwrap();
        assert!(matches!(limiters.admit(&before, now), Err(Refusal::Rate { .. })));
        // A larger burst takes effect at once: a new, full bucket.
        let larger = tenant("bank-a", 1, 5, 2);
        let _second = limiters.admit(&larger, now).unwrap();
        // The call admitted under the old quota still counts against the new one.
        let narrower = tenant("bank-a", 1, 5, 1);
        assert!(matches!(limiters.admit(&narrower, now), Err(Refusal::Concurrency { .. })));
        drop(held);
        drop(_second);
        assert!(limiters.admit(&narrower, now).is_ok());
        assert_eq!(limiters.len(), 1);
    }

    #[test]
    fn memory_follows_the_active_tenants() {
        let limiters = TenantLimiters::with_sweep_floor(8);
        let start = Instant::now();
        // A call in progress keeps its tenant.
        let busy = tenant("busy", 1000, 1, 1);
        let held = limiters.admit(&busy, start).unwrap();
        for index in 0..1000u64 {
            // Each tenant's bucket (1 call, 1000 per second) is full again 1 ms after its call.
            let now = start + Duration::from_secs(index + 1);
            limiters.admit(&tenant(&format!("t-{index}"), 1000, 1, 1), now).unwrap();
            assert!(limiters.len() <= 16, "{} entries after {index} tenants", limiters.len());
        }
        let late = start + Duration::from_secs(5000);
        assert!(matches!(limiters.admit(&busy, late), Err(Refusal::Concurrency { .. })), "the busy tenant was kept");
        drop(held);
    }

    #[test]
    fn the_status_names_the_tenant_and_the_limit() {
        let quota = Quota { requests_per_second: 1, burst: 2, max_concurrent: 3 };
        let id = TenantId::new("bank-a").unwrap();
        let rate = Refusal::Rate { quota, retry_after: Duration::from_millis(700) }.status(&id);
        assert_eq!(rate.code(), Code::ResourceExhausted);
        let failure = rate.get_details_quota_failure().unwrap();
        assert_eq!(failure.violations[0].subject, "tenant:bank-a");
        assert!(failure.violations[0].description.starts_with("rate quota"));
        assert_eq!(rate.get_details_retry_info().unwrap().retry_delay, Some(Duration::from_millis(700)));
        let concurrency = Refusal::Concurrency { quota }.status(&id);
        assert!(concurrency.get_details_quota_failure().unwrap().violations[0].description.starts_with("concurrency"));
        assert_eq!(concurrency.get_details_retry_info().unwrap().retry_delay, Some(CONCURRENCY_RETRY_DELAY));
    }
}
