//! Per-bot send rate limit: a token bucket (computed as GCRA, so no float drift and no
//! background refill). `per_minute` tokens come back evenly over a minute; `burst` is the
//! bucket size. In any window of t seconds at most `burst + per_minute * t / 60` sends pass.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::Moment;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimit {
    pub per_minute: u32,
    pub burst: u32,
}

impl Default for RateLimit {
    fn default() -> Self {
        RateLimit {
            per_minute: 60,
            burst: 10,
        }
    }
}

impl RateLimit {
    pub fn per_minute(per_minute: u32) -> Self {
        RateLimit {
            per_minute,
            ..RateLimit::default()
        }
    }

    /// Time for one token to come back.
    pub fn interval(&self) -> Duration {
        Duration::from_secs(60) / self.per_minute.max(1)
    }
}

/// One bucket. `Err(t)` means "no token now; one will be there at `t`".
#[derive(Debug, Clone)]
pub struct TokenBucket<T> {
    limit: RateLimit,
    /// Theoretical arrival time of the next send with an empty bucket.
    tat: Option<T>,
}

impl<T: Moment> TokenBucket<T> {
    pub fn new(limit: RateLimit) -> Self {
        TokenBucket { limit, tat: None }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Changes the limit, keeping what was already spent.
    pub fn set_limit(&mut self, limit: RateLimit) {
        self.limit = limit;
    }

    fn tolerance(&self) -> Duration {
        self.limit.interval() * self.limit.burst.max(1).saturating_sub(1)
    }

    /// Whether a token is available at `now`, without taking it.
    pub fn check(&self, now: T) -> Result<(), T> {
        let tat = self.tat.map_or(now, |t| t.max(now));
        let ahead = tat.since(now);
        let tolerance = self.tolerance();
        if ahead > tolerance {
            Err(now.plus(ahead - tolerance))
        } else {
            Ok(())
        }
    }

    /// Takes a token at `now`, or says when the next one will be available.
    pub fn try_acquire(&mut self, now: T) -> Result<(), T> {
        self.check(now)?;
        let tat = self.tat.map_or(now, |t| t.max(now));
        self.tat = Some(tat.plus(self.limit.interval()));
        Ok(())
    }
}

/// Buckets by key (bot id), each with the default limit unless told otherwise.
#[derive(Debug, Clone)]
pub struct RateLimiter<K, T> {
    default: RateLimit,
    buckets: HashMap<K, TokenBucket<T>>,
}

impl<K: Eq + Hash + Clone, T: Moment> RateLimiter<K, T> {
    pub fn new(default: RateLimit) -> Self {
        RateLimiter {
            default,
            buckets: HashMap::new(),
        }
    }

    /// Sets one key's limit (a bot's own configuration).
    pub fn set_limit(&mut self, key: K, limit: RateLimit) {
        self.buckets
            .entry(key)
            .and_modify(|b| b.set_limit(limit))
            .or_insert_with(|| TokenBucket::new(limit));
    }

    pub fn check(&self, key: &K, now: T) -> Result<(), T> {
        match self.buckets.get(key) {
            Some(b) => b.check(now),
            None => Ok(()),
        }
    }

    pub fn try_acquire(&mut self, key: &K, now: T) -> Result<(), T> {
        let default = self.default;
        self.buckets
            .entry(key.clone())
            .or_insert_with(|| TokenBucket::new(default))
            .try_acquire(now)
    }

    /// Forgets a key (bot deleted).
    pub fn remove(&mut self, key: &K) {
        self.buckets.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn burst_passes_then_one_per_interval() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(RateLimit {
            per_minute: 60,
            burst: 3,
        });
        for _ in 0..3 {
            assert_eq!(b.try_acquire(t0), Ok(()));
        }
        assert_eq!(b.try_acquire(t0), Err(t0 + Duration::from_secs(1)));
        assert_eq!(
            b.try_acquire(t0 + Duration::from_millis(999)),
            Err(t0 + Duration::from_secs(1))
        );
        assert_eq!(b.try_acquire(t0 + Duration::from_secs(1)), Ok(()));
        // Idle time refills up to the burst, never beyond.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..3 {
            assert_eq!(b.try_acquire(later), Ok(()));
        }
        assert!(b.try_acquire(later).is_err());
    }

    #[test]
    fn no_window_ever_sees_more_than_burst_plus_rate() {
        let t0 = Instant::now();
        let limit = RateLimit {
            per_minute: 60,
            burst: 10,
        };
        let mut b = TokenBucket::new(limit);
        let mut sent = Vec::new();
        // Try every 100 ms for five minutes.
        for step in 0..3000u64 {
            let now = t0 + Duration::from_millis(step * 100);
            if b.try_acquire(now).is_ok() {
                sent.push(now);
            }
        }
        for (i, start) in sent.iter().enumerate() {
            let in_window = sent[i..]
                .iter()
                .take_while(|t| t.duration_since(*start) < Duration::from_secs(60))
                .count();
            assert!(in_window <= 70, "{in_window} sends in one minute");
        }
        assert!(sent.len() >= 60 * 5);
    }

    #[test]
    fn bots_have_separate_buckets_and_their_own_limits() {
        let t0 = Instant::now();
        let mut r: RateLimiter<&str, Instant> = RateLimiter::new(RateLimit {
            per_minute: 60,
            burst: 1,
        });
        r.set_limit(
            "fast",
            RateLimit {
                per_minute: 600,
                burst: 1,
            },
        );
        assert!(r.try_acquire(&"a", t0).is_ok());
        assert!(r.try_acquire(&"a", t0).is_err());
        assert!(r.try_acquire(&"b", t0).is_ok());
        assert!(r.try_acquire(&"fast", t0).is_ok());
        assert_eq!(
            r.try_acquire(&"fast", t0),
            Err(t0 + Duration::from_millis(100))
        );
        assert!(r.check(&"unknown", t0).is_ok());
    }
}
