//! Circuit breaker per (bot, channel): stop hammering a provider that is down, probe it
//! again after a cooldown, trust it again after a few good sends.
//!
//! closed --N consecutive retriable failures--> open --cooldown--> half-open
//! half-open --M successes--> closed;  half-open --any failure--> open
//!
//! Only *retriable* failures count: a non-retriable error (bad number, outside the 24 h
//! window) says nothing about the provider's health.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{duration_ms, Moment};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CircuitPolicy {
    /// Consecutive retriable failures that open the circuit (N).
    pub failure_threshold: u32,
    /// How long an open circuit rejects calls before it lets a probe through.
    #[serde(rename = "cooldown_ms", with = "duration_ms")]
    pub cooldown: Duration,
    /// Successes in half-open that close it again (M).
    pub success_threshold: u32,
}

impl Default for CircuitPolicy {
    fn default() -> Self {
        CircuitPolicy {
            failure_threshold: 5,
            cooldown: Duration::from_secs(30),
            success_threshold: 2,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

/// A state change, returned so the caller can log it and bump a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition<T> {
    pub from: CircuitState,
    pub to: CircuitState,
    pub at: T,
}

#[derive(Debug, Clone)]
pub struct CircuitBreaker<T> {
    policy: CircuitPolicy,
    state: CircuitState,
    failures: u32,
    successes: u32,
    opened_at: Option<T>,
}

impl<T: Moment> CircuitBreaker<T> {
    pub fn new(policy: CircuitPolicy) -> Self {
        CircuitBreaker {
            policy,
            state: CircuitState::Closed,
            failures: 0,
            successes: 0,
            opened_at: None,
        }
    }

    pub fn policy(&self) -> CircuitPolicy {
        self.policy
    }

    /// The state as of the last recorded event (see [`Self::state_at`] for "now").
    pub fn state(&self) -> CircuitState {
        self.state
    }

    /// The state at `now`: an open circuit whose cooldown is over counts as half-open.
    pub fn state_at(&self, now: T) -> CircuitState {
        match (self.state, self.open_until()) {
            (CircuitState::Open, Some(until)) if now >= until => CircuitState::HalfOpen,
            (state, _) => state,
        }
    }

    /// Whether a call may go through at `now`.
    pub fn allows(&self, now: T) -> bool {
        self.state_at(now) != CircuitState::Open
    }

    /// When an open circuit will let a probe through.
    pub fn open_until(&self) -> Option<T> {
        match self.state {
            CircuitState::Open => self.opened_at.map(|t| t.plus(self.policy.cooldown)),
            _ => None,
        }
    }

    pub fn consecutive_failures(&self) -> u32 {
        self.failures
    }

    /// Moves an open circuit to half-open once its cooldown is over.
    pub fn poll(&mut self, now: T) -> Option<Transition<T>> {
        if self.state == CircuitState::Open && self.state_at(now) == CircuitState::HalfOpen {
            self.successes = 0;
            return Some(self.go(CircuitState::HalfOpen, now));
        }
        None
    }

    /// A send went through.
    pub fn record_success(&mut self, now: T) -> Vec<Transition<T>> {
        let mut out: Vec<_> = self.poll(now).into_iter().collect();
        match self.state {
            CircuitState::Closed => self.failures = 0,
            CircuitState::HalfOpen => {
                self.successes += 1;
                if self.successes >= self.policy.success_threshold.max(1) {
                    self.failures = 0;
                    self.successes = 0;
                    out.push(self.go(CircuitState::Closed, now));
                }
            }
            // A late success from a call started before the circuit opened: ignore it.
            CircuitState::Open => {}
        }
        out
    }

    /// A send failed with a retriable error (timeouts, 5xx, rate limits, not connected).
    pub fn record_failure(&mut self, now: T) -> Vec<Transition<T>> {
        let mut out: Vec<_> = self.poll(now).into_iter().collect();
        match self.state {
            CircuitState::Closed => {
                self.failures += 1;
                if self.failures >= self.policy.failure_threshold.max(1) {
                    out.push(self.open(now));
                }
            }
            CircuitState::HalfOpen => out.push(self.open(now)),
            CircuitState::Open => {}
        }
        out
    }

    fn open(&mut self, now: T) -> Transition<T> {
        self.opened_at = Some(now);
        self.successes = 0;
        self.go(CircuitState::Open, now)
    }

    fn go(&mut self, to: CircuitState, at: T) -> Transition<T> {
        let from = self.state;
        self.state = to;
        Transition { from, to, at }
    }
}

impl<T: Moment> Default for CircuitBreaker<T> {
    fn default() -> Self {
        Self::new(CircuitPolicy::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn policy() -> CircuitPolicy {
        CircuitPolicy {
            failure_threshold: 3,
            cooldown: Duration::from_secs(10),
            success_threshold: 2,
        }
    }

    fn secs(t0: Instant, s: u64) -> Instant {
        t0 + Duration::from_secs(s)
    }

    #[test]
    fn opens_after_n_consecutive_failures_only() {
        let t0 = Instant::now();
        let mut c = CircuitBreaker::new(policy());
        assert!(c.record_failure(t0).is_empty());
        assert!(c.record_failure(t0).is_empty());
        c.record_success(t0); // resets the streak
        assert!(c.record_failure(t0).is_empty());
        assert!(c.record_failure(t0).is_empty());
        let t = c.record_failure(secs(t0, 1));
        assert_eq!(
            t,
            vec![Transition {
                from: CircuitState::Closed,
                to: CircuitState::Open,
                at: secs(t0, 1)
            }]
        );
        assert!(!c.allows(secs(t0, 5)));
        assert_eq!(c.open_until(), Some(secs(t0, 11)));
    }

    #[test]
    fn half_open_after_cooldown_and_closed_after_m_successes() {
        let t0 = Instant::now();
        let mut c = CircuitBreaker::new(policy());
        for _ in 0..3 {
            c.record_failure(t0);
        }
        assert!(c.poll(secs(t0, 9)).is_none());
        assert!(c.allows(secs(t0, 10)));
        let t = c.poll(secs(t0, 10)).expect("half-open");
        assert_eq!((t.from, t.to), (CircuitState::Open, CircuitState::HalfOpen));
        assert!(c.record_success(secs(t0, 11)).is_empty());
        let t = c.record_success(secs(t0, 12));
        assert_eq!(t.len(), 1);
        assert_eq!(t[0].to, CircuitState::Closed);
        assert_eq!(c.consecutive_failures(), 0);
    }

    #[test]
    fn any_failure_in_half_open_reopens_for_a_new_cooldown() {
        let t0 = Instant::now();
        let mut c = CircuitBreaker::new(policy());
        for _ in 0..3 {
            c.record_failure(t0);
        }
        // No poll in between: the failure itself reports both moves.
        let t = c.record_failure(secs(t0, 20));
        let moves: Vec<_> = t.iter().map(|t| (t.from, t.to)).collect();
        assert_eq!(
            moves,
            vec![
                (CircuitState::Open, CircuitState::HalfOpen),
                (CircuitState::HalfOpen, CircuitState::Open)
            ]
        );
        assert!(!c.allows(secs(t0, 29)));
        assert_eq!(c.open_until(), Some(secs(t0, 30)));
    }

    #[test]
    fn works_with_stored_wall_clock_times() {
        use chrono::{DateTime, Utc};
        let t0 = DateTime::<Utc>::from_timestamp(1_700_000_000, 0).expect("time");
        let mut c: CircuitBreaker<DateTime<Utc>> = CircuitBreaker::new(policy());
        for _ in 0..3 {
            c.record_failure(t0);
        }
        assert_eq!(
            c.state_at(t0.plus(Duration::from_secs(10))),
            CircuitState::HalfOpen
        );
    }
}
