//! Durable send queue (DESIGN §5): the table ([`queue`]), the worker ([`worker`]) and the
//! pure parts the worker is built on, each with its tests: retry backoff ([`backoff`]), the per-channel circuit breaker
//! ([`circuit`]), the per-bot rate limit ([`ratelimit`]) and the choice of channel along a
//! bot's fallback chain ([`route`]). No I/O, no clock: time is always an argument, any
//! [`Moment`] (std or tokio `Instant`, or `DateTime<Utc>` for times stored in SQLite).

pub mod backoff;
pub mod circuit;
pub mod queue;
pub mod ratelimit;
pub mod route;
mod step;
pub mod worker;

use std::time::Duration;

use chrono::{DateTime, Utc};

pub use backoff::{Jitter, RetryDecision, RetryPolicy};
pub use circuit::{CircuitBreaker, CircuitPolicy, CircuitState, Transition};
pub use ratelimit::{RateLimit, RateLimiter, TokenBucket};
pub use route::{Circuits, Route};
pub use step::{next_step, Step};

/// A point in time the pure outbox parts can compute with.
pub trait Moment: Copy + Ord + std::fmt::Debug {
    /// `self + d`, saturating at the far future.
    fn plus(self, d: Duration) -> Self;
    /// `self - earlier`, zero if `earlier` is later.
    fn since(self, earlier: Self) -> Duration;
}

impl Moment for std::time::Instant {
    fn plus(self, d: Duration) -> Self {
        self.checked_add(d)
            .unwrap_or_else(|| self + Duration::from_secs(86_400 * 365 * 30))
    }
    fn since(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl Moment for tokio::time::Instant {
    fn plus(self, d: Duration) -> Self {
        self.checked_add(d)
            .unwrap_or_else(|| self + Duration::from_secs(86_400 * 365 * 30))
    }
    fn since(self, earlier: Self) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl Moment for DateTime<Utc> {
    fn plus(self, d: Duration) -> Self {
        chrono::TimeDelta::from_std(d)
            .ok()
            .and_then(|d| self.checked_add_signed(d))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
    fn since(self, earlier: Self) -> Duration {
        (self - earlier).to_std().unwrap_or(Duration::ZERO)
    }
}

/// Serde for `Duration` as integer milliseconds (config files, the API).
pub mod duration_ms {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_moments_add_and_subtract() {
        let t = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("time");
        let later = t.plus(Duration::from_secs(90));
        assert_eq!(later.since(t), Duration::from_secs(90));
        assert_eq!(t.since(later), Duration::ZERO);
        assert_eq!(t.plus(Duration::MAX), DateTime::<Utc>::MAX_UTC);
    }
}
