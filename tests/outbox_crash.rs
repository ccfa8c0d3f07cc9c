//! kill -9 with a full outbox: after restart every message reaches the provider; the only
//! duplicates are sends that were in flight at the kill, and they are counted.

mod support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use support::standins::StandIn;

const BIN: &str = env!("CARGO_BIN_EXE_dashoffice");
const CONCURRENCY: usize = 8;

// The child is killed and waited for by the test; a panic ends the test process anyway.
#[allow(clippy::zombie_processes)]
fn start(dir: &std::path::Path) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("DASHOFFICE_LOG_LEVEL", "warn")
        .env("DASHOFFICE_OUTBOX__RATE_PER_MIN", "10000000")
        .env("DASHOFFICE_OUTBOX__RATE_BURST", "100000")
        .env("DASHOFFICE_OUTBOX__CONCURRENCY", CONCURRENCY.to_string())
        .env("DASHOFFICE_OUTBOX__CIRCUIT_COOLDOWN_MS", "200")
        .env("DASHOFFICE_OUTBOX__BASE_DELAY_MS", "50")
        .env("DASHOFFICE_OUTBOX__MAX_DELAY_MS", "200")
        .env("DASHOFFICE_OUTBOX__MAX_ATTEMPTS", "1000")
        .env("DASHOFFICE_API_RATE_LIMIT_PER_MIN", "1000000")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while out.read_line(&mut line).unwrap() > 0 {
        if let Some(rest) = line.split("serving on ").nth(1) {
            return (child, rest.trim().trim_end_matches('/').to_string());
        }
        line.clear();
    }
    panic!("server did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_delivers_every_queued_message_after_restart() {
    let dir = tempfile::tempdir().unwrap();
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
        .arg(dir.path())
        .env("DASHOFFICE_NEW_PASSWORD", "a-long-password")
        .status()
        .unwrap();
    assert!(status.success());
    let standin = StandIn::cloud("tok").await;
    standin.set_mode(support::standins::Mode::Fail5xx);
    let http = reqwest::Client::builder().no_proxy().build().unwrap();

    let (mut child, base) = start(dir.path());
    let login: Value = http
        .post(format!("{base}/api/auth/login"))
        .json(&json!({"email": "o@example.com", "password": "a-long-password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"].as_str().unwrap().to_string();
    let bot: Value = http
        .post(format!("{base}/api/bots"))
        .bearer_auth(&token)
        .json(&json!({"name": "B", "primary": {"kind": "cloud", "phone_number_id": "1", "access_token": "tok",
            "app_secret": "s", "verify_token": "v", "api_base": standin.url()}}))
        .send().await.unwrap().json().await.unwrap();
    let bot = bot["id"].as_str().unwrap().to_string();

    // Queue 1,000 messages to 50 contacts while the provider refuses (nothing leaves yet).
    for i in 0..1000 {
        let res = http
            .post(format!("{base}/api/bots/{bot}/messages"))
            .bearer_auth(&token)
            .json(&json!({"to": format!("+519870{:05}", i % 50), "content": {"type": "text", "body": format!("msg-{i}")}}))
            .send().await.unwrap();
        assert_eq!(res.status(), 202);
    }
    // Let the provider accept, then kill -9 while sends are flowing.
    standin.clear();
    standin.set_mode(support::standins::Mode::Ok);
    assert!(
        standin
            .wait_for_accepted(150, Duration::from_secs(60))
            .await
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before_restart = standin.accepted().len();

    let (mut child, _base) = start(dir.path());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for r in standin.accepted() {
            *seen
                .entry(r.body["text"]["body"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
        if seen.len() == 1000 {
            let dups: usize = seen.values().map(|n| n - 1).sum();
            println!(
                "delivered 1000 distinct, {before_restart} before the kill, {dups} duplicate(s)"
            );
            assert!(
                dups <= CONCURRENCY,
                "{dups} duplicates > {CONCURRENCY} concurrent sends"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of 1000 delivered",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Per contact, the order held across the crash (ignoring resent duplicates).
    let mut last: HashMap<String, usize> = HashMap::new();
    for r in standin.accepted() {
        let n: usize = r.body["text"]["body"]
            .as_str()
            .unwrap()
            .trim_start_matches("msg-")
            .parse()
            .unwrap();
        let to = r.body["to"].as_str().unwrap().to_string();
        let prev = last.entry(to).or_insert(n);
        assert!(
            n + CONCURRENCY * 50 >= *prev,
            "order broken badly: {n} after {prev}"
        );
        *prev = (*prev).max(n);
    }
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    child.wait().unwrap();
}
