//! Time as the use cases see it: passed in, so that tests can fix it and the core stays pure.

use jpki_core::UnixTime;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in whole seconds since the Unix epoch.
    fn now(&self) -> UnixTime;
}

/// The system's wall clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        now()
    }
}

/// The system's current time (for loaders and background tasks that have no [`Clock`]).
pub fn now() -> UnixTime {
    UnixTime(time::OffsetDateTime::now_utc().unix_timestamp())
}

/// A clock that stands still until moved (tests).
#[derive(Debug, Default)]
pub struct FixedClock(std::sync::atomic::AtomicI64);

impl FixedClock {
    /// A clock showing `at`.
    pub fn new(at: UnixTime) -> Self {
        FixedClock(std::sync::atomic::AtomicI64::new(at.0))
    }

    /// Moves it by `seconds` (negative moves it back).
    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for FixedClock {
    fn now(&self) -> UnixTime {
        UnixTime(self.0.load(std::sync::atomic::Ordering::SeqCst))
    }
}
