//! The real Baileys bridge process (fake WhatsApp client) and the real appliance: a QR
//! pairing, a message in, a reply out and its delivery ack, all signed end to end.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::TestServer;
use serde_json::{json, Value};

struct Bridge {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn bridges_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bridges")
}

// `Bridge::drop` kills and waits for the child.
#[allow(clippy::zombie_processes)]
fn start_bridge() -> Bridge {
    let dir = bridges_dir();
    if !dir.join("node_modules").exists() {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .env("PUPPETEER_SKIP_DOWNLOAD", "true")
            .current_dir(&dir)
            .status()
            .expect("npm is installed (tests/run-all.sh installs it)");
        assert!(ok.success(), "npm ci in bridges/ failed");
    }
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new("node")
        .arg("baileys/src/main.js")
        .current_dir(&dir)
        .env("PORT", "0")
        .env("BRIDGE_TOKEN", "e2e-token-123")
        .env("BRIDGE_DATA_DIR", data.path())
        .env("BRIDGE_FAKE", "1")
        .env("BRIDGE_RETRY_MIN_MS", "100")
        .env("BRIDGE_RETRY_MAX_MS", "1000")
        .env("BRIDGE_RECONNECT_MIN_MS", "50")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node is installed");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "bridge exited before listening"
        );
        if let Ok(v) = serde_json::from_str::<Value>(line.trim()) {
            if let Some(port) = v["listening"].as_u64() {
                // Keep draining stdout so the bridge never blocks on a full pipe.
                std::thread::spawn(move || for _ in out.lines() {});
                return Bridge {
                    child,
                    base: format!("http://127.0.0.1:{port}"),
                    _data: data,
                };
            }
        }
    }
}

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_message_goes_both_ways_through_the_real_baileys_bridge() {
    let s = TestServer::start().await;
    let (_, token) = s.owner_token("Bodega").await;
    let bridge = start_bridge();
    // The bridge's own API (test controls included) needs its bearer token.
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert("authorization", "Bearer e2e-token-123".parse().unwrap());
    let http = reqwest::Client::builder()
        .default_headers(auth)
        .build()
        .unwrap();

    let res = s
        .post("/api/bots", &token, json!({"name": "QR", "primary": {"kind": "baileys", "bridge_url": bridge.base,
            "bridge_token": "e2e-token-123", "session": "bot1", "webhook_secret": "a-shared-webhook-secret"}}))
        .await;
    assert_eq!(res.status(), 201);
    let bot: Value = res.json().await.unwrap();
    let bot = bot["id"].as_str().unwrap().to_string();

    // The appliance started the session; the bridge shows a QR, reported through a signed event.
    eventually("qr pending", || async {
        let st: Value = s
            .get(&format!("/api/bots/{bot}/status"), &token)
            .await
            .json()
            .await
            .unwrap();
        st["channels"][0]["state"] == "qr_pending"
            && st["channels"][0]["qr_svg"]
                .as_str()
                .is_some_and(|q| q.contains("<svg"))
    })
    .await;
    let res = http
        .post(format!("{}/_fake/sessions/bot1/scan", bridge.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{:?}", res.text().await);
    eventually("connected", || async {
        let st: Value = s
            .get(&format!("/api/bots/{bot}/status"), &token)
            .await
            .json()
            .await
            .unwrap();
        st["channels"][0]["state"] == "connected"
    })
    .await;
    eventually("state event stored", || async {
        let b: Value = s
            .get(&format!("/api/bots/{bot}"), &token)
            .await
            .json()
            .await
            .unwrap();
        b["primary"]["session"]["state"] == "connected"
    })
    .await;

    // In: a customer writes on WhatsApp.
    http.post(format!("{}/_fake/sessions/bot1/inbound", bridge.base))
        .json(&json!({"from": "51987654321", "text": "hola, ¿abren hoy?", "name": "Ana"}))
        .send()
        .await
        .unwrap();
    eventually("inbound stored", || async {
        let n: i64 = s
            .state
            .db
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM messages WHERE direction='in' AND content LIKE '%abren hoy%'", [], |r| r.get(0))?))
            .await
            .unwrap();
        n == 1
    })
    .await;

    // Out: the shop answers; the bridge's fake WhatsApp receives it.
    let res = s
        .post(
            &format!("/api/bots/{bot}/messages"),
            &token,
            json!({"to": "+51987654321", "content": {"type": "text", "body": "¡Sí, hasta las 8!"}}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let mut wa_id = String::new();
    for _ in 0..200 {
        let sent: Value = http
            .get(format!("{}/_fake/sessions/bot1/sent", bridge.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(m) = sent["sent"].as_array().and_then(|a| a.first()) {
            assert_eq!(m["to"], "51987654321");
            assert_eq!(m["text"], "¡Sí, hasta las 8!");
            wa_id = m["id"].as_str().unwrap().to_string();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(!wa_id.is_empty(), "the bridge sent our reply");

    // The delivery ack comes back signed and moves the message forward.
    eventually("sent recorded", || async {
        let id = wa_id.clone();
        let n: i64 = s
            .state
            .db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM messages WHERE provider_message_id = ?1",
                    [id],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        n == 1
    })
    .await;
    http.post(format!("{}/_fake/sessions/bot1/ack", bridge.base))
        .json(&json!({"message_id": wa_id, "status": "delivered"}))
        .send()
        .await
        .unwrap();
    eventually("delivered", || async {
        let id = wa_id.clone();
        let st: String = s
            .state
            .db
            .read(move |c| {
                Ok(c.query_row(
                    "SELECT status FROM messages WHERE provider_message_id = ?1",
                    [id],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        st == "delivered"
    })
    .await;
}

#[test]
fn the_signature_test_vector_matches_the_bridges() {
    // Same key and body as bridges/common's test: HMAC-SHA256 hex.
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"bridge-secret").unwrap();
    mac.update(br#"{"id":"evt-1","type":"message"}"#);
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        "50aa14ef0b047c8e9e268db630434a2fe7ffdb98b976fb51ce4fb77b9a28d4b3"
    );
    let body = br#"{"id":"evt-1","type":"message"}"#;
    let header = format!(
        "sha256={}",
        "50aa14ef0b047c8e9e268db630434a2fe7ffdb98b976fb51ce4fb77b9a28d4b3"
    );
    assert!(dashoffice::channels::signature::verify_sha256_header(
        Some(&header),
        b"bridge-secret",
        body
    )
    .is_ok());
}
