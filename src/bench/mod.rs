//! `dashoffice bench`: starts the real appliance (the same [`crate::build`] as `serve`) on
//! loopback with a fresh data directory and the default durability settings, plus a Cloud
//! API stand-in, and measures:
//!
//! - a. inbound webhook -> reply accepted by the stand-in (N bots x M contacts on the demo flow);
//! - b. REST reads at 64 concurrent connections;
//! - c. RSS of the real binary with 1,000 bots and 100,000 sessions, and cold start;
//! - d. the floor: a bare axum handler storing the same webhook row in SQLite, same pragmas.
//!
//! The machine is shared and small, so every figure is also given as a ratio to the floor
//! measured in the same run.

pub mod floor;
pub mod standin;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;

use crate::config::Config;
use crate::engine::{Effect, Session};
use crate::ids::{BotId, TenantId};
use crate::store::state::{Conversation, Step};
use crate::store::DbError;
use standin::{cloud_signature, text_webhook, CloudStandIn};

const TOKEN: &str = "bench-token";
const SECRET: &str = "bench-app-secret";
const EMAIL: &str = "bench@example.com";
const PASSWORD: &str = "bench-password-123";

/// What `dashoffice bench` was asked to do.
#[derive(Debug, Clone, Default)]
pub struct BenchOptions {
    pub out: Option<PathBuf>,
    pub quick: bool,
    /// Customers talking at once in the inbound -> reply run (default 128; 64 with --quick).
    pub concurrency: Option<usize>,
}

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    bots: usize,
    contacts_per_bot: usize,
    steps: usize,
    concurrency: usize,
    rest_secs: u64,
    floor_messages: usize,
    mem_bots: usize,
    mem_sessions: usize,
}

impl Plan {
    fn new(quick: bool) -> Plan {
        if quick {
            Plan {
                bots: 2,
                contacts_per_bot: 500,
                steps: 2,
                concurrency: 64,
                rest_secs: 2,
                floor_messages: 3_000,
                mem_bots: 100,
                mem_sessions: 10_000,
            }
        } else {
            Plan {
                bots: 10,
                contacts_per_bot: 500,
                steps: 2,
                concurrency: 128,
                rest_secs: 8,
                floor_messages: 20_000,
                mem_bots: 1_000,
                mem_sessions: 100_000,
            }
        }
    }
}

/// Latencies in microseconds.
#[derive(Default)]
struct Latencies(Vec<u64>);

impl Latencies {
    fn push(&mut self, d: Duration) {
        self.0.push(d.as_micros() as u64);
    }
    fn pct_ms(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_unstable();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[i.min(self.0.len() - 1)] as f64 / 1000.0
    }
    fn summary(&mut self) -> Value {
        json!({"count": self.0.len(), "p50_ms": round2(self.pct_ms(0.50)), "p99_ms": round2(self.pct_ms(0.99)), "max_ms": round2(self.pct_ms(1.0))})
    }
}

/// CPU seconds this process has used (all threads: server, load generator, stand-in).
fn cpu_secs() -> f64 {
    // SAFETY: getrusage fills the struct we own.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return 0.0;
    }
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// What a phase cost in CPU: per item, and the share of the machine it kept busy.
fn cpu_use(cpu_before: f64, wall_secs: f64, items: usize) -> Value {
    let used = cpu_secs() - cpu_before;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    json!({"cpu_secs": round2(used),
        "cpu_ms_per_item": round2(used * 1000.0 / items.max(1) as f64),
        "machine_busy_pct": round2(100.0 * used / (wall_secs * cores).max(1e-9))})
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

struct Target {
    bot: BotId,
    phone_number_id: String,
}

/// Runs the whole bench and prints the table; writes JSON when asked.
pub async fn run(opts: BenchOptions) -> anyhow::Result<()> {
    let mut plan = Plan::new(opts.quick);
    if let Some(c) = opts.concurrency {
        plan.concurrency = c.max(1);
    }
    let root = std::env::temp_dir().join(format!("dashoffice-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&root)?;
    let result = run_in(&root, plan).await;
    let _ = std::fs::remove_dir_all(&root);
    let report = result?;
    print_table(&report);
    if let Some(out) = opts.out {
        std::fs::write(&out, serde_json::to_string_pretty(&report)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
        println!("JSON written to {}", out.display());
    }
    Ok(())
}

/// Bench configuration: what `serve` would run here (defaults < dashoffice.toml <
/// `DASHOFFICE_*`), durability included, except that the per-bot send pacing and the
/// per-tenant API limit are lifted unless set explicitly: otherwise they are what is measured.
pub fn bench_config(data_dir: &Path) -> anyhow::Result<Config> {
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    for (k, v) in bench_env() {
        if !env.iter().any(|(e, _)| e == k) {
            env.push((k.to_string(), v.to_string()));
        }
    }
    Ok(Config::load(
        None,
        env,
        &crate::config::Overrides {
            data_dir: Some(data_dir.to_path_buf()),
            listen: Some("127.0.0.1:0".into()),
        },
    )?)
}

/// What the bench changes from the defaults (also given to the spawned binaries).
fn bench_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("DASHOFFICE_LOG_LEVEL", "warn"),
        ("DASHOFFICE_API_RATE_LIMIT_PER_MIN", "1000000000"),
        ("DASHOFFICE_OUTBOX__RATE_PER_MIN", "1000000000"),
        ("DASHOFFICE_OUTBOX__RATE_BURST", "1000000"),
    ]
}

async fn run_in(root: &Path, plan: Plan) -> anyhow::Result<Value> {
    let standin = Arc::new(CloudStandIn::start(TOKEN, false).await?);
    let data = root.join("data");
    let config = bench_config(&data)?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = crate::build(config.clone()).await?;
    eprintln!(
        "bench: outbox.concurrency={}, read_pool_size={}",
        config.outbox.concurrency, config.read_pool_size
    );
    let state = app.state.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stop_rx.await;
    }));
    let base = format!("http://{addr}");
    let http = reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(1024)
        .timeout(Duration::from_secs(30))
        .build()?;

    // Honest durability: ask the writer connection, not the config.
    let sync_mode: i64 = state
        .db
        .write(|c| Ok(c.pragma_query_value(None, "synchronous", |r| r.get(0))?))
        .await?;
    let sync_name = match sync_mode {
        0 => "OFF",
        1 => "NORMAL",
        2 => "FULL",
        3 => "EXTRA",
        _ => "?",
    };
    eprintln!("bench: sqlite synchronous={sync_name}, redb durability=Immediate; setting up");

    let tenant = seed_tenant(&state).await?;
    let token = login(&http, &base).await?;
    let targets = create_bots(&state, tenant, &standin.url(), plan.bots, 0).await?;

    // a. inbound -> reply
    eprintln!(
        "bench: inbound -> reply, {} bots x {} contacts x {} steps, {} at once",
        plan.bots, plan.contacts_per_bot, plan.steps, plan.concurrency
    );
    let mut inbound = inbound_to_reply(&http, &base, &standin, &targets, plan).await?;
    inbound["where_time_goes"] = timing_spans(&state.metrics.render());

    // b. REST reads
    eprintln!("bench: REST reads, 64 connections, {} s", plan.rest_secs);
    let rest = rest_reads(&http, &base, &token, plan.rest_secs).await?;

    // d. the floor, same load shape, same pragmas
    eprintln!("bench: floor");
    let floor_row = run_floor(root, sync_name, false, &http, plan).await?;
    let floor_group = run_floor(root, sync_name, true, &http, plan).await?;

    // c. memory: 1,000 bots and 100,000 sessions, then the real binary cold.
    eprintln!(
        "bench: creating {} bots and {} sessions",
        plan.mem_bots, plan.mem_sessions
    );
    let populate_started = Instant::now();
    let extra = plan.mem_bots.saturating_sub(plan.bots);
    let mut mem_targets = targets;
    mem_targets.extend(create_bots(&state, tenant, &standin.url(), extra, plan.bots).await?);
    let session_phones = write_sessions(&state, &mem_targets, plan.mem_sessions).await?;
    let populate_secs = populate_started.elapsed().as_secs_f64();
    let sessions_in_redb = state.state.session_count()?;
    let _ = stop_tx.send(());
    server.await??;
    drop(state);

    let exe = std::env::current_exe()?;
    let empty = root.join("empty");
    let (mut child, _, cold_empty) = spawn_server(&exe, &empty, &[]).await?;
    stop_child(&mut child).await;
    // The default configuration first, then two variants that show where memory goes.
    let variants: [(&str, &[(&str, &str)]); 3] = [
        ("default", &[]),
        ("read_pool_size=2", &[("DASHOFFICE_READ_POOL_SIZE", "2")]),
        ("MALLOC_ARENA_MAX=2", &[("MALLOC_ARENA_MAX", "2")]),
    ];
    let mut memory_runs = vec![];
    let mut cold_loaded = Duration::ZERO;
    for (round, (name, env)) in variants.iter().enumerate() {
        let (mut child, child_base, cold) = spawn_server(&exe, &data, env).await?;
        if round == 0 {
            cold_loaded = cold;
        }
        let rss_idle = rss_kb(child.id());
        eprintln!("bench: memory ({name}): warming every bot once (a message from a contact with a session)");
        let warm = warm_bots(
            &http,
            &child_base,
            &standin,
            &mem_targets,
            &session_phones,
            round,
        )
        .await;
        let rss_warm = rss_kb(child.id());
        stop_child(&mut child).await;
        warm?;
        memory_runs.push(json!({"variant": name,
            "rss_mb_after_start": rss_idle.map(|k| round2(k as f64 / 1024.0)),
            "rss_mb_after_every_bot_answered": rss_warm.map(|k| round2(k as f64 / 1024.0))}));
    }

    let machine = machine();
    let (ours, row, group) = (
        inbound["per_sec"].as_f64().unwrap_or(0.0),
        floor_row["per_sec"].as_f64().unwrap_or(0.0),
        floor_group["per_sec"].as_f64().unwrap_or(0.0),
    );
    Ok(json!({
        "machine": machine,
        "durability": {"sqlite_synchronous": sync_name, "sqlite_journal_mode": "WAL", "redb": "Durability::Immediate"},
        "config": {"outbox.rate_per_min": config.outbox.rate_per_min, "outbox.rate_burst": config.outbox.rate_burst,
            "outbox.concurrency": config.outbox.concurrency, "api_rate_limit_per_min": config.api_rate_limit_per_min,
            "read_pool_size": config.read_pool_size,
            "note": "defaults < dashoffice.toml < DASHOFFICE_* env; the bench lifts send pacing and the API limit unless set"},
        "plan": {"bots": plan.bots, "contacts_per_bot": plan.contacts_per_bot, "steps_per_contact": plan.steps, "concurrency": plan.concurrency, "quick": plan.rest_secs < 5},
        "inbound_to_reply": inbound,
        "floor_one_row_per_tx": floor_row,
        "floor_group_commit": floor_group,
        "ratio_ours_to_floor_one_row_per_tx": round2(ours / row.max(1e-9)),
        "ratio_ours_to_floor_group_commit": round2(ours / group.max(1e-9)),
        "rest_reads": rest,
        "memory": {"bots": mem_targets.len(), "sessions_in_redb": sessions_in_redb, "sessions_written_via": "StateStore::commit_steps (batches of 2,000)",
            "populate_secs": round2(populate_secs),
            "rss_mb_after_start": memory_runs[0]["rss_mb_after_start"], "rss_mb_after_every_bot_answered": memory_runs[0]["rss_mb_after_every_bot_answered"],
            "runs": memory_runs},
        "cold_start_ms": {"empty_data_dir": round2(cold_empty.as_secs_f64() * 1000.0), "with_bots_and_sessions": round2(cold_loaded.as_secs_f64() * 1000.0),
            "measured": "spawn of the release binary `serve` until GET /health answers 200"},
    }))
}

async fn seed_tenant(state: &crate::AppState) -> anyhow::Result<TenantId> {
    use crate::auth::{password, store as users, Role};
    let hash = password::hash(PASSWORD.to_string())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tenant = state
        .db
        .write(move |c| {
            let t = users::create_tenant(c, "Bench")?;
            users::create_user(
                c,
                t.id,
                &users::NewUser {
                    email: EMAIL,
                    name: "Bench",
                    role: Role::Owner,
                    password_hash: &hash,
                },
            )?;
            crate::shop::demo::install(c, t.id).map_err(|e| DbError::Other(e.to_string()))?;
            Ok(t.id)
        })
        .await?;
    Ok(tenant)
}

async fn login(http: &reqwest::Client, base: &str) -> anyhow::Result<String> {
    let res: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": EMAIL, "password": PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    res["access_token"]
        .as_str()
        .map(str::to_string)
        .context("login gave no token")
}

/// Bots on the Cloud channel (pointing at the stand-in) with the demo flow published.
async fn create_bots(
    state: &crate::AppState,
    tenant: TenantId,
    api_base: &str,
    count: usize,
    first: usize,
) -> anyhow::Result<Vec<Target>> {
    let mut definition: Value = serde_json::from_str(crate::engine::demo::DEMO_FLOW_JSON)?;
    if let Value::Object(m) = &mut definition {
        m.remove("id");
        m.remove("version");
        m.remove("name");
    }
    let mut out = Vec::with_capacity(count);
    let key = state.seal_key;
    let mut n = first;
    while out.len() < count {
        let chunk = (count - out.len()).min(100);
        let (api_base, definition) = (api_base.to_string(), definition.clone());
        let start = n;
        let made = state
            .db
            .write(move |c| {
                let mut made = vec![];
                for i in start..start + chunk {
                    let phone_number_id = format!("10{i:06}");
                    let channel: crate::channels::ChannelConfig = serde_json::from_value(json!({
                        "kind": "cloud", "phone_number_id": phone_number_id, "access_token": TOKEN,
                        "app_secret": SECRET, "verify_token": "v", "api_base": api_base}))
                    .map_err(|e| DbError::Other(e.to_string()))?;
                    let bot = crate::bots::create(
                        c,
                        &key,
                        tenant,
                        &crate::bots::NewBot {
                            name: format!("Bench {i}"),
                            phone: String::new(),
                            active: true,
                            settings: json!({}),
                            channels: vec![channel],
                        },
                    )?;
                    let flow = crate::flows::create(c, tenant, bot.id, "Demo", &definition, true)?;
                    crate::flows::publish(c, &flow, &definition, "bench", None)?;
                    made.push(Target {
                        bot: bot.id,
                        phone_number_id,
                    });
                }
                Ok(made)
            })
            .await?;
        n += chunk;
        out.extend(made);
    }
    Ok(out)
}

fn phone_of(bot_index: usize, contact: usize) -> String {
    format!("519{bot_index:04}{contact:06}")
}

/// Posts a signed webhook until the appliance answers 2xx; returns the tries it took.
async fn post_webhook(
    http: &reqwest::Client,
    url: &str,
    body: Vec<u8>,
) -> anyhow::Result<(u32, Duration)> {
    let sig = cloud_signature(SECRET, &body);
    let started = Instant::now();
    for attempt in 1..=50u32 {
        let res = http
            .post(url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &sig)
            .body(body.clone())
            .send()
            .await;
        if matches!(&res, Ok(r) if r.status().is_success()) {
            return Ok((attempt, started.elapsed()));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    bail!("webhook {url} refused 50 times")
}

async fn inbound_to_reply(
    http: &reqwest::Client,
    base: &str,
    standin: &Arc<CloudStandIn>,
    targets: &[Target],
    plan: Plan,
) -> anyhow::Result<Value> {
    let work: Arc<Vec<(usize, usize)>> = Arc::new(
        (0..plan.contacts_per_bot)
            .flat_map(|c| (0..targets.len()).map(move |b| (b, c)))
            .collect(),
    );
    let targets: Arc<Vec<(String, String)>> = Arc::new(
        targets
            .iter()
            .map(|t| {
                (
                    format!("{base}/webhooks/cloud/{}", t.bot),
                    t.phone_number_id.clone(),
                )
            })
            .collect(),
    );
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let cpu0 = cpu_secs();
    let mut tasks = vec![];
    for _ in 0..plan.concurrency {
        let (http, standin, work, targets, next) = (
            http.clone(),
            standin.clone(),
            work.clone(),
            targets.clone(),
            next.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let (mut reply, mut ack, mut retries) =
                (Latencies::default(), Latencies::default(), 0u32);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(&(b, c)) = work.get(i) else { break };
                let (url, pnid) = &targets[b];
                let phone = phone_of(b, c);
                let to = format!("+{phone}");
                for step in 0..plan.steps {
                    let text = if step == 0 { "hola" } else { "menu" };
                    let body = text_webhook(pnid, &phone, &format!("wamid.B{b}C{c}S{step}"), text);
                    let t0 = Instant::now();
                    let (tries, took) = post_webhook(&http, url, body).await?;
                    retries += tries - 1;
                    ack.push(took);
                    // The demo flow answers "hola" and "menu" with a greeting and the menu.
                    let Some(at) = standin
                        .wait_for(&to, 2 * (step + 1), Duration::from_secs(60))
                        .await
                    else {
                        bail!("contact {to} got no reply to step {step} within 60 s");
                    };
                    reply.push(at.saturating_duration_since(t0));
                }
            }
            Ok::<_, anyhow::Error>((reply, ack, retries))
        }));
    }
    let (mut reply, mut ack, mut retries) = (Latencies::default(), Latencies::default(), 0);
    for t in tasks {
        let (r, a, n) = t.await??;
        reply.0.extend(r.0);
        ack.0.extend(a.0);
        retries += n;
    }
    let secs = started.elapsed().as_secs_f64();
    let messages = reply.0.len();
    Ok(json!({
        "messages": messages,
        "replies_accepted": standin.accepted_count(),
        "secs": round2(secs),
        "per_sec": round2(messages as f64 / secs),
        "replies_per_sec": round2(standin.accepted_count() as f64 / secs),
        "cpu": cpu_use(cpu0, secs, messages),
        "reply_latency": reply.summary(),
        "webhook_ack_latency": ack.summary(),
        "webhook_retries": retries,
        "measured": "webhook POST sent -> the last reply of that step (greeting + menu) accepted by the stand-in",
    }))
}

async fn rest_reads(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    secs: u64,
) -> anyhow::Result<Value> {
    let paths = ["/api/products", "/api/orders", "/api/conversations"];
    // Warm the pool and check the answers once.
    for p in paths {
        let res = http
            .get(format!("{base}{p}"))
            .bearer_auth(token)
            .send()
            .await?;
        if !res.status().is_success() {
            bail!("GET {p} answered {}", res.status());
        }
    }
    let until = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let cpu0 = cpu_secs();
    let mut tasks = vec![];
    for i in 0..64 {
        let (http, base, token) = (http.clone(), base.to_string(), token.to_string());
        tasks.push(tokio::spawn(async move {
            let mut lats: [Latencies; 3] = Default::default();
            let mut errors = 0u64;
            let mut n = i;
            while Instant::now() < until {
                let which = n % 3;
                n += 1;
                let t0 = Instant::now();
                let res = http
                    .get(format!("{base}{}", paths[which]))
                    .bearer_auth(&token)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => {
                        let _ = r.bytes().await;
                        lats[which].push(t0.elapsed());
                    }
                    _ => errors += 1,
                }
            }
            (lats, errors)
        }));
    }
    let mut all: [Latencies; 3] = Default::default();
    let mut errors = 0;
    for t in tasks {
        let (l, e) = t.await?;
        for (a, b) in all.iter_mut().zip(l) {
            a.0.extend(b.0);
        }
        errors += e;
    }
    let secs = started.elapsed().as_secs_f64();
    let mut total = Latencies(all.iter().flat_map(|l| l.0.iter().copied()).collect());
    let count = total.0.len();
    Ok(json!({
        "connections": 64,
        "requests": count,
        "errors": errors,
        "secs": round2(secs),
        "per_sec": round2(count as f64 / secs),
        "cpu": cpu_use(cpu0, secs, count),
        "latency": total.summary(),
        "products": all[0].summary(),
        "orders": all[1].summary(),
        "conversations": all[2].summary(),
    }))
}

async fn run_floor(
    root: &Path,
    sync_name: &str,
    group: bool,
    http: &reqwest::Client,
    plan: Plan,
) -> anyhow::Result<Value> {
    let path = root.join(if group {
        "floor-group.sqlite"
    } else {
        "floor-row.sqlite"
    });
    let server = floor::start(&path, sync_name, group, SECRET).await?;
    let url = format!("http://{}/webhooks/cloud/floor", server.addr);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let cpu0 = cpu_secs();
    let mut tasks = vec![];
    for _ in 0..plan.concurrency {
        let (http, url, next) = (http.clone(), url.clone(), next.clone());
        let total = plan.floor_messages;
        tasks.push(tokio::spawn(async move {
            let mut lat = Latencies::default();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let phone = phone_of(9999, i);
                let body = text_webhook("1", &phone, &format!("wamid.F{i}"), "hola");
                let (_, took) = post_webhook(&http, &url, body).await?;
                lat.push(took);
            }
            Ok::<_, anyhow::Error>(lat)
        }));
    }
    let mut lat = Latencies::default();
    for t in tasks {
        lat.0.extend(t.await??.0);
    }
    let secs = started.elapsed().as_secs_f64();
    let n = lat.0.len();
    drop(server);
    Ok(json!({
        "variant": if group { "group commit (the appliance's own SQLite writer)" } else { "one row per transaction" },
        "messages": n,
        "secs": round2(secs),
        "per_sec": round2(n as f64 / secs),
        "cpu": cpu_use(cpu0, secs, n),
        "latency": lat.summary(),
    }))
}

/// Writes `count` sessions spread over the bots straight into redb, in batches; returns
/// one contact phone with a session per bot (for warming).
async fn write_sessions(
    state: &crate::AppState,
    targets: &[Target],
    count: usize,
) -> anyhow::Result<Vec<String>> {
    // A real session, as the engine left it after "hola" (it waits on the menu).
    let (bot, phone): (String, String) = state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT bot_id, contact_phone FROM conversations ORDER BY created_at LIMIT 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await?;
    let template: Conversation<Session> = state
        .state
        .conversation(&format!("{bot}:{phone}"))?
        .context("the first conversation has no session")?;
    let mut firsts = vec![String::new(); targets.len()];
    let bots: Vec<BotId> = targets.iter().map(|t| t.bot).collect();
    let store = state.state.clone();
    let phones = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<String>> {
        let none: Vec<Effect> = vec![];
        let mut i = 0usize;
        while i < count {
            let end = (i + 2_000).min(count);
            let keys: Vec<(String, i64)> = (i..end)
                .map(|n| {
                    let b = n % bots.len();
                    let phone = format!("+5198{n:08}");
                    if firsts[b].is_empty() {
                        firsts[b] = phone.clone();
                    }
                    (format!("{}:{phone}", bots[b]), -(n as i64) - 1)
                })
                .collect();
            let steps: Vec<Step<'_, Session, Vec<Effect>>> = keys
                .iter()
                .map(|(k, id)| Step {
                    key: k,
                    conversation: &template,
                    inbound_id: *id,
                    effects: &none,
                })
                .collect();
            store.commit_steps(&steps)?;
            let ids: Vec<i64> = keys.iter().map(|(_, id)| *id).collect();
            store.clear_effects(&ids)?;
            i = end;
        }
        Ok(firsts)
    })
    .await??;
    Ok(phones)
}

/// Starts the real binary on `dir`; returns it, its base URL and the time to /health 200.
async fn spawn_server(
    exe: &Path,
    dir: &Path,
    extra_env: &[(&str, &str)],
) -> anyhow::Result<(tokio::process::Child, String, Duration)> {
    let started = Instant::now();
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    for (k, v) in bench_env().into_iter().chain(extra_env.iter().copied()) {
        if std::env::var_os(k).is_none() || extra_env.iter().any(|(e, _)| *e == k) {
            cmd.env(k, v);
        }
    }
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", exe.display()))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let base = loop {
        match tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await {
            Ok(Ok(Some(line))) => {
                if let Some(rest) = line.split("serving on ").nth(1) {
                    break rest.trim().trim_end_matches('/').to_string();
                }
            }
            _ => bail!("the server did not start"),
        }
    };
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let http = reqwest::Client::builder().no_proxy().build()?;
    loop {
        if let Ok(r) = http.get(format!("{base}/health")).send().await {
            if r.status().is_success() {
                break;
            }
        }
        if started.elapsed() > Duration::from_secs(30) {
            bail!("/health did not answer 200 within 30 s");
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    Ok((child, base, started.elapsed()))
}

async fn stop_child(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        // SAFETY: kill(2) on our own child process.
        unsafe { libc::kill(pid as i32, libc::SIGTERM) };
    }
    if tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .is_err()
    {
        let _ = child.kill().await;
    }
}

fn rss_kb(pid: Option<u32>) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{}/status", pid?)).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// One message to every bot from a contact that already has a session; waits for answers.
async fn warm_bots(
    http: &reqwest::Client,
    base: &str,
    standin: &Arc<CloudStandIn>,
    targets: &[Target],
    phones: &[String],
    round: usize,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let work: Arc<Vec<(String, String, String)>> = Arc::new(
        targets
            .iter()
            .zip(phones)
            .filter(|(_, p)| !p.is_empty())
            .map(|(t, p)| {
                (
                    format!("{base}/webhooks/cloud/{}", t.bot),
                    t.phone_number_id.clone(),
                    p.trim_start_matches('+').to_string(),
                )
            })
            .collect(),
    );
    let mut tasks = vec![];
    for _ in 0..32 {
        let (http, standin, work, next) =
            (http.clone(), standin.clone(), work.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some((url, pnid, phone)) = work.get(i) else {
                    break;
                };
                let body = text_webhook(pnid, phone, &format!("wamid.W{round}.{i}"), "menu");
                post_webhook(&http, url, body).await?;
                if standin
                    .wait_for(
                        &format!("+{phone}"),
                        2 * (round + 1),
                        Duration::from_secs(60),
                    )
                    .await
                    .is_none()
                {
                    bail!("bot {i} did not answer while warming");
                }
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok(())
}

/// Mean and count of the store timings the appliance records (Prometheus text).
fn timing_spans(text: &str) -> Value {
    let value = |name: &str| -> f64 {
        text.lines()
            .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
            .filter_map(|l| l.split_whitespace().last()?.parse::<f64>().ok())
            .sum()
    };
    let mut out = serde_json::Map::new();
    for (h, unit) in [
        ("redb_write_seconds", "ms"),
        ("redb_group_commit_seconds", "ms"),
        ("redb_group_size", "steps"),
        ("sqlite_write_batch_seconds", "ms"),
        ("sqlite_write_group_jobs", "jobs"),
    ] {
        let (sum, count) = (value(&format!("{h}_sum")), value(&format!("{h}_count")));
        if count > 0.0 {
            let mean = sum / count * if unit == "ms" { 1000.0 } else { 1.0 };
            out.insert(
                h.into(),
                json!({"count": count, "mean": round2(mean), "unit": unit}),
            );
        }
    }
    Value::Object(out)
}

fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .unwrap_or("?")
        .trim()
        .to_string();
    let mem_kb: u64 = std::fs::read_to_string("/proc/meminfo")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("MemTotal:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    json!({
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "cpu": model,
        "mem_gb": round2(mem_kb as f64 / 1024.0 / 1024.0),
        "kernel": std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim(),
        "note": "load generator, stand-in and server share the same cores",
    })
}

fn print_table(r: &Value) {
    let f = |v: &Value| v.as_f64().map_or("-".to_string(), |x| format!("{x:.2}"));
    let i = &r["inbound_to_reply"];
    let fr = &r["floor_one_row_per_tx"];
    let fg = &r["floor_group_commit"];
    let rest = &r["rest_reads"];
    let mem = &r["memory"];
    let cold = &r["cold_start_ms"];
    println!();
    println!(
        "DashOffice bench — {} CPU(s) {}; sqlite synchronous={}, redb {}",
        r["machine"]["cpus"],
        r["machine"]["cpu"].as_str().unwrap_or("?"),
        r["durability"]["sqlite_synchronous"]
            .as_str()
            .unwrap_or("?"),
        r["durability"]["redb"].as_str().unwrap_or("?")
    );
    println!("{:-<96}", "");
    println!(
        "{:<44} {:>12} {:>10} {:>10} {:>14}",
        "measure", "per second", "p50 ms", "p99 ms", "target"
    );
    println!("{:-<96}", "");
    let row = |name: &str, rate: &Value, lat: &Value, target: &str| {
        println!(
            "{:<44} {:>12} {:>10} {:>10} {:>14}",
            name,
            f(rate),
            f(&lat["p50_ms"]),
            f(&lat["p99_ms"]),
            target
        );
    };
    row(
        "a. inbound webhook -> reply accepted",
        &i["per_sec"],
        &i["reply_latency"],
        ">=5000, <50ms",
    );
    row(
        "   webhook answered 2xx (same run)",
        &Value::Null,
        &i["webhook_ack_latency"],
        "",
    );
    row(
        "d. floor: one row per transaction",
        &fr["per_sec"],
        &fr["latency"],
        "",
    );
    row("d. floor: group commit", &fg["per_sec"], &fg["latency"], "");
    row(
        "b. REST reads, 64 connections",
        &rest["per_sec"],
        &rest["latency"],
        ">=20000, <10ms",
    );
    println!("{:-<96}", "");
    println!(
        "ours/floor: {} (one row per tx), {} (group commit)   target >= 0.5",
        f(&r["ratio_ours_to_floor_one_row_per_tx"]),
        f(&r["ratio_ours_to_floor_group_commit"])
    );
    let cpu = |v: &Value| {
        format!(
            "{} ms ({}% busy)",
            f(&v["cpu"]["cpu_ms_per_item"]),
            f(&v["cpu"]["machine_busy_pct"])
        )
    };
    println!(
        "CPU per item, whole process (server + load generator + stand-in): inbound {}, floor group {}, REST {}",
        cpu(i),
        cpu(fg),
        cpu(rest)
    );
    println!(
        "c. RSS with {} bots, {} sessions: {} MB after start, {} MB after every bot answered   target < 100",
        mem["bots"],
        mem["sessions_in_redb"],
        f(&mem["rss_mb_after_start"]),
        f(&mem["rss_mb_after_every_bot_answered"])
    );
    for run in mem["runs"].as_array().into_iter().flatten().skip(1) {
        println!(
            "   variant {}: {} MB after start, {} MB after every bot answered",
            run["variant"].as_str().unwrap_or("?"),
            f(&run["rss_mb_after_start"]),
            f(&run["rss_mb_after_every_bot_answered"])
        );
    }
    if let Some(spans) = i["where_time_goes"].as_object() {
        for (k, v) in spans {
            println!(
                "   {k}: mean {} {} over {}",
                f(&v["mean"]),
                v["unit"].as_str().unwrap_or(""),
                v["count"]
            );
        }
    }
    println!(
        "   cold start to /health 200: {} ms (empty), {} ms (with bots and sessions)   target < 200",
        f(&cold["empty_data_dir"]),
        f(&cold["with_bots_and_sessions"])
    );
}
