//! Shared by the torture runs: start the real binary, set up a bot over HTTP, deliver
//! webhooks like a provider, and check DESIGN §5 on the data directory afterwards.
#![allow(dead_code)]

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dashoffice::bench::standin::{cloud_signature, text_webhook, CloudStandIn};
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_dashoffice");
pub const SECRET: &str = "app-secret";
pub const TOKEN: &str = "tok";
pub const PNID: &str = "42";
pub const OUTBOX_CONCURRENCY: usize = 8;

pub const ECHO_FLOW: &str = r#"{"start": "m", "nodes": {
    "m": {"type": "message", "text": "eco {{ input }}", "next": "fin"},
    "fin": {"type": "end"}}}"#;

/// Creates the owner account with the CLI (as an operator would).
pub fn add_owner(dir: &Path) {
    let status = Command::new(BIN)
        .args([
            "user",
            "add",
            "--email",
            "o@example.com",
            "--tenant",
            "T",
            "--data-dir",
        ])
        .arg(dir)
        .env("DASHOFFICE_NEW_PASSWORD", "a-long-password")
        .stdout(Stdio::null())
        .status()
        .expect("user add runs");
    assert!(status.success(), "user add");
}

/// Starts `serve` on `dir`; returns the child and its base URL.
// The child is killed and reaped by the tests.
#[allow(clippy::zombie_processes)]
pub fn start(dir: &Path, extra_env: &[(&str, &str)]) -> (Child, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("DASHOFFICE_LOG_LEVEL", "error")
        .env("DASHOFFICE_OUTBOX__RATE_PER_MIN", "10000000")
        .env("DASHOFFICE_OUTBOX__RATE_BURST", "100000")
        .env(
            "DASHOFFICE_OUTBOX__CONCURRENCY",
            OUTBOX_CONCURRENCY.to_string(),
        )
        .env("DASHOFFICE_API_RATE_LIMIT_PER_MIN", "1000000")
        .env("DASHOFFICE_OUTBOX__BASE_DELAY_MS", "50")
        .env("DASHOFFICE_OUTBOX__MAX_DELAY_MS", "400")
        .env("DASHOFFICE_OUTBOX__CIRCUIT_COOLDOWN_MS", "200")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("server spawns");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    while out.read_line(&mut line).unwrap_or(0) > 0 {
        if let Some(rest) = line.split("serving on ").nth(1) {
            let base = rest.trim().trim_end_matches('/').to_string();
            std::thread::spawn(move || for _ in out.lines() {});
            return (child, base);
        }
        line.clear();
    }
    panic!("server did not start");
}

pub fn stop(child: &mut Child) {
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

/// Logs in, creates a Cloud bot pointing at the stand-in and publishes `flow` as default.
pub async fn setup_bot(
    http: &reqwest::Client,
    base: &str,
    standin: &CloudStandIn,
    flow: Value,
) -> (String, String) {
    let login: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": "o@example.com", "password": "a-long-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().expect("token").to_string();
    let bot: Value = http
        .post(format!("{base}/api/bots")).bearer_auth(&token)
        .json(&json!({"name": "B", "primary": {"kind": "cloud", "phone_number_id": PNID, "access_token": TOKEN,
            "app_secret": SECRET, "verify_token": "v", "api_base": standin.url()}}))
        .send().await.unwrap().json().await.unwrap();
    let bot = bot["id"].as_str().expect("bot").to_string();
    let flow: Value = http
        .post(format!("{base}/api/bots/{bot}/flows"))
        .bearer_auth(&token)
        .json(&json!({"name": "F", "definition": flow, "is_default": true}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let flow = flow["id"].as_str().expect("flow").to_string();
    let res = http
        .post(format!("{base}/api/bots/{bot}/flows/{flow}/publish"))
        .bearer_auth(&token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    (token, bot)
}

pub fn demo_flow() -> Value {
    let mut def: Value = serde_json::from_str(dashoffice::engine::demo::DEMO_FLOW_JSON).unwrap();
    def.as_object_mut()
        .unwrap()
        .retain(|k, _| k != "id" && k != "version" && k != "name");
    def
}

/// Delivers like a provider: retries until the appliance answers 2xx. `base` is read at
/// every try (the server may have been restarted on another port).
pub async fn deliver(
    http: &reqwest::Client,
    base: &std::sync::RwLock<String>,
    bot: &str,
    body: Vec<u8>,
) -> u32 {
    let sig = cloud_signature(SECRET, &body);
    let mut tries = 0;
    loop {
        tries += 1;
        let url = format!("{}/webhooks/cloud/{bot}", base.read().unwrap());
        let res = http
            .post(url)
            .header("content-type", "application/json")
            .header("x-hub-signature-256", &sig)
            .body(body.clone())
            .timeout(Duration::from_secs(5))
            .send()
            .await;
        if matches!(&res, Ok(r) if r.status().is_success()) {
            return tries;
        }
        assert!(tries < 2000, "webhook never accepted");
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
}

pub fn webhook(from: &str, id: &str, text: &str) -> Vec<u8> {
    text_webhook(PNID, from, id, text)
}

/// Waits until nothing is unprocessed and nothing is queued or sending.
pub async fn settle(dir: &Path, within: Duration) -> bool {
    let deadline = std::time::Instant::now() + within;
    while std::time::Instant::now() < deadline {
        if let Ok(db) = rusqlite::Connection::open(dir.join("dashoffice.sqlite")) {
            let _ = db.busy_timeout(Duration::from_secs(2));
            let busy: Result<i64, _> = db.query_row(
                "SELECT (SELECT COUNT(*) FROM messages WHERE direction='in' AND processed_at IS NULL)
                      + (SELECT COUNT(*) FROM outbox WHERE status IN ('queued','sending'))",
                [],
                |r| r.get(0),
            );
            if busy == Ok(0) {
                return true;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// What the history says after a run; every field is checked by [`History::assert_exactly_once`].
#[derive(Debug)]
pub struct History {
    pub inbound_customer: i64,
    pub unprocessed: i64,
    pub replies_decided: i64,
    pub distinct_keys: i64,
    pub replies_per_contact: HashMap<String, i64>,
    pub outbox_by_status: HashMap<String, i64>,
    pub dead_without_error: i64,
    /// Provider ids of replies we recorded as sent.
    pub sent_ids: HashSet<String>,
    pub orders: i64,
    pub order_customers: i64,
    pub integrity: String,
}

pub fn read_history(dir: &Path) -> History {
    let db = rusqlite::Connection::open(dir.join("dashoffice.sqlite")).unwrap();
    let one = |sql: &str| -> i64 { db.query_row(sql, [], |r| r.get(0)).unwrap() };
    let mut st = db
        .prepare("SELECT c.contact_phone, COUNT(m.id) FROM conversations c JOIN messages m ON m.conversation_id = c.id AND m.direction='out' GROUP BY c.id")
        .unwrap();
    let replies_per_contact = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut st = db
        .prepare("SELECT status, COUNT(*) FROM outbox GROUP BY status")
        .unwrap();
    let outbox_by_status = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let mut st = db
        .prepare("SELECT provider_message_id FROM outbox WHERE status='sent'")
        .unwrap();
    let sent_ids = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    History {
        inbound_customer: one("SELECT COUNT(*) FROM messages WHERE direction='in' AND kind='customer'"),
        unprocessed: one("SELECT COUNT(*) FROM messages WHERE direction='in' AND processed_at IS NULL"),
        replies_decided: one("SELECT COUNT(*) FROM messages WHERE direction='out' AND source_key IS NOT NULL"),
        distinct_keys: one("SELECT COUNT(DISTINCT source_key) FROM messages WHERE direction='out' AND source_key IS NOT NULL"),
        replies_per_contact,
        outbox_by_status,
        dead_without_error: one("SELECT COUNT(*) FROM outbox WHERE status IN ('dead','failed') AND last_error IS NULL"),
        sent_ids,
        orders: one("SELECT COUNT(*) FROM orders"),
        order_customers: one("SELECT COUNT(DISTINCT customer_id) FROM orders"),
        integrity: db.query_row("PRAGMA integrity_check", [], |r| r.get(0)).unwrap(),
    }
}

impl History {
    /// DESIGN §5: each inbound stored once and processed; each decision made once; every
    /// reply either accepted by the provider or dead-lettered with its error; no
    /// reply we call sent that the provider never accepted. Returns outbound duplicates
    /// (the at-least-once window), which the caller bounds.
    pub fn assert_exactly_once(&self, expected_inbound: i64, standin: &CloudStandIn) -> usize {
        assert_eq!(self.integrity, "ok", "PRAGMA integrity_check");
        assert_eq!(
            self.inbound_customer, expected_inbound,
            "each webhook stored once despite redelivery"
        );
        assert_eq!(self.unprocessed, 0, "every inbound item processed");
        assert_eq!(
            self.replies_decided, self.distinct_keys,
            "never two replies for one (inbound, effect) key"
        );
        let open: i64 = ["queued", "sending"]
            .iter()
            .map(|s| self.outbox_by_status.get(*s).copied().unwrap_or(0))
            .sum();
        assert_eq!(
            open, 0,
            "nothing left queued or sending: {:?}",
            self.outbox_by_status
        );
        let total: i64 = self.outbox_by_status.values().sum();
        assert_eq!(
            total, self.replies_decided,
            "one outbox row per decided reply"
        );
        assert_eq!(self.dead_without_error, 0, "every dead letter says why");
        let accepted: HashSet<String> = standin.accepted().into_iter().map(|a| a.id).collect();
        for id in &self.sent_ids {
            assert!(
                accepted.contains(id),
                "{id} recorded as sent but the provider never accepted it"
            );
        }
        standin.accepted().len().saturating_sub(self.sent_ids.len())
    }
}

/// redb still opens and every table reads.
pub fn assert_redb_opens(dir: &Path) {
    let s = dashoffice::store::StateStore::open(&dir.join("state.redb")).expect("redb opens");
    s.check().expect("redb tables read");
}
