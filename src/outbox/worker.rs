//! The outbox worker: claims due messages, routes each through the first channel whose
//! circuit allows it, applies the per-bot rate limit, and records the outcome.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;

use super::queue::{self, Due};
use super::{
    CircuitPolicy, CircuitState, Circuits, RateLimit, RateLimiter, RetryDecision, RetryPolicy,
    Route,
};
use crate::app::AppState;
use crate::config::OutboxConfig;
use crate::ids::{time_text, BotId};

/// Channel key for circuits: (bot, position in its fallback chain).
pub type ChannelKey = (BotId, usize);

/// Live outbox state shared by the worker and the API (status shows circuit states).
pub struct OutboxRuntime {
    pub wake: Notify,
    pub circuits: Mutex<Circuits<ChannelKey, Instant>>,
    pub limiter: Mutex<RateLimiter<BotId, Instant>>,
    pub retry: RetryPolicy,
    pub concurrency: usize,
    /// Direct senders (a step's replies sent straight from the processor) still running.
    direct: tokio::sync::watch::Sender<usize>,
    default_burst: u32,
    /// Maps tokio time (pausable in tests) to wall time for stored timestamps.
    epoch: (Instant, DateTime<Utc>),
}

impl OutboxRuntime {
    pub fn new(cfg: &OutboxConfig) -> OutboxRuntime {
        OutboxRuntime {
            wake: Notify::new(),
            circuits: Mutex::new(Circuits::new(CircuitPolicy {
                failure_threshold: cfg.circuit_failures.max(1),
                cooldown: Duration::from_millis(cfg.circuit_cooldown_ms),
                success_threshold: cfg.circuit_successes.max(1),
            })),
            limiter: Mutex::new(RateLimiter::new(RateLimit {
                per_minute: cfg.rate_per_min.max(1),
                burst: cfg.rate_burst.max(1),
            })),
            default_burst: cfg.rate_burst.max(1),
            retry: RetryPolicy {
                base: Duration::from_millis(cfg.base_delay_ms),
                cap: Duration::from_millis(cfg.max_delay_ms),
                max_attempts: cfg.max_attempts.max(1),
                ..RetryPolicy::default()
            },
            concurrency: cfg.concurrency.max(1),
            direct: tokio::sync::watch::Sender::new(0),
            epoch: (Instant::now(), Utc::now()),
        }
    }

    /// Wall-clock now, advancing with tokio's clock.
    pub fn now_wall(&self) -> DateTime<Utc> {
        let (i, w) = self.epoch;
        w + chrono::Duration::from_std(Instant::now().saturating_duration_since(i))
            .unwrap_or_default()
    }

    pub fn circuit_state(&self, key: ChannelKey) -> CircuitState {
        self.circuits
            .lock()
            .map(|c| c.state_at(&key, Instant::now()))
            .unwrap_or(CircuitState::Closed)
    }
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Sent,
    /// Failed, dead or dropped: nothing later for this contact waits on it.
    Settled,
    /// Back in the queue for a later attempt.
    Requeued,
}

/// Sends one step's replies in order, straight from the processor once its transaction
/// committed them as `sending`: no claim round-trip, and the next reply goes out without
/// waiting for the previous one's outcome to be written. If one goes back to the queue,
/// the rest queue behind it and the poller keeps the order.
pub fn send_direct(state: &AppState, batch: Vec<Due>) {
    if batch.is_empty() {
        return;
    }
    state.outbox.direct.send_modify(|n| *n += 1);
    let st = state.clone();
    tokio::spawn(async move {
        let mut sent = vec![];
        let mut behind = vec![];
        let mut rest = batch.into_iter();
        while let Some(due) = rest.next() {
            if deliver(&st, due, Some(&mut sent)).await == Outcome::Requeued {
                behind = rest.by_ref().map(|d| d.id).collect();
                break;
            }
        }
        // One record for the batch's sends: a crash before it resends them at start-up
        // (the documented at-least-once window), as one before any single record would.
        if let Some(first) = sent.first().map(|s: &SentRecord| s.due.id) {
            let sent = Arc::new(sent);
            persist(&st, "sent messages", first, move |c| {
                for s in sent.iter() {
                    queue::mark_sent(c, &s.due, s.channel, &s.provider_id, s.attempts)?;
                }
                Ok(())
            })
            .await;
        }
        if let Some(&first) = behind.first() {
            persist(&st, "replies queued behind a retry", first, move |c| {
                queue::requeue_sending(c, &behind)
            })
            .await;
        }
        st.outbox.wake.notify_one();
        st.outbox.direct.send_modify(|n| *n -= 1);
    });
}

/// Runs until shutdown.
pub async fn run(state: AppState) {
    let rt = &state.outbox;
    // Until this succeeds the rows left `sending` block their contacts: retried.
    match retry_write(
        &state,
        "the re-queue of messages in flight",
        None,
        queue::recover_inflight,
    )
    .await
    {
        Some(n) if n > 0 => tracing::warn!(
            count = n,
            "re-queued messages that were in flight at the last stop"
        ),
        Some(_) => {}
        None => return,
    }
    let permits = Arc::new(Semaphore::new(rt.concurrency));
    let mut shutdown = state.shutdown_signal();
    // The depth gauges cost a read; once a second is enough for a scrape.
    let mut gauges_at: Option<Instant> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let free = permits.available_permits();
        let mut sleep_for = Duration::from_millis(500);
        if free > 0 {
            let now = time_text(rt.now_wall());
            match state
                .db
                .write(move |c| queue::claim_due(c, &now, free))
                .await
            {
                Ok(batch) => {
                    for due in batch {
                        let Ok(permit) = permits.clone().acquire_owned().await else {
                            break;
                        };
                        let st = state.clone();
                        tokio::spawn(async move {
                            deliver(&st, due, None).await;
                            drop(permit);
                            st.outbox.wake.notify_one();
                        });
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "outbox claim failed");
                    sleep_for = Duration::from_secs(1);
                }
            }
            if gauges_at.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
                gauges_at = Some(Instant::now());
                if let Ok((depth, oldest)) = state.db.read(queue::depth).await {
                    metrics::gauge!("outbox_depth").set(depth as f64);
                    let age = oldest
                        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                        .map(|t| {
                            (Utc::now() - t.with_timezone(&Utc))
                                .num_milliseconds()
                                .max(0) as f64
                                / 1000.0
                        })
                        .unwrap_or(0.0);
                    metrics::gauge!("outbox_oldest_age_seconds").set(age);
                }
            }
            if let Ok(Some(next)) = state.db.read(queue::next_due).await {
                if let Ok(t) = DateTime::parse_from_rfc3339(&next) {
                    let wait = (t.with_timezone(&Utc) - rt.now_wall())
                        .to_std()
                        .unwrap_or(Duration::ZERO);
                    sleep_for = sleep_for.min(wait.max(Duration::from_millis(5)));
                }
            }
        }
        tokio::select! {
            _ = rt.wake.notified() => {}
            _ = tokio::time::sleep(sleep_for) => {}
            _ = shutdown.changed() => {}
        }
    }
    // Let in-flight sends finish so their outcome is recorded.
    let mut direct = rt.direct.subscribe();
    let _ = tokio::time::timeout(Duration::from_secs(4), async {
        let _ = permits.acquire_many(rt.concurrency as u32).await;
        let _ = direct.wait_for(|n| *n == 0).await;
    })
    .await;
}

/// A send the provider accepted, its record still to be written.
struct SentRecord {
    due: Due,
    channel: &'static str,
    provider_id: String,
    attempts: u32,
}

/// One attempt at one message. With `later`, a successful send's record is left there
/// for the caller to write instead of being written before returning.
async fn deliver(state: &AppState, due: Due, later: Option<&mut Vec<SentRecord>>) -> Outcome {
    let rt = &state.outbox;
    if due.sandbox {
        let d = due.clone();
        let id = format!("sandbox-{}", due.id);
        // Retried like every outcome: a row left `sending` blocks its contact.
        persist(state, "a sandbox reply", due.id, move |c| {
            queue::mark_sent(c, &d, "sandbox", &id, d.attempts + 1)
        })
        .await;
        return Outcome::Sent;
    }
    let live = match state.live_bot(due.bot).await {
        Ok(Some(l)) => l,
        Ok(None) => {
            let d = due.clone();
            persist(state, "a reply to a deleted bot", due.id, move |c| {
                queue::mark_failed(
                    c,
                    &d,
                    "failed",
                    d.attempts,
                    Some("bot_deleted"),
                    "the bot no longer exists",
                )
            })
            .await;
            return Outcome::Settled;
        }
        Err(e) => {
            requeue_after(
                state,
                &due,
                Duration::from_secs(1),
                due.attempts,
                Some((e.to_string(), None)),
                None,
            )
            .await;
            return Outcome::Requeued;
        }
    };
    let now = Instant::now();

    let limited = rt.limiter.lock().ok().and_then(|mut limiter| {
        if let Some(rate) = live
            .bot
            .settings
            .get("rate_per_min")
            .and_then(|v| v.as_u64())
        {
            limiter.set_limit(
                due.bot,
                RateLimit {
                    per_minute: rate.clamp(1, 100_000) as u32,
                    burst: rt.default_burst,
                },
            );
        }
        limiter.try_acquire(&due.bot, now).err()
    });
    if let Some(until) = limited {
        metrics::counter!("outbox_rate_limited_total").increment(1);
        requeue_after(
            state,
            &due,
            until.saturating_duration_since(now),
            due.attempts,
            None,
            None,
        )
        .await;
        return Outcome::Requeued;
    }

    let chain: Vec<ChannelKey> = (0..live.channels.len()).map(|i| (due.bot, i)).collect();
    let route = match rt.circuits.lock() {
        Ok(mut c) => c.choose(now, &chain),
        Err(_) => Route::NoChannels,
    };
    let key = match route {
        Route::Send {
            channel,
            transitions,
        } => {
            for (k, t) in transitions {
                log_transition(&live, k, t.from, t.to);
            }
            channel
        }
        Route::Wait { until } => {
            requeue_after(
                state,
                &due,
                until.saturating_duration_since(now),
                due.attempts,
                None,
                None,
            )
            .await;
            return Outcome::Requeued;
        }
        Route::NoChannels => {
            let d = due.clone();
            let _ = state
                .db
                .write(move |c| {
                    queue::mark_failed(
                        c,
                        &d,
                        "failed",
                        d.attempts,
                        Some("no_channel"),
                        "the bot has no channel",
                    )
                })
                .await;
            return Outcome::Settled;
        }
    };
    let Some(channel) = live.channels.get(key.1).cloned() else {
        // The chain changed under us; the next claim routes it afresh.
        requeue_after(state, &due, Duration::ZERO, due.attempts, None, None).await;
        return Outcome::Requeued;
    };
    let kind = channel.kind();
    let attempts = due.attempts + 1;
    let result = channel
        .send(&due.to, &due.content, due.reply_to.as_deref())
        .await;
    let after = Instant::now();
    match result {
        Ok(sent) => {
            metrics::counter!("messages_sent_total", "channel" => kind.as_str()).increment(1);
            let transitions = rt
                .circuits
                .lock()
                .map(|mut c| c.record_success(&key, after))
                .unwrap_or_default();
            for t in transitions {
                log_transition(&live, key, t.from, t.to);
            }
            let pid = sent.provider_message_id;
            match later {
                Some(records) => records.push(SentRecord {
                    due,
                    channel: kind.as_str(),
                    provider_id: pid,
                    attempts,
                }),
                None => {
                    let id = due.id;
                    persist(state, "a sent message", id, move |c| {
                        queue::mark_sent(c, &due, kind.as_str(), &pid, attempts)
                    })
                    .await
                }
            }
            Outcome::Sent
        }
        Err(err) if err.retriable => {
            metrics::counter!("messages_failed_total", "channel" => kind.as_str(), "retriable" => "true").increment(1);
            let transitions = rt
                .circuits
                .lock()
                .map(|mut c| c.record_failure(&key, after))
                .unwrap_or_default();
            for t in transitions {
                log_transition(&live, key, t.from, t.to);
                if t.to == CircuitState::Open {
                    let msg = format!(
                        "{} ({}) keeps failing: {}",
                        live.bot.name,
                        kind.as_str(),
                        err
                    );
                    let _ = crate::analytics::alerts::raise_now(
                        &state.db,
                        due.tenant,
                        crate::analytics::alerts::IncidentKind::ChannelDown,
                        &format!("{}:{}", due.bot, kind.as_str()),
                        &msg,
                    )
                    .await;
                }
            }
            let decision =
                rt.retry
                    .after_failure(attempts, err.retry_after, &mut rand::thread_rng());
            match decision {
                RetryDecision::RetryIn(d) => {
                    requeue_after(
                        state,
                        &due,
                        d,
                        attempts,
                        Some((err.message.clone(), err.code.clone())),
                        Some(kind.as_str()),
                    )
                    .await;
                    Outcome::Requeued
                }
                RetryDecision::GiveUp => {
                    tracing::warn!(outbox = due.id, error = %err, "retries exhausted; dead-lettered");
                    metrics::counter!("outbox_dead_total").increment(1);
                    let d = due.clone();
                    persist(state, "a dead letter", due.id, move |c| {
                        queue::mark_failed(
                            c,
                            &d,
                            "dead",
                            attempts,
                            err.code.as_deref(),
                            &err.message,
                        )
                    })
                    .await;
                    Outcome::Settled
                }
            }
        }
        Err(err) => {
            metrics::counter!("messages_failed_total", "channel" => kind.as_str(), "retriable" => "false").increment(1);
            tracing::info!(outbox = due.id, error = %err, "provider refused the message; not retrying");
            let d = due.clone();
            persist(state, "a refused message", due.id, move |c| {
                queue::mark_failed(c, &d, "failed", attempts, err.code.as_deref(), &err.message)
            })
            .await;
            Outcome::Settled
        }
    }
}

async fn requeue_after(
    state: &AppState,
    due: &Due,
    wait: Duration,
    attempts: u32,
    error: Option<(String, Option<String>)>,
    channel: Option<&'static str>,
) {
    let next =
        time_text(state.outbox.now_wall() + chrono::Duration::from_std(wait).unwrap_or_default());
    let id = due.id;
    persist(state, "a retry", id, move |c| {
        queue::requeue(
            c,
            id,
            &next,
            attempts,
            error
                .as_ref()
                .map(|(m, code)| (m.as_str(), code.as_deref())),
            channel,
        )
    })
    .await;
}

/// Records a send's outcome, retrying while the database refuses (a full disk): a row
/// left in `sending` would hold up its recipient's queue until the next restart.
/// Found by tests/torture_disk_full.rs.
async fn persist<T, F>(state: &AppState, what: &'static str, id: i64, f: F)
where
    T: Send + 'static,
    F: Fn(&rusqlite::Connection) -> Result<T, crate::store::DbError> + Clone + Send + 'static,
{
    retry_write(state, what, Some(id), f).await;
}

/// Writes `f` until it commits (backing off to 5 s); `None` if the server stops first.
async fn retry_write<T, F>(
    state: &AppState,
    what: &'static str,
    outbox: Option<i64>,
    f: F,
) -> Option<T>
where
    T: Send + 'static,
    F: Fn(&rusqlite::Connection) -> Result<T, crate::store::DbError> + Clone + Send + 'static,
{
    let mut wait = Duration::from_millis(100);
    loop {
        match state.db.write(f.clone()).await {
            Ok(v) => return Some(v),
            Err(e) => {
                tracing::error!(error = %e, outbox = ?outbox, "could not record {what}; retrying");
                if state.is_shutting_down() {
                    return None;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
        }
    }
}

fn log_transition(
    live: &crate::bots::registry::LiveBot,
    key: ChannelKey,
    from: CircuitState,
    to: CircuitState,
) {
    let kind = live
        .channels
        .get(key.1)
        .map(|c| c.kind().as_str())
        .unwrap_or("?");
    tracing::warn!(bot = %key.0, channel = kind, position = key.1, from = from.as_str(), to = to.as_str(), "circuit changed");
    let value = match to {
        CircuitState::Closed => 0.0,
        CircuitState::HalfOpen => 1.0,
        CircuitState::Open => 2.0,
    };
    metrics::gauge!("circuit_state", "bot" => key.0.to_string(), "channel" => kind).set(value);
    metrics::counter!("circuit_transitions_total", "channel" => kind, "to" => to.as_str())
        .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worker's limiter runs on tokio's clock: with paused time, a burst passes, the
    /// next send is refused until exactly one interval later, and nothing sleeps.
    #[tokio::test(start_paused = true)]
    async fn the_per_bot_rate_limit_holds_on_tokios_clock() {
        let cfg = OutboxConfig {
            rate_per_min: 60,
            rate_burst: 2,
            ..OutboxConfig::default()
        };
        let rt = OutboxRuntime::new(&cfg);
        let (bot, other) = (BotId::new(), BotId::new());
        let acquire = |b: BotId| rt.limiter.lock().unwrap().try_acquire(&b, Instant::now());
        assert!(acquire(bot).is_ok());
        assert!(acquire(bot).is_ok());
        let until = acquire(bot).expect_err("the burst is spent");
        assert_eq!(
            until.saturating_duration_since(Instant::now()),
            Duration::from_secs(1)
        );
        assert!(acquire(other).is_ok(), "another bot has its own bucket");
        tokio::time::advance(Duration::from_millis(999)).await;
        assert!(acquire(bot).is_err());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(acquire(bot).is_ok());
        assert!(
            acquire(bot).is_err(),
            "one token per interval after the burst"
        );
        // A minute of paused time later the whole burst is back, never more.
        tokio::time::advance(Duration::from_secs(60)).await;
        assert!(acquire(bot).is_ok());
        assert!(acquire(bot).is_ok());
        assert!(acquire(bot).is_err());
    }
}
