//! Alerts: a channel going down tells the owners once (webhook + e-mail), however often it
//! is raised, and once more when it resolves. Both receivers run on 127.0.0.1 in the test.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::routing::post;
use axum::Router;
use common::TestServer;
use dashoffice::analytics::alerts::{self, IncidentKind};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Default, Clone)]
struct Inbox(Arc<Mutex<Vec<Value>>>);

impl Inbox {
    fn len(&self) -> usize {
        self.0.lock().unwrap().len()
    }
    fn all(&self) -> Vec<Value> {
        self.0.lock().unwrap().clone()
    }
}

/// Webhook receiver: stores every JSON body and its signature header.
async fn webhook_receiver() -> (String, Inbox) {
    let inbox = Inbox::default();
    let store = inbox.clone();
    let app = Router::new().route(
        "/hook",
        post(move |headers: axum::http::HeaderMap, body: String| {
            let store = store.clone();
            async move {
                let mut v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
                v["_signature"] = headers
                    .get("x-dashoffice-signature")
                    .and_then(|h| h.to_str().ok())
                    .map(|s| Value::String(s.into()))
                    .unwrap_or(Value::Null);
                store.0.lock().unwrap().push(v);
                "ok"
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    (format!("http://{addr}/hook"), inbox)
}

/// A tiny SMTP server: just enough of RFC 5321 (220, EHLO/HELO, MAIL, RCPT, DATA, RSET,
/// NOOP, QUIT) to accept mail. Each accepted message is stored as {from, to, data}.
async fn smtp_server() -> (u16, Inbox) {
    let inbox = Inbox::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let store = inbox.clone();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let store = store.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = BufReader::new(r).lines();
                w.write_all(b"220 test.local ESMTP ready\r\n")
                    .await
                    .unwrap();
                let (mut from, mut to) = (String::new(), Vec::<String>::new());
                while let Ok(Some(line)) = lines.next_line().await {
                    let upper = line.to_ascii_uppercase();
                    let reply: &[u8] = if upper.starts_with("EHLO") {
                        b"250-test.local\r\n250 8BITMIME\r\n"
                    } else if upper.starts_with("HELO") {
                        b"250 test.local\r\n"
                    } else if upper.starts_with("MAIL FROM:") {
                        from = line[10..].trim().to_string();
                        b"250 OK\r\n"
                    } else if upper.starts_with("RCPT TO:") {
                        to.push(line[8..].trim().to_string());
                        b"250 OK\r\n"
                    } else if upper == "DATA" {
                        w.write_all(b"354 end with <CRLF>.<CRLF>\r\n")
                            .await
                            .unwrap();
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        store.0.lock().unwrap().push(serde_json::json!({
                            "from": from, "to": to, "data": data
                        }));
                        b"250 OK queued\r\n"
                    } else if upper == "QUIT" {
                        let _ = w.write_all(b"221 bye\r\n").await;
                        return;
                    } else if upper == "RSET" || upper == "NOOP" {
                        b"250 OK\r\n"
                    } else {
                        b"502 not implemented\r\n"
                    };
                    if w.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, inbox)
}

async fn wait_for(what: &str, cond: impl Fn() -> bool) {
    for _ in 0..200 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting for {what}");
}

#[tokio::test]
async fn a_channel_going_down_alerts_once_and_its_resolution_once_not_a_storm() {
    let (hook_url, hooks) = webhook_receiver().await;
    let (smtp_port, mails) = smtp_server().await;
    let s = TestServer::start_with(|c| {
        c.alerts.webhook_url = Some(hook_url.clone());
        c.alerts.webhook_secret = Some("s3cret".into());
        c.alerts.smtp_host = Some("127.0.0.1".into());
        c.alerts.smtp_port = Some(smtp_port);
        c.alerts.smtp_from = Some("DashOffice <alerts@dashoffice.test>".into());
        c.alerts.check_interval_secs = 1;
    })
    .await;
    let (tenant, token) = s.owner_token("Bodega Lima").await;
    let owner: Value = s.get("/api/auth/me", &token).await.json().await.unwrap();
    let owner_email = owner["user"]["email"].as_str().unwrap().to_string();

    // The channel module's health check fails five times in a row.
    let key = "bot-1/twilio";
    let mut opened = 0;
    for _ in 0..5 {
        let r = alerts::raise_now(
            &s.state.db,
            tenant,
            IncidentKind::ChannelDown,
            key,
            "Twilio answered 401",
        )
        .await
        .unwrap();
        opened += usize::from(r.opened);
    }
    assert_eq!(opened, 1);
    wait_for("the opening notice", || {
        hooks.len() >= 1 && mails.len() >= 1
    })
    .await;
    // Give a storm the chance to happen: the notifier ticks every second.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!((hooks.len(), mails.len()), (1, 1), "one notice, not five");

    let hook = &hooks.all()[0];
    assert_eq!(hook["event"], "incident.opened");
    assert_eq!(hook["tenant_id"], tenant.to_string());
    assert_eq!(hook["incident"]["kind"], "channel_down");
    assert_eq!(hook["incident"]["key"], key);
    assert!(hook["_signature"].as_str().unwrap().starts_with("sha256="));
    let mail = &mails.all()[0];
    assert!(
        mail["to"][0].as_str().unwrap().contains(&owner_email),
        "{mail}"
    );
    assert!(mail["from"]
        .as_str()
        .unwrap()
        .contains("alerts@dashoffice.test"));
    let data = mail["data"].as_str().unwrap();
    assert!(data.contains("Incidente abierto: channel_down"), "{data}");

    let open: Value = s
        .get("/api/admin/incidents", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open["items"].as_array().unwrap().len(), 1);
    assert_eq!(open["items"][0]["occurrences"], 5);

    // The channel comes back: one resolution notice; resolving again does nothing.
    assert!(
        alerts::resolve_now(&s.state.db, tenant, IncidentKind::ChannelDown, key)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        alerts::resolve_now(&s.state.db, tenant, IncidentKind::ChannelDown, key)
            .await
            .unwrap()
            .is_none()
    );
    wait_for("the resolution notice", || {
        hooks.len() >= 2 && mails.len() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!((hooks.len(), mails.len()), (2, 2));
    assert_eq!(hooks.all()[1]["event"], "incident.resolved");
    assert!(hooks.all()[1]["incident"]["resolved_at"].is_string());
    assert!(mails.all()[1]["data"]
        .as_str()
        .unwrap()
        .contains("Incidente resuelto"));
    let open: Value = s
        .get("/api/admin/incidents", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(open["items"], serde_json::json!([]));

    // Going down again later is a new incident with its own notice.
    let r = alerts::raise_now(&s.state.db, tenant, IncidentKind::ChannelDown, key, "again")
        .await
        .unwrap();
    assert!(r.opened);
    wait_for("the second incident", || hooks.len() >= 3).await;
}

#[tokio::test]
async fn an_unreachable_webhook_is_retried_and_the_email_is_not_sent_twice() {
    // Nothing listens on this port: the webhook fails, the e-mail goes through.
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead_url = format!("http://{}/hook", dead.local_addr().unwrap());
    drop(dead);
    let (smtp_port, mails) = smtp_server().await;
    let s = TestServer::start_with(|c| {
        c.alerts.webhook_url = Some(dead_url.clone());
        c.alerts.smtp_host = Some("127.0.0.1".into());
        c.alerts.smtp_port = Some(smtp_port);
        c.alerts.check_interval_secs = 1;
    })
    .await;
    let (tenant, _) = s.owner_token("Bodega Lima").await;
    alerts::raise_now(
        &s.state.db,
        tenant,
        IncidentKind::DeadLetters,
        "bot-1",
        "3 dead letters",
    )
    .await
    .unwrap();
    wait_for("the e-mail", || mails.len() >= 1).await;
    // Backoff is 2 s after the first failure; let a retry happen.
    tokio::time::sleep(Duration::from_millis(3500)).await;
    let (attempts, email_done, webhook_done, err): (i64, bool, bool, Option<String>) = s
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT attempts, email_at IS NOT NULL, webhook_at IS NOT NULL, last_error FROM incident_notices",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )?)
        })
        .await
        .unwrap();
    assert!(attempts >= 2, "retried: {attempts}");
    assert!(email_done && !webhook_done);
    assert!(err.unwrap_or_default().contains("webhook"));
    assert_eq!(mails.len(), 1, "the e-mail that went out is not repeated");
}
