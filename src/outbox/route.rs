//! Which channel sends a message: the first of [primary, fallbacks...] whose circuit allows
//! a call; if every circuit is open, the earliest time one will let a probe through.

use std::collections::HashMap;
use std::hash::Hash;

use super::circuit::{CircuitBreaker, CircuitPolicy, CircuitState, Transition};
use super::Moment;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<K, T> {
    /// Send through `channel`. `transitions` are circuits that moved to half-open while
    /// choosing (log them, export them).
    Send {
        channel: K,
        transitions: Vec<(K, Transition<T>)>,
    },
    /// Every circuit is open: keep the message queued until `until`.
    Wait { until: T },
    /// The bot has no channel at all.
    NoChannels,
}

/// The circuit breakers of many (bot, channel) keys, made on first use.
#[derive(Debug, Clone)]
pub struct Circuits<K, T> {
    policy: CircuitPolicy,
    breakers: HashMap<K, CircuitBreaker<T>>,
}

impl<K: Eq + Hash + Clone, T: Moment> Circuits<K, T> {
    pub fn new(policy: CircuitPolicy) -> Self {
        Circuits {
            policy,
            breakers: HashMap::new(),
        }
    }

    pub fn breaker(&mut self, key: &K) -> &mut CircuitBreaker<T> {
        let policy = self.policy;
        self.breakers
            .entry(key.clone())
            .or_insert_with(|| CircuitBreaker::new(policy))
    }

    /// The state of one circuit at `now` (for the bot status API).
    pub fn state_at(&self, key: &K, now: T) -> CircuitState {
        self.breakers
            .get(key)
            .map_or(CircuitState::Closed, |b| b.state_at(now))
    }

    /// Picks the channel for a message, given the bot's chain in order.
    pub fn choose(&mut self, now: T, chain: &[K]) -> Route<K, T> {
        let mut transitions = Vec::new();
        let mut earliest: Option<T> = None;
        for key in chain {
            let breaker = self.breaker(key);
            if let Some(t) = breaker.poll(now) {
                transitions.push((key.clone(), t));
            }
            if breaker.allows(now) {
                return Route::Send {
                    channel: key.clone(),
                    transitions,
                };
            }
            if let Some(until) = breaker.open_until() {
                earliest = Some(earliest.map_or(until, |e| e.min(until)));
            }
        }
        match earliest {
            Some(until) => Route::Wait { until },
            None => Route::NoChannels,
        }
    }

    /// Records a successful send through `key`.
    pub fn record_success(&mut self, key: &K, now: T) -> Vec<Transition<T>> {
        self.breaker(key).record_success(now)
    }

    /// Records a retriable failure through `key` (non-retriable ones are not the
    /// provider's health and must not be recorded).
    pub fn record_failure(&mut self, key: &K, now: T) -> Vec<Transition<T>> {
        self.breaker(key).record_failure(now)
    }

    /// Forgets every circuit whose key matches (a bot was reconfigured or deleted).
    pub fn forget(&mut self, mut matches: impl FnMut(&K) -> bool) {
        self.breakers.retain(|k, _| !matches(k));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn circuits() -> Circuits<&'static str, Instant> {
        Circuits::new(CircuitPolicy {
            failure_threshold: 2,
            cooldown: Duration::from_secs(10),
            success_threshold: 1,
        })
    }

    #[test]
    fn primary_is_used_while_its_circuit_is_closed() {
        let mut c = circuits();
        let now = Instant::now();
        c.record_failure(&"cloud", now);
        assert!(matches!(
            c.choose(now, &["cloud", "twilio"]),
            Route::Send {
                channel: "cloud",
                ..
            }
        ));
    }

    #[test]
    fn open_primary_falls_back_then_comes_back_after_cooldown() {
        let mut c = circuits();
        let t0 = Instant::now();
        c.record_failure(&"cloud", t0);
        c.record_failure(&"cloud", t0);
        assert!(matches!(
            c.choose(t0, &["cloud", "twilio"]),
            Route::Send {
                channel: "twilio",
                ..
            }
        ));
        let later = t0 + Duration::from_secs(10);
        match c.choose(later, &["cloud", "twilio"]) {
            Route::Send {
                channel,
                transitions,
            } => {
                assert_eq!(channel, "cloud");
                assert_eq!(transitions.len(), 1);
                assert_eq!(transitions[0].1.to, CircuitState::HalfOpen);
            }
            other => panic!("expected a send, got {other:?}"),
        }
        let closed = c.record_success(&"cloud", later);
        assert_eq!(closed[0].to, CircuitState::Closed);
    }

    #[test]
    fn all_open_waits_for_the_earliest_probe() {
        let mut c = circuits();
        let t0 = Instant::now();
        for (key, at) in [("cloud", 5u64), ("twilio", 2)] {
            let t = t0 + Duration::from_secs(at);
            c.record_failure(&key, t);
            c.record_failure(&key, t);
        }
        assert_eq!(
            c.choose(t0 + Duration::from_secs(6), &["cloud", "twilio"]),
            Route::Wait {
                until: t0 + Duration::from_secs(12)
            }
        );
        assert_eq!(c.choose(t0, &[]), Route::NoChannels);
        assert_eq!(
            c.state_at(&"cloud", t0 + Duration::from_secs(15)),
            CircuitState::HalfOpen
        );
    }
}
