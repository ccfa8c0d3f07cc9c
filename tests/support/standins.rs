//! Local stand-ins for the providers' send APIs (shared/PROTOCOLS.md), for tests.
//!
//! Each stand-in is an axum server on 127.0.0.1:0 that checks the provider's auth, records
//! every request in order (method, path, headers, parsed body), answers like the provider
//! (`wamid.<uuid>`, `SM<32 hex>`, Baileys keys, bridge ids) and can be told at runtime to
//! fail: [`Mode::Fail5xx`], [`Mode::Timeout`], [`Mode::RateLimited`] (the provider's
//! retriable code + 429), [`Mode::NonRetriable`] (Cloud 131047, Twilio 63016, ...).
//!
//! Also: signing helpers that sign webhooks exactly as each provider would, written
//! independently of the crate's own verification code.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use tokio::sync::Notify;

/// How the stand-in answers sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Ok,
    /// 500 with the provider's "something went wrong" body.
    Fail5xx,
    /// Accept the connection, then answer nothing for [`StandIn::set_timeout_delay`].
    Timeout,
    /// 429 with the provider's rate-limit code (Cloud 130429, Twilio 20429).
    RateLimited,
    /// The provider's final error (Cloud 131047, Twilio 63016, Evolution/bridge 400).
    NonRetriable,
    /// Bridge only: 409 session not connected (others answer as `Fail5xx`).
    NotConnected,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Cloud,
    Twilio,
    Evolution,
    Bridge,
}

/// One request as the stand-in saw it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub path: String,
    pub query: Option<String>,
    pub headers: HeaderMap,
    /// JSON body, or a form body as an object (a repeated name becomes an array).
    pub body: Value,
    pub raw: Bytes,
    /// What we answered (0 = never answered: timeout mode).
    pub status: u16,
    /// The message id we handed out, for accepted sends.
    pub answered_id: Option<String>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether this was a send the provider accepted.
    pub fn accepted(&self) -> bool {
        self.answered_id.is_some()
    }
}

struct Shared {
    provider: Provider,
    /// Bearer token / auth token / apikey the stand-in expects.
    secret: String,
    /// Twilio account SID.
    account: String,
    base_url: String,
    mode: Mutex<Mode>,
    timeout_delay: Mutex<Duration>,
    requests: Mutex<Vec<Recorded>>,
    /// Bridge / Evolution session: (state, qr).
    session: Mutex<(String, Option<String>)>,
    changed: Notify,
}

pub struct StandIn {
    pub provider: Provider,
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl StandIn {
    /// Cloud API: `POST /{ver}/{phone_number_id}/messages` with `Authorization: Bearer`.
    pub async fn cloud(access_token: &str) -> StandIn {
        Self::start(Provider::Cloud, access_token, "").await
    }

    /// Twilio: `POST /2010-04-01/Accounts/{sid}/Messages.json`, form body, basic auth.
    pub async fn twilio(account_sid: &str, auth_token: &str) -> StandIn {
        Self::start(Provider::Twilio, auth_token, account_sid).await
    }

    /// Evolution v2: `POST /message/{sendText|sendMedia|...}/{instance}` with `apikey`.
    pub async fn evolution(api_key: &str) -> StandIn {
        Self::start(Provider::Evolution, api_key, "").await
    }

    /// Node bridge: `POST /sessions/{name}/messages` with bearer, `GET /sessions/{name}[/qr]`.
    pub async fn bridge(bridge_token: &str) -> StandIn {
        Self::start(Provider::Bridge, bridge_token, "").await
    }

    async fn start(provider: Provider, secret: &str, account: &str) -> StandIn {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind stand-in");
        let addr = listener.local_addr().expect("stand-in address");
        let shared = Arc::new(Shared {
            provider,
            secret: secret.to_string(),
            account: account.to_string(),
            base_url: format!("http://{addr}"),
            mode: Mutex::new(Mode::Ok),
            timeout_delay: Mutex::new(Duration::from_secs(30)),
            requests: Mutex::new(Vec::new()),
            session: Mutex::new(("connected".into(), None)),
            changed: Notify::new(),
        });
        let app = Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        StandIn {
            provider,
            addr,
            shared,
            task,
        }
    }

    /// `http://127.0.0.1:<port>`: use as the channel's api_base / bridge_url.
    pub fn url(&self) -> String {
        self.shared.base_url.clone()
    }

    pub fn set_mode(&self, mode: Mode) {
        *lock(&self.shared.mode) = mode;
    }

    pub fn mode(&self) -> Mode {
        *lock(&self.shared.mode)
    }

    /// How long `Mode::Timeout` keeps the caller waiting (default 30 s).
    pub fn set_timeout_delay(&self, delay: Duration) {
        *lock(&self.shared.timeout_delay) = delay;
    }

    /// Bridge/Evolution session state (`connected`, `qr_pending`, `starting`, `logged_out`,
    /// `failed`) and QR text. A bridge answers 409 to sends while not connected.
    pub fn set_session(&self, state: &str, qr: Option<&str>) {
        *lock(&self.shared.session) = (state.to_string(), qr.map(str::to_string));
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.shared.requests).clone()
    }

    /// The sends the provider accepted, in order.
    pub fn accepted(&self) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(Recorded::accepted)
            .collect()
    }

    pub fn clear(&self) {
        lock(&self.shared.requests).clear();
    }

    /// Waits until at least `n` sends were accepted; false on timeout.
    pub async fn wait_for_accepted(&self, n: usize, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let notified = self.shared.changed.notified();
            if self.accepted().len() >= n {
                return true;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.accepted().len() >= n;
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn parse_body(headers: &HeaderMap, raw: &[u8]) -> Value {
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if ct.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).unwrap_or_default();
        let mut map = serde_json::Map::new();
        for (k, v) in pairs {
            match map.get_mut(&k) {
                Some(Value::Array(a)) => a.push(Value::String(v)),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, Value::String(v)]);
                }
                None => {
                    map.insert(k, Value::String(v));
                }
            }
        }
        Value::Object(map)
    } else if raw.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(raw)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(raw).into()))
    }
}

fn hex_id(len: usize) -> String {
    let mut s = uuid::Uuid::new_v4().simple().to_string();
    s.push_str(&uuid::Uuid::new_v4().simple().to_string());
    s.truncate(len);
    s.to_ascii_uppercase()
}

/// What one request gets: status, JSON body, and the message id handed out if accepted.
struct Answer {
    status: StatusCode,
    body: Value,
    id: Option<String>,
    raw: Option<(&'static str, Vec<u8>)>,
}

impl Answer {
    fn json(status: StatusCode, body: Value) -> Self {
        Answer {
            status,
            body,
            id: None,
            raw: None,
        }
    }
    fn accepted(status: StatusCode, body: Value, id: String) -> Self {
        Answer {
            status,
            body,
            id: Some(id),
            raw: None,
        }
    }
    fn bytes(content_type: &'static str, bytes: Vec<u8>) -> Self {
        Answer {
            status: StatusCode::OK,
            body: Value::Null,
            id: None,
            raw: Some((content_type, bytes)),
        }
    }
}

async fn handle(
    State(s): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    raw: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let body = parse_body(&headers, &raw);
    let mode = *lock(&s.mode);
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let is_send = method == Method::POST
        && match s.provider {
            Provider::Cloud => segments.len() == 3 && segments[2] == "messages",
            Provider::Twilio => path.ends_with("/Messages.json"),
            Provider::Evolution => segments.first() == Some(&"message"),
            Provider::Bridge => {
                segments.len() == 3 && segments[0] == "sessions" && segments[2] == "messages"
            }
        };

    let mut record = Recorded {
        method: method.clone(),
        path: path.clone(),
        query: uri.query().map(str::to_string),
        headers: headers.clone(),
        body: body.clone(),
        raw: raw.clone(),
        status: 0,
        answered_id: None,
    };

    if is_send && mode == Mode::Timeout {
        lock(&s.requests).push(record);
        s.changed.notify_waiters();
        let delay = *lock(&s.timeout_delay);
        tokio::time::sleep(delay).await;
        return StatusCode::GATEWAY_TIMEOUT.into_response();
    }

    let answer = if !authorised(&s, &headers) {
        unauthorised(s.provider)
    } else {
        match s.provider {
            Provider::Cloud => cloud(&s, &method, &segments, &body, is_send, mode),
            Provider::Twilio => twilio(&s, &method, &path, &body, is_send, mode),
            Provider::Evolution => evolution(&s, &method, &segments, &body, is_send, mode),
            Provider::Bridge => bridge(&s, &method, &segments, is_send, mode),
        }
    };
    record.status = answer.status.as_u16();
    record.answered_id = answer.id.clone();
    lock(&s.requests).push(record);
    s.changed.notify_waiters();
    match answer.raw {
        Some((ct, bytes)) => ([("content-type", ct)], bytes).into_response(),
        None => (answer.status, axum::Json(answer.body)).into_response(),
    }
}

fn authorised(s: &Shared, headers: &HeaderMap) -> bool {
    let get = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    match s.provider {
        Provider::Cloud | Provider::Bridge => {
            get("authorization") == format!("Bearer {}", s.secret)
        }
        Provider::Twilio => {
            let expected = base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", s.account, s.secret));
            get("authorization") == format!("Basic {expected}")
        }
        Provider::Evolution => get("apikey") == s.secret,
    }
}

fn unauthorised(p: Provider) -> Answer {
    let body = match p {
        Provider::Cloud => {
            json!({"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}})
        }
        Provider::Twilio => json!({"code":20003,"message":"Authenticate","status":401}),
        Provider::Evolution => {
            json!({"status":401,"error":"Unauthorized","response":{"message":"Unauthorized"}})
        }
        Provider::Bridge => json!({"error":"unauthorized"}),
    };
    Answer::json(StatusCode::UNAUTHORIZED, body)
}

fn cloud(
    s: &Shared,
    method: &Method,
    seg: &[&str],
    body: &Value,
    is_send: bool,
    mode: Mode,
) -> Answer {
    if is_send {
        return match mode {
            Mode::Ok => {
                let id = format!("wamid.{}", uuid::Uuid::new_v4());
                let to = body["to"].as_str().unwrap_or_default();
                let wa_id: String = to.chars().filter(char::is_ascii_digit).collect();
                Answer::accepted(
                    StatusCode::OK,
                    json!({"messaging_product":"whatsapp","contacts":[{"input":to,"wa_id":wa_id}],"messages":[{"id":id}]}),
                    id,
                )
            }
            Mode::RateLimited => Answer::json(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error":{"message":"(#130429) Rate limit hit","type":"OAuthException","code":130429,
                    "error_data":{"messaging_product":"whatsapp","details":"Cloud API message throughput has been reached."},"fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}),
            ),
            Mode::NonRetriable => Answer::json(
                StatusCode::BAD_REQUEST,
                json!({"error":{"message":"(#131047) Re-engagement message","type":"OAuthException","code":131047,
                    "error_data":{"messaging_product":"whatsapp","details":"Message failed to send because more than 24 hours have passed since the customer last replied to this number."},"fbtrace_id":"A4O5"}}),
            ),
            _ => Answer::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error":{"message":"(#131000) Something went wrong","type":"OAuthException","code":131000,"fbtrace_id":"A4O5"}}),
            ),
        };
    }
    match (method, seg) {
        (&Method::GET, ["media-bytes", id]) => {
            Answer::bytes("image/jpeg", format!("fake jpeg {id}").into_bytes())
        }
        // Phone number lookup (status) and media id lookup share the Graph shape.
        (&Method::GET, [_ver, id]) => Answer::json(
            StatusCode::OK,
            json!({"id": id, "display_phone_number":"15550783881", "verified_name":"Stand-in",
                   "url": format!("{}/media-bytes/{id}", s.base_url), "mime_type":"image/jpeg",
                   "sha256":"stand-in", "file_size": 15, "messaging_product":"whatsapp"}),
        ),
        _ => Answer::json(
            StatusCode::NOT_FOUND,
            json!({"error":{"message":"Unknown path","code":100}}),
        ),
    }
}

fn twilio(
    s: &Shared,
    method: &Method,
    path: &str,
    body: &Value,
    is_send: bool,
    mode: Mode,
) -> Answer {
    if is_send {
        if !path.contains(&format!("/Accounts/{}/", s.account)) {
            return Answer::json(
                StatusCode::NOT_FOUND,
                json!({"code":20404,"message":"Not Found","status":404}),
            );
        }
        return match mode {
            Mode::Ok => {
                let sid = format!("SM{}", hex_id(32).to_ascii_lowercase());
                Answer::accepted(
                    StatusCode::CREATED,
                    json!({"sid": sid, "account_sid": s.account, "status":"queued",
                           "to": body["To"], "from": body["From"], "body": body["Body"],
                           "num_media": "0", "direction":"outbound-api", "api_version":"2010-04-01"}),
                    sid,
                )
            }
            Mode::RateLimited => Answer::json(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"code":20429,"message":"Too Many Requests","more_info":"https://www.twilio.com/docs/errors/20429","status":429}),
            ),
            Mode::NonRetriable => Answer::json(
                StatusCode::BAD_REQUEST,
                json!({"code":63016,"message":"Failed to send freeform message because you are outside the allowed window.",
                       "more_info":"https://www.twilio.com/docs/errors/63016","status":400}),
            ),
            _ => Answer::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"code":20500,"message":"Internal Server Error","more_info":"https://www.twilio.com/docs/errors/20500","status":500}),
            ),
        };
    }
    if method == Method::GET && path == format!("/2010-04-01/Accounts/{}.json", s.account) {
        return Answer::json(StatusCode::OK, json!({"sid": s.account, "status":"active"}));
    }
    if method == Method::GET && path.starts_with("/media/") {
        return Answer::bytes("image/png", path.as_bytes().to_vec());
    }
    Answer::json(
        StatusCode::NOT_FOUND,
        json!({"code":20404,"message":"Not Found","status":404}),
    )
}

fn evolution(
    s: &Shared,
    method: &Method,
    seg: &[&str],
    body: &Value,
    is_send: bool,
    mode: Mode,
) -> Answer {
    if is_send {
        return match mode {
            Mode::Ok => {
                let id = format!("3EB0{}", hex_id(16));
                let number = body["number"].as_str().unwrap_or_default();
                Answer::accepted(
                    StatusCode::CREATED,
                    json!({"key":{"remoteJid": format!("{number}@s.whatsapp.net"),"fromMe":true,"id":id},
                           "pushName":"","status":"PENDING","message":{"conversation": body["text"]},
                           "messageType":"conversation","messageTimestamp": chrono::Utc::now().timestamp()}),
                    id,
                )
            }
            Mode::RateLimited => Answer::json(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"status":429,"error":"Too Many Requests","response":{"message":"rate-overlimit"}}),
            ),
            Mode::NonRetriable => Answer::json(
                StatusCode::BAD_REQUEST,
                json!({"status":400,"error":"Bad Request","response":{"message":[{"exists":false,"jid":"0@s.whatsapp.net","number":body["number"]}]}}),
            ),
            _ => Answer::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"status":500,"error":"Internal Server Error","response":{"message":"Connection Closed"}}),
            ),
        };
    }
    let (state, qr) = lock(&s.session).clone();
    let evo_state = match state.as_str() {
        "connected" => "open",
        "qr_pending" | "starting" => "connecting",
        _ => "close",
    };
    match (method, seg) {
        (&Method::GET, ["instance", "connectionState", name]) => Answer::json(
            StatusCode::OK,
            json!({"instance":{"instanceName": name, "state": evo_state}}),
        ),
        (&Method::POST, ["chat", "getBase64FromMediaMessage", _instance]) => {
            let id = body["message"]["key"]["id"].as_str().unwrap_or_default();
            Answer::json(
                StatusCode::CREATED,
                json!({"mediaType":"imageMessage","fileName":format!("{id}.jpeg"),"mimetype":"image/jpeg",
                       "base64": base64::engine::general_purpose::STANDARD.encode(format!("evo media {id}"))}),
            )
        }
        (&Method::GET, ["instance", "connect", name]) => match (evo_state, qr) {
            ("open", _) => Answer::json(
                StatusCode::OK,
                json!({"instance":{"instanceName": name, "state":"open"}}),
            ),
            (_, Some(qr)) => Answer::json(
                StatusCode::OK,
                json!({"pairingCode": null, "code": qr, "base64":"data:image/png;base64,", "count": 1}),
            ),
            _ => Answer::json(StatusCode::OK, json!({"count": 0})),
        },
        _ => Answer::json(
            StatusCode::NOT_FOUND,
            json!({"status":404,"error":"Not Found"}),
        ),
    }
}

fn bridge(s: &Shared, method: &Method, seg: &[&str], is_send: bool, mode: Mode) -> Answer {
    let (state, qr) = lock(&s.session).clone();
    if is_send {
        if state != "connected" || mode == Mode::NotConnected {
            return Answer::json(
                StatusCode::CONFLICT,
                json!({"error":"session not connected","state": state}),
            );
        }
        return match mode {
            Mode::Ok => {
                let id = format!("3EB0{}", hex_id(16));
                Answer::accepted(StatusCode::OK, json!({"id": id}), id)
            }
            Mode::RateLimited => Answer::json(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error":"rate limited"}),
            ),
            Mode::NonRetriable => Answer::json(
                StatusCode::BAD_REQUEST,
                json!({"error":"number is not on WhatsApp"}),
            ),
            _ => Answer::json(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error":"bridge crashed"}),
            ),
        };
    }
    match (method, seg) {
        (&Method::GET, ["sessions", name]) => Answer::json(
            StatusCode::OK,
            json!({"name": name, "state": state,
                   "reason": if state == "failed" { json!("browser crashed") } else { Value::Null },
                   "since": "2026-01-01T00:00:00Z",
                   "me": if state == "connected" { json!("51900000000") } else { Value::Null }}),
        ),
        (&Method::GET, ["sessions", _name, "qr"]) => match qr {
            Some(qr) => Answer::json(
                StatusCode::OK,
                json!({"qr": qr, "png": "data:image/png;base64,"}),
            ),
            None => Answer::json(StatusCode::NOT_FOUND, json!({"error":"no qr"})),
        },
        (&Method::GET, ["media", id]) => {
            Answer::bytes("image/jpeg", format!("bridge media {id}").into_bytes())
        }
        _ => Answer::json(StatusCode::NOT_FOUND, json!({"error":"not found"})),
    }
}

// ---- signing, exactly as each provider does it --------------------------------------------

/// `X-Hub-Signature-256` value: `sha256=` + hex HMAC-SHA256(app secret, raw body).
pub fn cloud_signature(app_secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(app_secret.as_bytes()).expect("hmac key");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// `X-Twilio-Signature` value: base64 HMAC-SHA1(auth token, url + sorted name+value).
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted: Vec<(&str, &str)> = params.to_vec();
    sorted.sort();
    let mut data = url.to_string();
    for (k, v) in sorted {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes()).expect("hmac key");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// `X-Bridge-Signature` value: `sha256=` + hex HMAC-SHA256(webhook secret, raw body).
pub fn bridge_signature(webhook_secret: &str, body: &[u8]) -> String {
    cloud_signature(webhook_secret, body)
}

/// A form body encoded the way Twilio posts it.
pub fn twilio_form(params: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(params).expect("form")
}

/// A reqwest client for tests: short timeout so `Mode::Timeout` is quick to detect.
pub fn test_http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}
