//! What the worker does with one send's result: the whole policy in one pure function.

use std::time::Duration;

use rand::Rng;

use super::backoff::{RetryDecision, RetryPolicy};
use crate::channels::{SendError, SentRef};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Accepted by the provider: record the id, wait for status callbacks.
    /// Counts as a success for the channel's circuit.
    Sent { provider_message_id: String },
    /// Retriable failure: try again after `delay` (any channel of the chain). Counts as a
    /// failure for the channel's circuit.
    RetryIn { delay: Duration, error: SendError },
    /// Non-retriable failure: fail the message now with the provider's reason. Does not
    /// count against the circuit (the provider is healthy, the message is not).
    Failed { error: SendError },
    /// Retriable failures exhausted the attempts: dead-letter with the last error.
    /// Counts as a failure for the circuit.
    Dead { error: SendError },
}

impl Step {
    /// Whether the circuit breaker should record a failure for this step.
    pub fn counts_as_circuit_failure(&self) -> bool {
        matches!(self, Step::RetryIn { .. } | Step::Dead { .. })
    }
}

/// Decides after the `attempts`-th send (1 = first) returned `result`.
pub fn next_step(
    policy: &RetryPolicy,
    attempts: u32,
    result: Result<SentRef, SendError>,
    rng: &mut impl Rng,
) -> Step {
    match result {
        Ok(sent) => Step::Sent {
            provider_message_id: sent.provider_message_id,
        },
        Err(error) if !error.retriable => Step::Failed { error },
        Err(error) => match policy.after_failure(attempts, error.retry_after, rng) {
            RetryDecision::RetryIn(delay) => Step::RetryIn { delay, error },
            RetryDecision::GiveUp => Step::Dead { error },
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbox::Jitter;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn final_errors_fail_at_once_and_retriable_ones_back_off_until_dead() {
        let policy = RetryPolicy {
            jitter: Jitter::None,
            ..RetryPolicy::default()
        };
        let mut rng = StdRng::seed_from_u64(3);
        let final_err = SendError::permanent(Some("131047".into()), "Re-engagement message");
        let step = next_step(&policy, 1, Err(final_err.clone()), &mut rng);
        assert_eq!(step, Step::Failed { error: final_err });
        assert!(!step.counts_as_circuit_failure());

        let busy = SendError::retriable(Some("130429".into()), "rate limit");
        let step = next_step(&policy, 3, Err(busy.clone()), &mut rng);
        assert_eq!(
            step,
            Step::RetryIn {
                delay: Duration::from_secs(4),
                error: busy.clone()
            }
        );
        assert!(step.counts_as_circuit_failure());
        assert_eq!(
            next_step(&policy, 8, Err(busy.clone()), &mut rng),
            Step::Dead { error: busy }
        );

        let ok = SentRef {
            provider_message_id: "wamid.1".into(),
        };
        assert_eq!(
            next_step(&policy, 1, Ok(ok), &mut rng),
            Step::Sent {
                provider_message_id: "wamid.1".into()
            }
        );
    }
}
