//! Exponential backoff with jitter for retriable send failures.
//!
//! After the k-th failed attempt the next one waits `min(cap, base * 2^(k-1))`, jittered
//! (full: uniform in [0, d]; equal: d/2 + uniform in [0, d/2]) so a recovering provider is
//! not hit by every queued message at the same instant. A provider's `Retry-After` is a
//! floor. After `max_attempts` attempts the message is dead-lettered.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::duration_ms;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Jitter {
    None,
    Full,
    Equal,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    #[serde(rename = "base_ms", with = "duration_ms")]
    pub base: Duration,
    #[serde(rename = "cap_ms", with = "duration_ms")]
    pub cap: Duration,
    /// Total send attempts, the first included.
    pub max_attempts: u32,
    pub jitter: Jitter,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(300),
            max_attempts: 8,
            jitter: Jitter::Full,
        }
    }
}

/// What to do after a retriable failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    RetryIn(Duration),
    /// Attempts exhausted: dead-letter the message with its last error.
    GiveUp,
}

impl RetryPolicy {
    /// The un-jittered delay after `attempts` failed attempts (1 = after the first).
    pub fn ceiling(&self, attempts: u32) -> Duration {
        let exp = attempts.saturating_sub(1).min(31);
        self.base
            .checked_mul(1u32 << exp)
            .unwrap_or(self.cap)
            .min(self.cap)
    }

    /// The jittered delay after `attempts` failed attempts.
    pub fn delay(&self, attempts: u32, rng: &mut impl Rng) -> Duration {
        let d = self.ceiling(attempts);
        let nanos = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => Duration::from_nanos(rng.gen_range(0..=nanos)),
            Jitter::Equal => {
                let half = nanos / 2;
                Duration::from_nanos(half + rng.gen_range(0..=nanos - half))
            }
        }
    }

    /// Decision after the `attempts`-th attempt failed retriably.
    pub fn after_failure(
        &self,
        attempts: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> RetryDecision {
        if attempts >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        let d = self.delay(attempts, rng);
        RetryDecision::RetryIn(match retry_after {
            Some(floor) => d.max(floor.min(self.cap)),
            None => d,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn doubles_from_one_second_up_to_five_minutes() {
        let p = RetryPolicy::default();
        let ceilings: Vec<u64> = (1..=10).map(|k| p.ceiling(k).as_secs()).collect();
        assert_eq!(ceilings, vec![1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(p.ceiling(1000), Duration::from_secs(300));
    }

    #[test]
    fn full_jitter_stays_within_the_ceiling_and_equal_jitter_above_half() {
        let mut rng = StdRng::seed_from_u64(7);
        let full = RetryPolicy::default();
        let equal = RetryPolicy {
            jitter: Jitter::Equal,
            ..full
        };
        for k in 1..=12 {
            for _ in 0..50 {
                assert!(full.delay(k, &mut rng) <= full.ceiling(k));
                let d = equal.delay(k, &mut rng);
                assert!(d >= equal.ceiling(k) / 2 && d <= equal.ceiling(k));
            }
        }
    }

    #[test]
    fn gives_up_after_max_attempts() {
        let mut rng = StdRng::seed_from_u64(1);
        let p = RetryPolicy {
            jitter: Jitter::None,
            ..RetryPolicy::default()
        };
        assert_eq!(
            p.after_failure(1, None, &mut rng),
            RetryDecision::RetryIn(Duration::from_secs(1))
        );
        assert_eq!(
            p.after_failure(7, None, &mut rng),
            RetryDecision::RetryIn(Duration::from_secs(64))
        );
        assert_eq!(p.after_failure(8, None, &mut rng), RetryDecision::GiveUp);
    }

    #[test]
    fn retry_after_is_a_floor_but_never_beyond_the_cap() {
        let mut rng = StdRng::seed_from_u64(1);
        let p = RetryPolicy {
            jitter: Jitter::None,
            ..RetryPolicy::default()
        };
        assert_eq!(
            p.after_failure(1, Some(Duration::from_secs(6)), &mut rng),
            RetryDecision::RetryIn(Duration::from_secs(6))
        );
        assert_eq!(
            p.after_failure(1, Some(Duration::from_secs(3600)), &mut rng),
            RetryDecision::RetryIn(Duration::from_secs(300))
        );
    }

    #[test]
    fn policy_reads_from_config_in_milliseconds() {
        let p: RetryPolicy = serde_json::from_str(
            r#"{"base_ms":500,"cap_ms":60000,"max_attempts":3,"jitter":"equal"}"#,
        )
        .expect("policy");
        assert_eq!(p.base, Duration::from_millis(500));
        assert_eq!(p.jitter, Jitter::Equal);
    }
}
