//! Runs the flow engine for every stored inbound item, exactly once (DESIGN §5):
//!
//! 1. load the session from redb and step the engine (pure);
//! 2. commit to redb in one transaction: the new session, `last_inbound_id` and the effects;
//! 3. apply the effects to SQLite in one transaction (outbox rows, orders, system inputs)
//!    and mark the inbound item processed.
//!
//! A crash between 2 and 3 replays only step 3 (redb already holds the decision).
//! Conversations are processed one item at a time, in rowid order; different
//! conversations run in parallel. The webhook hands new conversations over directly
//! ([`kick`]); a scan at start-up and every second finds anything else.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

use super::catalog::SqlCatalog;
use crate::analytics::{self, Event, EventKind};
use crate::app::AppState;
use crate::engine::{self, ContactView, Ctx, Effect, Input, Session, TenantSettings};
use crate::ids::{now_text, BotId, ConversationId, TenantId};
use crate::messages::Inbound;
use crate::outbox::queue::{self, Enqueue};
use crate::store::state::{Conversation as Stored, Step};
use crate::store::{CachedSql, DbError};

/// One inbound item waiting to be processed.
#[derive(Debug, Clone)]
pub struct Pending {
    pub id: i64,
    pub tenant: TenantId,
    pub bot: BotId,
    pub conversation: ConversationId,
    pub kind: String,
    pub content: String,
    pub phone: String,
    pub name: Option<String>,
    pub status: String,
    /// The simulator's conversation: replies go to its transcript.
    pub sandbox: bool,
}

/// The conversation's oldest unprocessed item, and whether another waits behind it.
const NEXT_PENDING: &str =
    "SELECT m.id, m.tenant_id, m.bot_id, m.conversation_id, m.kind, m.content,
            v.contact_phone, v.contact_name, v.status, v.sandbox
     FROM messages m INDEXED BY messages_pending JOIN conversations v ON v.id = m.conversation_id
     WHERE m.conversation_id = ?1 AND m.direction = 'in' AND m.processed_at IS NULL
     ORDER BY m.id LIMIT 2";

fn next_pending(
    c: &Connection,
    conversation: ConversationId,
) -> Result<Option<(Pending, bool)>, DbError> {
    let mut st = c.prepare_cached(NEXT_PENDING)?;
    let mut rows = st.query_map([conversation], |r| {
        Ok(Pending {
            id: r.get(0)?,
            tenant: r.get(1)?,
            bot: r.get(2)?,
            conversation: r.get(3)?,
            kind: r.get(4)?,
            content: r.get(5)?,
            phone: r.get(6)?,
            name: r.get(7)?,
            status: r.get(8)?,
            sandbox: r.get(9)?,
        })
    })?;
    let Some(first) = rows.next().transpose()? else {
        return Ok(None);
    };
    let more = rows.next().transpose()?.is_some();
    Ok(Some((first, more)))
}

fn conversations_with_work(c: &Connection) -> Result<Vec<ConversationId>, DbError> {
    let mut st = c.prepare_cached(
        "SELECT DISTINCT conversation_id FROM messages WHERE direction = 'in' AND processed_at IS NULL LIMIT 10000",
    )?;
    let rows = st.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Conversations being drained; `true` when more input arrived meanwhile.
#[derive(Default)]
pub struct Draining(Mutex<HashMap<ConversationId, bool>>);

/// Input was stored for `conv`: drain it, or tell the drainer already on it to look again.
pub fn kick(state: &AppState, conv: ConversationId) {
    let fresh = {
        let mut m = state.draining.0.lock().unwrap_or_else(|p| p.into_inner());
        match m.get_mut(&conv) {
            Some(again) => {
                *again = true;
                false
            }
            None => {
                m.insert(conv, false);
                true
            }
        }
    };
    if fresh {
        let st = state.clone();
        tokio::spawn(async move { drain(&st, conv).await });
    }
}

/// The scan: finds conversations with unprocessed input (at start-up: the replay; later
/// whatever no one handed over) and kicks each.
pub async fn run(state: AppState) {
    match sweep_applied_effects(&state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(
            count = n,
            "forgot effects a crash left after they were applied"
        ),
        Err(e) => tracing::warn!(error = %e, "could not sweep applied effects"),
    }
    let mut shutdown = state.shutdown_signal();
    loop {
        if *shutdown.borrow() {
            break;
        }
        match state.db.read(conversations_with_work).await {
            Ok(convs) => {
                for conv in convs {
                    kick(&state, conv);
                }
            }
            Err(e) => tracing::error!(error = %e, "could not list pending conversations"),
        }
        tokio::select! {
            _ = state.inbound_wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// A step's effects leave redb with a later group commit, after SQLite marked the item
/// processed; a crash in between leaves them behind. Forgets those (never the effects of
/// an item still unprocessed: the replay needs them). Returns how many.
pub async fn sweep_applied_effects(state: &AppState) -> anyhow::Result<usize> {
    let st = state.state.clone();
    let ids = tokio::task::spawn_blocking(move || st.effect_ids()).await??;
    if ids.is_empty() {
        return Ok(0);
    }
    let applied = state
        .db
        .read(move |c| {
            let mut st = c.prepare_cached(
                "SELECT 1 FROM messages WHERE id = ?1 AND processed_at IS NOT NULL",
            )?;
            let mut out = vec![];
            for id in ids {
                if st.exists([id])? {
                    out.push(id);
                }
            }
            Ok(out)
        })
        .await?;
    let n = applied.len();
    let st = state.state.clone();
    tokio::task::spawn_blocking(move || st.clear_effects(&applied)).await??;
    Ok(n)
}

async fn drain(state: &AppState, conv: ConversationId) {
    loop {
        let drained = drain_once(state, conv).await;
        let mut m = state.draining.0.lock().unwrap_or_else(|p| p.into_inner());
        if drained && m.get(&conv) == Some(&true) && !state.is_shutting_down() {
            m.insert(conv, false);
            continue;
        }
        m.remove(&conv);
        return;
    }
}

/// Processes the conversation's items until none is left (true) or something failed.
/// The read after the last item is skipped when nothing waited behind it and its step
/// stored no input of its own: whatever is stored later comes with a [`kick`] (webhooks,
/// the API's system inputs through the scan), which makes [`drain`] look again.
async fn drain_once(state: &AppState, conv: ConversationId) -> bool {
    let mut more = true;
    while more {
        if state.is_shutting_down() {
            return false;
        }
        let st = state.clone();
        let next = match state.db.read_now(move |c| next_item(c, &st, conv)).await {
            Ok(Some(n)) => n,
            Ok(None) => return true,
            Err(e) => {
                tracing::error!(error = %e, "could not read the next inbound item");
                return false;
            }
        };
        let (id, tenant, behind) = (next.pending.id, next.pending.tenant, next.more);
        match process(state, next).await {
            Ok(followups) => more = behind || followups,
            Err(e) => {
                tracing::error!(error = %e, message = id, "processing failed; will retry");
                analytics::errors::record_job_failure(
                    &state.db,
                    Some(tenant),
                    "conversations",
                    &e.to_string(),
                )
                .await;
                tokio::time::sleep(Duration::from_millis(500)).await;
                return false;
            }
        }
    }
    true
}

fn conversation_key(bot: BotId, phone: &str) -> String {
    format!("{bot}:{phone}")
}

/// What a stored item means to the engine.
enum Item {
    Input(Input),
    Reset,
}

fn item_of(p: &Pending) -> Item {
    if p.kind == "system" {
        let v: Value = serde_json::from_str(&p.content).unwrap_or(Value::Null);
        return match v["type"].as_str() {
            Some("reset") => Item::Reset,
            Some("released") => Item::Input(Input::Released),
            _ => serde_json::from_value(v)
                .map(Item::Input)
                .unwrap_or(Item::Input(Input::Unsupported {
                    kind: "system".into(),
                })),
        };
    }
    match serde_json::from_str::<Inbound>(&p.content) {
        Ok(m) => Item::Input(Input::from(&m)),
        Err(_) => Item::Input(Input::Unsupported {
            kind: "unknown".into(),
        }),
    }
}

/// The engine's step: the new session and the effects to apply.
type Decision = (Option<Session>, Vec<Effect>);

/// A conversation's next item with what one blocking hop could learn about it.
struct Next {
    pending: Pending,
    /// Another item was waiting behind it.
    more: bool,
    /// Its redb state.
    stored: Option<Stored<Session>>,
    /// The engine's step, when the bot and its program were cached (else [`decide`]).
    decided: Option<Decision>,
}

/// The next item, its redb state and, unless it is a replay, the engine's step: one hop
/// to the blocking pool instead of three.
fn next_item(
    c: &Connection,
    state: &AppState,
    conversation: ConversationId,
) -> Result<Option<Next>, DbError> {
    let Some((pending, more)) = next_pending(c, conversation)? else {
        return Ok(None);
    };
    let stored: Option<Stored<Session>> = state
        .state
        .conversation(&conversation_key(pending.bot, &pending.phone))
        .map_err(|e| DbError::Other(e.to_string()))?;
    let decided = match &stored {
        Some(s) if s.last_inbound_id >= pending.id => None,
        _ => decide_cached(
            c,
            state,
            &pending,
            stored.as_ref().and_then(|s| s.session.as_ref()),
        )?,
    };
    Ok(Some(Next {
        pending,
        more,
        stored,
        decided,
    }))
}

/// What an item asks of the engine, before any bot is looked up.
enum Ask {
    /// Decided without the engine (a reset, or a person has the conversation).
    Done(Decision),
    Run(Input),
}

fn ask(p: &Pending, previous: Option<&Session>) -> Ask {
    match item_of(p) {
        Item::Reset => Ask::Done((None, vec![])),
        // A person has the conversation: nothing is published.
        Item::Input(i) if p.status == "human" && i.is_customer() => {
            Ask::Done((previous.cloned(), vec![]))
        }
        Item::Input(i) => Ask::Run(i),
    }
}

/// The engine's step on the bot's program, with the tenant's settings and catalogue.
fn run_step(
    c: &Connection,
    p: &Pending,
    program: &engine::BotProgram,
    previous: Option<&Session>,
    input: &Input,
) -> Result<Decision, DbError> {
    let catalog = SqlCatalog {
        conn: c,
        tenant: p.tenant,
    };
    let ctx = Ctx {
        now: chrono::Utc::now(),
        tenant: tenant_settings(c, p.tenant)?,
        contact: ContactView {
            phone: p.phone.clone(),
            name: p.name.clone(),
        },
        catalog: &catalog,
    };
    let outcome = engine::step(program, previous, input, &ctx);
    Ok((outcome.session, outcome.effects))
}

/// [`decide`] from the caches alone; `None` when a bot or program must be loaded first.
fn decide_cached(
    c: &Connection,
    state: &AppState,
    p: &Pending,
    previous: Option<&Session>,
) -> Result<Option<Decision>, DbError> {
    let input = match ask(p, previous) {
        Ask::Done(d) => return Ok(Some(d)),
        Ask::Run(i) => i,
    };
    let Some(live) = state.registry.cached(p.bot) else {
        return Ok(None);
    };
    match state.cached_program(live.bot.id) {
        None => Ok(None),
        Some(None) => Ok(Some((previous.cloned(), vec![]))),
        Some(Some(program)) => run_step(c, p, &program, previous, &input).map(Some),
    }
}

/// Processes one inbound item exactly once; true when its step may have stored input
/// of its own for the conversation (read it next).
async fn process(state: &AppState, next: Next) -> anyhow::Result<bool> {
    let Next {
        pending,
        stored,
        decided,
        ..
    } = next;
    let p = &pending;
    let key = conversation_key(p.bot, &p.phone);

    let effects: Vec<Effect> = match &stored {
        Some(s) if s.last_inbound_id >= p.id => {
            // Step 2 happened before a crash: replay only step 3.
            let st = state.state.clone();
            let id = p.id;
            tokio::task::spawn_blocking(move || st.pending_effects::<Vec<Effect>>(id))
                .await??
                .unwrap_or_default()
        }
        _ => {
            let (session, effects) = match decided {
                Some(d) => d,
                None => decide(state, p, stored.and_then(|s| s.session)).await?,
            };
            let record = Stored {
                session,
                last_inbound_id: p.id,
            };
            let started = std::time::Instant::now();
            // Group commit: this step shares one redb transaction (one fsync) with the
            // steps of other conversations decided at the same time; durable on return.
            state
                .state
                .commit_step_grouped(Step {
                    key: &key,
                    conversation: &record,
                    inbound_id: p.id,
                    effects: &effects,
                })
                .await?;
            metrics::histogram!("redb_write_seconds").record(started.elapsed().as_secs_f64());
            effects
        }
    };

    // Effects that talk to the outside world run before the transaction (at-least-once);
    // their results go in with it.
    let mut http_results: Vec<Option<Input>> = Vec::with_capacity(effects.len());
    for e in &effects {
        http_results.push(match e {
            Effect::Http { .. } => Some(run_http(state, p.tenant, e).await),
            _ => None,
        });
    }

    let (pending, effs) = (p.clone(), effects.clone());
    let applied = state
        .db
        .write(move |c| apply(c, &pending, &effs, &http_results))
        .await?;

    crate::outbox::worker::send_direct(state, applied.direct);
    let _ = state.state.clear_effects_grouped(vec![p.id]).await;
    if applied.queued > 0 {
        state.outbox.wake.notify_one();
    }
    for (kind, data) in applied.live {
        state.live.publish(p.tenant, kind, data);
    }
    metrics::counter!("engine_steps_total").increment(1);
    Ok(applied.followups)
}

/// Step 1: run the engine (or not: a person has the conversation, nothing is published),
/// loading the bot and its program first.
async fn decide(
    state: &AppState,
    p: &Pending,
    previous: Option<Session>,
) -> anyhow::Result<Decision> {
    let input = match ask(p, previous.as_ref()) {
        Ask::Done(d) => return Ok(d),
        Ask::Run(i) => i,
    };
    let Some(live) = state.live_bot(p.bot).await? else {
        return Ok((previous, vec![]));
    };
    let Some(program) = state.program(&live.bot).await? else {
        return Ok((previous, vec![]));
    };
    let p = p.clone();
    Ok(state
        .db
        .read(move |c| run_step(c, &p, &program, previous.as_ref(), &input))
        .await?)
}

fn tenant_settings(c: &Connection, tenant: TenantId) -> Result<TenantSettings, DbError> {
    let row: Option<(String, String, String, String, String)> = c
        .prepare_cached(
            "SELECT timezone, country, currency, locale, settings FROM tenants WHERE id = ?1",
        )?
        .query_row([tenant], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .optional()?;
    let Some((tz, country, currency, locale, settings)) = row else {
        return Ok(TenantSettings::default());
    };
    let settings: Value = serde_json::from_str(&settings).unwrap_or(Value::Null);
    Ok(TenantSettings {
        tz: tz.parse().unwrap_or(chrono_tz::America::Lima),
        country,
        currency,
        locale,
        allow_private_http: settings["allow_private_http"].as_bool().unwrap_or(false),
    })
}

#[derive(Default)]
struct Applied {
    /// Replies committed as `sending`, for this step to send itself.
    direct: Vec<queue::Due>,
    /// Replies left to the outbox worker (the contact already had some waiting).
    queued: usize,
    live: Vec<(&'static str, Value)>,
    /// The step stored input for the conversation (or the item was already applied:
    /// unknown), so the drainer must read again.
    followups: bool,
}

/// Step 3, inside one SQLite transaction. Every row it writes is keyed by
/// (inbound id, effect index), so even a replay of a committed step would change nothing.
fn apply(
    c: &Connection,
    p: &Pending,
    effects: &[Effect],
    http_results: &[Option<Input>],
) -> Result<Applied, DbError> {
    let mut out = Applied::default();
    let done: bool = c
        .query_row_cached(
            "SELECT processed_at IS NOT NULL FROM messages WHERE id = ?1",
            [p.id],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(true);
    if done {
        out.followups = true;
        return Ok(out);
    }
    // Decided before the first insert: the step's own replies would make the contact "waiting".
    let direct = effects.iter().any(|e| matches!(e, Effect::Send(_)))
        && !queue::contact_waiting(c, p.bot, &p.phone)?;
    for (i, e) in effects.iter().enumerate() {
        let key = format!("m{}:{}", p.id, i);
        match e {
            Effect::Send(content) => {
                let item = Enqueue {
                    tenant: p.tenant,
                    bot: p.bot,
                    conversation: p.conversation,
                    to: &p.phone,
                    content,
                    reply_to: None,
                    source_key: Some(key),
                    author: "bot",
                    sandbox: Some(p.sandbox),
                };
                if direct {
                    out.direct.extend(queue::enqueue_sending(c, &item)?);
                } else if queue::enqueue(c, &item)?.is_some() {
                    out.queued += 1;
                }
            }
            Effect::CreateOrder {
                lines,
                customer_name,
                address,
                notes,
            } => {
                let result = create_order(
                    c,
                    p,
                    lines,
                    customer_name.as_deref(),
                    address.as_deref(),
                    notes.as_deref(),
                )?;
                if let Input::OrderResult {
                    ok: true,
                    order_id,
                    number,
                    ..
                } = &result
                {
                    out.live.push(("order", json!({"order_id": order_id, "number": number, "conversation_id": p.conversation})));
                }
                push_input(c, p, &result, &key, &mut out)?;
            }
            Effect::LookupOrder { number } => {
                let result = lookup_order(c, p, *number)?;
                push_input(c, p, &result, &key, &mut out)?;
            }
            Effect::Http { .. } => {
                let result = http_results
                    .get(i)
                    .cloned()
                    .flatten()
                    .unwrap_or(Input::HttpResult {
                        ok: false,
                        status: None,
                        body: None,
                        error: Some("not run".into()),
                    });
                push_input(c, p, &result, &key, &mut out)?;
            }
            Effect::Handoff { reason } => {
                analytics::record(
                    c,
                    &Event::new(p.tenant, EventKind::Handoff)
                        .bot(p.bot)
                        .conversation(p.conversation),
                )?;
                c.execute_cached(
                    "UPDATE conversations SET status = 'human' WHERE id = ?1 AND tenant_id = ?2",
                    params![p.conversation, p.tenant],
                )?;
                out.live.push((
                    "conversation",
                    json!({"id": p.conversation, "status": "human", "reason": reason}),
                ));
            }
            Effect::Error {
                flow_id,
                node,
                message,
            } => {
                analytics::errors::record(
                    c,
                    Some(p.tenant),
                    "engine",
                    &format!("flow {flow_id} node {node}"),
                    analytics::errors::Severity::Warning,
                    message,
                    None,
                )?;
            }
            Effect::FlowStarted { flow_id } => {
                analytics::record(
                    c,
                    &Event::new(
                        p.tenant,
                        EventKind::FlowStarted {
                            flow: flow_id.clone(),
                        },
                    )
                    .bot(p.bot)
                    .conversation(p.conversation),
                )?;
            }
            Effect::FlowCompleted { flow_id } => {
                analytics::record(
                    c,
                    &Event::new(
                        p.tenant,
                        EventKind::FlowCompleted {
                            flow: flow_id.clone(),
                        },
                    )
                    .bot(p.bot)
                    .conversation(p.conversation),
                )?;
            }
            Effect::Away | Effect::SessionExpired => {}
        }
    }
    c.execute_cached(
        "UPDATE messages SET processed_at = ?2 WHERE id = ?1",
        params![p.id, now_text()],
    )?;
    if p.kind == "customer" {
        out.live.push((
            "message",
            json!({"conversation_id": p.conversation, "id": p.id, "direction": "in"}),
        ));
    }
    if !out.direct.is_empty() || out.queued > 0 {
        out.live.push((
            "message",
            json!({"conversation_id": p.conversation, "direction": "out"}),
        ));
    }
    Ok(out)
}

fn push_input(
    c: &Connection,
    p: &Pending,
    input: &Input,
    key: &str,
    out: &mut Applied,
) -> Result<(), DbError> {
    out.followups = true;
    let value = serde_json::to_value(input).map_err(|e| DbError::Other(e.to_string()))?;
    // The drainer of this conversation picks it up next.
    super::store::push_system_input(c, p.tenant, p.bot, p.conversation, &value, Some(key))?;
    Ok(())
}

/// Creates and confirms the order (stock is taken on confirm) in a savepoint, so a shop
/// refusal (out of stock) becomes a flow result instead of failing the step.
fn create_order(
    c: &Connection,
    p: &Pending,
    lines: &[engine::CartLine],
    customer_name: Option<&str>,
    address: Option<&str>,
    notes: Option<&str>,
) -> Result<Input, DbError> {
    use crate::shop::orders::{self, NewItem, NewOrder, Source, Status};
    c.execute_batch("SAVEPOINT bot_order")?;
    let attempt = (|| -> Result<orders::Order, crate::shop::ShopError> {
        let name = customer_name.or(p.name.as_deref()).unwrap_or("");
        let customer =
            crate::shop::customers::find_or_create_by_phone(c, p.tenant, &p.phone, name, "bot")?;
        let mut note = String::new();
        if let Some(a) = address.filter(|a| !a.trim().is_empty()) {
            note.push_str(&format!("Entrega: {a}"));
        }
        if let Some(n) = notes.filter(|n| !n.trim().is_empty()) {
            if !note.is_empty() {
                note.push('\n');
            }
            note.push_str(n);
        }
        let items = lines
            .iter()
            .map(|l| NewItem {
                product_id: crate::ids::ProductId::parse(&l.product_id),
                sku: Some(l.sku.clone()),
                quantity: l.qty,
            })
            .collect();
        let order = orders::create(
            c,
            p.tenant,
            NewOrder {
                customer_id: customer.id,
                items,
                discount_minor: 0,
                shipping_minor: 0,
                notes: note,
                source: Source::Bot,
                seller_id: None,
            },
            "bot",
        )?;
        orders::set_status(
            c,
            p.tenant,
            order.id,
            Status::Confirmed,
            "bot",
            "confirmed in the chat",
        )
    })();
    match attempt {
        Ok(order) => {
            // The shop recorded `order_created`; tie it to this bot and conversation so
            // conversion (conversations that ended in an order) can count it.
            c.execute_cached(
                "UPDATE events SET bot_id = ?2, conversation_id = ?3
                 WHERE id = (SELECT MAX(id) FROM events WHERE tenant_id = ?1 AND kind = 'order_created')",
                params![p.tenant, p.bot.to_string(), p.conversation.to_string()],
            )?;
            c.execute_batch("RELEASE bot_order")?;
            Ok(Input::OrderResult {
                ok: true,
                order_id: Some(order.id.to_string()),
                number: Some(order.number),
                total_minor: Some(order.total_minor),
                currency: Some(order.currency),
                error: None,
            })
        }
        Err(e) => {
            c.execute_batch("ROLLBACK TO bot_order; RELEASE bot_order")?;
            if let crate::shop::ShopError::Db(db) = e {
                return Err(db);
            }
            Ok(Input::OrderResult {
                ok: false,
                order_id: None,
                number: None,
                total_minor: None,
                currency: None,
                error: Some(e.to_string()),
            })
        }
    }
}

/// A customer may only look up their own orders.
fn lookup_order(c: &Connection, p: &Pending, number: i64) -> Result<Input, DbError> {
    let order = crate::shop::orders::by_number(c, p.tenant, number).map_err(|e| match e {
        crate::shop::ShopError::Db(db) => db,
        other => DbError::Other(other.to_string()),
    })?;
    Ok(match order.filter(|o| o.customer_phone == p.phone) {
        Some(o) => Input::OrderStatus {
            found: true,
            number,
            status: Some(o.status.as_str().to_string()),
            total_minor: Some(o.total_minor),
            currency: Some(o.currency),
        },
        None => Input::OrderStatus {
            found: false,
            number,
            status: None,
            total_minor: None,
            currency: None,
        },
    })
}

/// An `http` node's call: SSRF rules on the literal and the resolved addresses, a timeout,
/// and the JSON body (if any) handed back to the flow.
async fn run_http(state: &AppState, tenant: TenantId, e: &Effect) -> Input {
    let Effect::Http {
        method,
        url,
        headers,
        body,
        timeout_ms,
    } = e
    else {
        return Input::HttpResult {
            ok: false,
            status: None,
            body: None,
            error: Some("not an http effect".into()),
        };
    };
    let fail = |msg: String| Input::HttpResult {
        ok: false,
        status: None,
        body: None,
        error: Some(msg),
    };
    let allow_private = state
        .db
        .read(move |c| tenant_settings(c, tenant))
        .await
        .map(|t| t.allow_private_http)
        .unwrap_or(false);
    if let Err(why) = engine::http_target_allowed(url, allow_private) {
        return fail(why);
    }
    if !allow_private {
        if let Some((host, port)) = host_port(url) {
            match tokio::net::lookup_host((host.as_str(), port)).await {
                Ok(addrs) => {
                    for a in addrs {
                        let literal = format!("http://{}/", a.ip());
                        let literal = if a.is_ipv6() {
                            format!("http://[{}]/", a.ip())
                        } else {
                            literal
                        };
                        if let Err(why) = engine::http_target_allowed(&literal, false) {
                            return fail(format!("{host} resolves to a refused address: {why}"));
                        }
                    }
                }
                Err(e) => return fail(format!("cannot resolve {host}: {e}")),
            }
        }
    }
    let Ok(m) = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
        return fail(format!("bad method {method}"));
    };
    let mut rb = state
        .http
        .request(m, url)
        .timeout(Duration::from_millis((*timeout_ms).clamp(100, 60_000)));
    for (k, v) in headers {
        rb = rb.header(k, v);
    }
    if let Some(b) = body {
        rb = rb.body(b.clone());
    }
    match rb.send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let bytes = res.bytes().await.unwrap_or_default();
            let body = serde_json::from_slice(&bytes).ok();
            Input::HttpResult {
                ok: (200..300).contains(&status),
                status: Some(status),
                body,
                error: None,
            }
        }
        Err(e) => fail(e.to_string()),
    }
}

fn host_port(url: &str) -> Option<(String, u16)> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit('@').next()?;
    let default = if scheme.eq_ignore_ascii_case("https") {
        443
    } else {
        80
    };
    if let Some(v6) = authority.strip_prefix('[') {
        let (host, rest) = v6.split_once(']')?;
        let port = rest
            .strip_prefix(':')
            .and_then(|p| p.parse().ok())
            .unwrap_or(default);
        return Some((host.to_string(), port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) => Some((h.to_string(), p.parse().ok()?)),
        None => Some((authority.to_string(), default)),
    }
}

#[cfg(test)]
mod plan_tests {
    #[test]
    fn the_next_item_seeks_the_conversations_unprocessed_input_only() {
        // Without stats the planner rates messages_conversation the same, and it would walk
        // every message the conversation ever had.
        let plan = crate::store::sqlite::query_plan(super::NEXT_PENDING, ["c"]);
        assert!(
            plan.contains("USING INDEX messages_pending (conversation_id=?)"),
            "{plan}"
        );
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        let plan = crate::store::sqlite::query_plan(
            "SELECT DISTINCT conversation_id FROM messages WHERE direction = 'in' AND processed_at IS NULL LIMIT 10000",
            [],
        );
        assert!(plan.contains("USING INDEX messages_pending"), "{plan}");
    }
}
