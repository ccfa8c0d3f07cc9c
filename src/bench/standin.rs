//! An in-process WhatsApp Cloud API stand-in for the bench and the torture tests
//! (PROTOCOLS A4): `POST /{ver}/{phone_number_id}/messages` with `Authorization: Bearer`,
//! answered with `{"messaging_product":"whatsapp","contacts":[..],"messages":[{"id":"wamid.."}]}`.
//!
//! It records every accepted message per recipient with the instant it was accepted, so a
//! load generator can wait for "the n-th reply to this contact". For chaos runs it can
//! flap (500, code 131000), rate-limit (429, code 130429), hang past the caller's timeout,
//! or accept and then hang (the provider took the message but we never heard: the
//! documented at-least-once window).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use rand::Rng;
use serde_json::{json, Value};
use tokio::sync::oneshot;

/// How sends are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Mode {
    Ok = 0,
    /// 500 with Graph's "something went wrong" (131000, retriable).
    Fail5xx = 1,
    /// 429 with code 130429 (throughput limit, retriable).
    RateLimited = 2,
    /// No answer until the caller gives up; nothing accepted.
    Hang = 3,
    /// Per request at random: mostly OK, some 500, 429, hangs and accept-then-hang.
    Chaos = 4,
}

impl Mode {
    fn from_u8(v: u8) -> Mode {
        match v {
            1 => Mode::Fail5xx,
            2 => Mode::RateLimited,
            3 => Mode::Hang,
            4 => Mode::Chaos,
            _ => Mode::Ok,
        }
    }
}

/// One message the stand-in accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub to: String,
    pub body: Value,
    pub id: String,
    pub at: Instant,
}

#[derive(Default)]
struct Contact {
    times: Vec<Instant>,
    /// (n, sender): wake when the n-th reply to this contact arrives.
    waiter: Option<(usize, oneshot::Sender<Instant>)>,
}

struct Shared {
    token: String,
    mode: AtomicU8,
    hang: Mutex<Duration>,
    record_bodies: bool,
    seq: AtomicU64,
    requests: AtomicU64,
    refused: AtomicU64,
    contacts: Mutex<HashMap<String, Contact>>,
    accepted: Mutex<Vec<Accepted>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The running stand-in; stops when dropped.
pub struct CloudStandIn {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for CloudStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl CloudStandIn {
    /// Starts on 127.0.0.1:0. `record_bodies` keeps every accepted body (tests); the bench
    /// keeps only per-contact timings.
    pub async fn start(token: &str, record_bodies: bool) -> std::io::Result<CloudStandIn> {
        let shared = Arc::new(Shared {
            token: token.to_string(),
            mode: AtomicU8::new(Mode::Ok as u8),
            hang: Mutex::new(Duration::from_secs(2)),
            record_bodies,
            seq: AtomicU64::new(0),
            requests: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            contacts: Mutex::new(HashMap::new()),
            accepted: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/{ver}/{phone}/messages", post(send))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(CloudStandIn { addr, shared, task })
    }

    /// Base URL for a bot's `api_base`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_mode(&self, mode: Mode) {
        self.shared.mode.store(mode as u8, Ordering::SeqCst);
    }

    /// How long a hanging answer takes (longer than the appliance's send timeout).
    pub fn set_hang(&self, d: Duration) {
        *lock(&self.shared.hang) = d;
    }

    /// Sends seen (accepted or not).
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::Relaxed)
    }

    /// Sends answered with an error or a hang.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Accepted messages so far.
    pub fn accepted_count(&self) -> u64 {
        self.shared.seq.load(Ordering::Relaxed)
    }

    /// Every accepted message with its body (only when started with `record_bodies`).
    pub fn accepted(&self) -> Vec<Accepted> {
        lock(&self.shared.accepted).clone()
    }

    /// Replies accepted for a recipient (`to` as sent: `+<digits>`).
    pub fn count_for(&self, to: &str) -> usize {
        lock(&self.shared.contacts)
            .get(to)
            .map_or(0, |c| c.times.len())
    }

    /// Resolves with the instant the `n`-th reply to `to` was accepted.
    pub async fn wait_for(&self, to: &str, n: usize, within: Duration) -> Option<Instant> {
        if n == 0 {
            return Some(Instant::now());
        }
        let rx = {
            let mut contacts = lock(&self.shared.contacts);
            let c = contacts.entry(to.to_string()).or_default();
            if c.times.len() >= n {
                return c.times.get(n - 1).copied();
            }
            let (tx, rx) = oneshot::channel();
            c.waiter = Some((n, tx));
            rx
        };
        tokio::time::timeout(within, rx).await.ok()?.ok()
    }

    /// Forgets every recorded message.
    pub fn clear(&self) {
        lock(&self.shared.contacts).clear();
        lock(&self.shared.accepted).clear();
    }
}

enum Answer {
    Accept,
    Fail5xx,
    RateLimited,
    Hang,
    AcceptThenHang,
}

fn choose(mode: Mode) -> Answer {
    match mode {
        Mode::Ok => Answer::Accept,
        Mode::Fail5xx => Answer::Fail5xx,
        Mode::RateLimited => Answer::RateLimited,
        Mode::Hang => Answer::Hang,
        Mode::Chaos => match rand::thread_rng().gen_range(0..100) {
            0..=54 => Answer::Accept,
            55..=69 => Answer::Fail5xx,
            70..=84 => Answer::RateLimited,
            85..=94 => Answer::Hang,
            _ => Answer::AcceptThenHang,
        },
    }
}

fn graph_error(status: StatusCode, code: i64, message: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": {"message": message, "type": "OAuthException", "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": message}, "fbtrace_id": "Bench"}})),
    )
        .into_response()
}

async fn send(
    State(s): State<Arc<Shared>>,
    Path((_ver, _phone)): Path<(String, String)>,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    s.requests.fetch_add(1, Ordering::Relaxed);
    let auth = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if auth.strip_prefix("Bearer ") != Some(s.token.as_str()) {
        s.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::UNAUTHORIZED, 190, "Invalid OAuth access token.");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&raw) else {
        s.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::BAD_REQUEST, 100, "Invalid parameter");
    };
    let to = body["to"].as_str().unwrap_or_default().to_string();
    if body["messaging_product"] != "whatsapp" || to.is_empty() {
        s.refused.fetch_add(1, Ordering::Relaxed);
        return graph_error(StatusCode::BAD_REQUEST, 100, "Invalid parameter");
    }
    let hang = *lock(&s.hang);
    match choose(Mode::from_u8(s.mode.load(Ordering::SeqCst))) {
        Answer::Fail5xx => {
            s.refused.fetch_add(1, Ordering::Relaxed);
            graph_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                131000,
                "(#131000) Something went wrong",
            )
        }
        Answer::RateLimited => {
            s.refused.fetch_add(1, Ordering::Relaxed);
            graph_error(
                StatusCode::TOO_MANY_REQUESTS,
                130429,
                "(#130429) Rate limit hit",
            )
        }
        Answer::Hang => {
            s.refused.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(hang).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Answer::AcceptThenHang => {
            accept(&s, &to, body);
            tokio::time::sleep(hang).await;
            StatusCode::GATEWAY_TIMEOUT.into_response()
        }
        Answer::Accept => {
            let id = accept(&s, &to, body);
            let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
            axum::Json(json!({"messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": wa_id}],
                "messages": [{"id": id}]}))
            .into_response()
        }
    }
}

fn accept(s: &Shared, to: &str, body: Value) -> String {
    let n = s.seq.fetch_add(1, Ordering::Relaxed);
    let id = format!("wamid.BENCH{n:012}");
    let at = Instant::now();
    {
        let mut contacts = lock(&s.contacts);
        let c = contacts.entry(to.to_string()).or_default();
        c.times.push(at);
        if let Some((want, _)) = &c.waiter {
            if c.times.len() >= *want {
                if let Some((want, tx)) = c.waiter.take() {
                    let _ = tx.send(c.times[want - 1]);
                }
            }
        }
    }
    if s.record_bodies {
        lock(&s.accepted).push(Accepted {
            to: to.to_string(),
            body,
            id: id.clone(),
            at,
        });
    }
    id
}

/// `X-Hub-Signature-256` for a webhook body: `sha256=` + hex HMAC-SHA256(app secret, body).
pub fn cloud_signature(app_secret: &str, body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = match Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()) {
        Ok(m) => m,
        // HMAC takes keys of any length; this branch cannot run.
        Err(_) => return String::new(),
    };
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// A signed Cloud API text-message webhook body (PROTOCOLS A3).
pub fn text_webhook(phone_number_id: &str, from: &str, id: &str, text: &str) -> Vec<u8> {
    json!({"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"15550000000","phone_number_id":phone_number_id},
        "contacts":[{"profile":{"name":"Cliente"},"wa_id":from}],
        "messages":[{"from":from,"id":id,"timestamp":"1749416383","type":"text","text":{"body":text}}]}}]}]})
    .to_string()
    .into_bytes()
}
