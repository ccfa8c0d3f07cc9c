//! Channels end to end: signed webhooks into the real server, sends out through the
//! outbox worker to provider stand-ins, faults, fallback and circuits.

mod common;
mod support;

use std::time::Duration;

use common::{assert_problem, TestServer};
use reqwest::Method;
use serde_json::{json, Value};
use support::standins::{
    bridge_signature, cloud_signature, twilio_form, twilio_signature, Mode, StandIn,
};

const CUSTOMER: &str = "+51987654321";

fn fast(c: &mut dashoffice::Config) {
    c.outbox.base_delay_ms = 20;
    c.outbox.max_delay_ms = 100;
    c.outbox.circuit_failures = 2;
    c.outbox.circuit_cooldown_ms = 300;
    c.outbox.circuit_successes = 1;
    c.outbox.rate_per_min = 100_000;
    c.outbox.send_timeout_ms = 2_000;
}

async fn create_bot(s: &TestServer, token: &str, primary: Value, fallbacks: Vec<Value>) -> String {
    let res = s
        .post("/api/bots", token, json!({"name": "Ventas", "phone": "+51 999 888 777", "primary": primary, "fallbacks": fallbacks}))
        .await;
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn inbound_count(s: &TestServer) -> i64 {
    s.state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM messages WHERE direction = 'in'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap()
}

async fn out_status(s: &TestServer, outbox_id: i64) -> (String, String, Option<String>) {
    s.state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT o.status, m.status, o.last_error_code FROM outbox o JOIN messages m ON m.id = o.message_id WHERE o.id = ?1",
                [outbox_id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .await
        .unwrap()
}

async fn send_text(s: &TestServer, token: &str, bot: &str, text: &str) -> i64 {
    let res = s
        .post(
            &format!("/api/bots/{bot}/messages"),
            token,
            json!({"to": CUSTOMER, "content": {"type": "text", "body": text}}),
        )
        .await;
    assert_eq!(res.status(), 202);
    let v: Value = res.json().await.unwrap();
    v["outbox_id"].as_i64().unwrap()
}

async fn wait_until<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while tokio::time::Instant::now() < deadline {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for {what}");
}

async fn post_raw(
    s: &TestServer,
    path: &str,
    ct: &str,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> reqwest::Response {
    let mut rb = s
        .http
        .post(s.url(path))
        .header("content-type", ct)
        .body(body);
    for (k, v) in headers {
        rb = rb.header(*k, v);
    }
    rb.send().await.unwrap()
}

fn cloud_text(id: &str, text: &str) -> Vec<u8> {
    json!({"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp",
        "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Ana Pérez"},"wa_id":"51987654321"}],
        "messages":[{"from":"51987654321","id":id,"timestamp":"1749416383","type":"text","text":{"body":text}}]}}]}]})
    .to_string()
    .into_bytes()
}

fn cloud_status(wamid: &str, status: &str) -> Vec<u8> {
    json!({"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp",
        "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
        "statuses":[{"id":wamid,"status":status,"timestamp":"1698903217","recipient_id":"51987654321"}]}}]}]})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn cloud_inbound_is_stored_once_bad_signatures_store_nothing_and_sends_and_receipts_work() {
    let s = TestServer::start_with(fast).await;
    let (_, token) = s.owner_token("T").await;
    let standin = StandIn::cloud("EAAG-token").await;
    let bot = create_bot(
        &s,
        &token,
        json!({"kind":"meta","phone_number_id":"106540352242922","access_token":"EAAG-token",
        "app_secret":"app-secret","verify_token":"vt-1","api_base": standin.url()}),
        vec![],
    )
    .await;
    let path = format!("/webhooks/cloud/{bot}");

    // Handshake.
    let ok = s
        .http
        .get(s.url(&format!(
            "{path}?hub.mode=subscribe&hub.verify_token=vt-1&hub.challenge=12345"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    assert_eq!(ok.text().await.unwrap(), "12345");
    let bad = s
        .http
        .get(s.url(&format!(
            "{path}?hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1"
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 403);

    let body = cloud_text("wamid.IN1", "Hola, ¿tienen camisas?");
    let sig = cloud_signature("app-secret", &body);
    let bad_sig = cloud_signature("wrong", &body);
    assert_problem(
        post_raw(
            &s,
            &path,
            "application/json",
            &[("x-hub-signature-256", bad_sig)],
            body.clone(),
        )
        .await,
        401,
        "bad_signature",
    )
    .await;
    assert_problem(
        post_raw(&s, &path, "application/json", &[], body.clone()).await,
        401,
        "signature_missing",
    )
    .await;
    assert_eq!(
        inbound_count(&s).await,
        0,
        "nothing stored for bad signatures"
    );

    for _ in 0..2 {
        let res = post_raw(
            &s,
            &path,
            "application/json",
            &[("x-hub-signature-256", sig.clone())],
            body.clone(),
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(
        inbound_count(&s).await,
        1,
        "a redelivered webhook is a no-op"
    );
    let (name, content): (String, String) = s
        .state
        .db
        .read(|c| Ok(c.query_row("SELECT c.contact_name, m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id", [], |r| Ok((r.get(0)?, r.get(1)?)))?))
        .await
        .unwrap();
    assert_eq!(name, "Ana Pérez");
    assert!(content.contains("¿tienen camisas?"));

    // Outbound: the documented body and bearer reach the stand-in.
    let id = send_text(&s, &token, &bot, "¡Sí! Tenemos 3 modelos.").await;
    assert!(standin.wait_for_accepted(1, Duration::from_secs(10)).await);
    let req = &standin.accepted()[0];
    assert_eq!(req.path, "/v23.0/106540352242922/messages");
    assert_eq!(req.header("authorization"), Some("Bearer EAAG-token"));
    assert_eq!(req.body["messaging_product"], "whatsapp");
    assert_eq!(req.body["to"], CUSTOMER);
    assert_eq!(req.body["text"]["body"], "¡Sí! Tenemos 3 modelos.");
    wait_until("sent", || async { out_status(&s, id).await.0 == "sent" }).await;

    // Receipts: read arrives before delivered; the message never goes back.
    let wamid: String = s
        .state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT provider_message_id FROM outbox WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    for st in ["read", "delivered"] {
        let b = cloud_status(&wamid, st);
        let res = post_raw(
            &s,
            &path,
            "application/json",
            &[("x-hub-signature-256", cloud_signature("app-secret", &b))],
            b,
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(out_status(&s, id).await.1, "read");
}

#[tokio::test]
async fn twilio_inbound_signed_over_url_and_params_sends_form_and_status_callbacks() {
    let s = TestServer::start_with(fast).await;
    let (_, token) = s.owner_token("T").await;
    let sid = "AC00000000000000000000000000000001";
    let standin = StandIn::twilio(sid, "twilio-token").await;
    let bot = create_bot(
        &s,
        &token,
        json!({"kind":"twilio","account_sid":sid,"auth_token":"twilio-token",
        "from":"whatsapp:+14155238886","api_base": standin.url()}),
        vec![],
    )
    .await;
    let path = format!("/webhooks/twilio/{bot}");
    let url = s.url(&path);
    let params = [
        ("MessageSid", "SM11111111111111111111111111111111"),
        ("AccountSid", sid),
        ("From", "whatsapp:+51987654321"),
        ("To", "whatsapp:+14155238886"),
        ("Body", "Hola"),
        ("NumMedia", "0"),
        ("ProfileName", "Ana"),
    ];
    let form = twilio_form(&params).into_bytes();
    let ct = "application/x-www-form-urlencoded";
    let res = post_raw(
        &s,
        &path,
        ct,
        &[(
            "x-twilio-signature",
            twilio_signature("wrong", &url, &params),
        )],
        form.clone(),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(inbound_count(&s).await, 0);
    for _ in 0..2 {
        let res = post_raw(
            &s,
            &path,
            ct,
            &[(
                "x-twilio-signature",
                twilio_signature("twilio-token", &url, &params),
            )],
            form.clone(),
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(inbound_count(&s).await, 1);

    let id = send_text(&s, &token, &bot, "Gracias").await;
    assert!(standin.wait_for_accepted(1, Duration::from_secs(10)).await);
    let req = &standin.accepted()[0];
    assert_eq!(
        req.path,
        format!("/2010-04-01/Accounts/{sid}/Messages.json")
    );
    assert!(req.header("authorization").unwrap().starts_with("Basic "));
    assert_eq!(req.body["To"], "whatsapp:+51987654321");
    assert_eq!(req.body["Body"], "Gracias");
    wait_until("sent", || async { out_status(&s, id).await.0 == "sent" }).await;
    let msid: String = s
        .state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT provider_message_id FROM outbox WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    let cb = [
        ("MessageSid", msid.as_str()),
        ("MessageStatus", "delivered"),
        ("AccountSid", sid),
        ("To", "whatsapp:+51987654321"),
        ("From", "whatsapp:+14155238886"),
    ];
    let res = post_raw(
        &s,
        &path,
        ct,
        &[(
            "x-twilio-signature",
            twilio_signature("twilio-token", &url, &cb),
        )],
        twilio_form(&cb).into_bytes(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(out_status(&s, id).await.1, "delivered");
}

#[tokio::test]
async fn evolution_inbound_needs_the_path_token_and_apikey_and_sends_with_apikey() {
    let s = TestServer::start_with(fast).await;
    let (_, token) = s.owner_token("T").await;
    let standin = StandIn::evolution("evo-key").await;
    let bot = create_bot(
        &s,
        &token,
        json!({"kind":"evolution","api_base": standin.url(),"instance":"shop1",
        "api_key":"evo-key","webhook_token":"tok-123"}),
        vec![],
    )
    .await;
    let upsert = json!({"event":"messages.upsert","instance":"shop1","apikey":"evo-key","data":{
        "key":{"remoteJid":"51987654321@s.whatsapp.net","fromMe":false,"id":"3EB0C767D"},
        "pushName":"Ana","message":{"conversation":"Hola"},"messageType":"conversation","messageTimestamp":1717000000}});
    let body = upsert.to_string().into_bytes();
    let res = post_raw(
        &s,
        &format!("/webhooks/evolution/{bot}/wrong-token"),
        "application/json",
        &[],
        body.clone(),
    )
    .await;
    assert_eq!(res.status(), 401);
    assert_eq!(inbound_count(&s).await, 0);
    for _ in 0..2 {
        let res = post_raw(
            &s,
            &format!("/webhooks/evolution/{bot}/tok-123"),
            "application/json",
            &[],
            body.clone(),
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(inbound_count(&s).await, 1);

    let id = send_text(&s, &token, &bot, "Hola Ana").await;
    assert!(standin.wait_for_accepted(1, Duration::from_secs(10)).await);
    let req = &standin.accepted()[0];
    assert_eq!(req.path, "/message/sendText/shop1");
    assert_eq!(req.header("apikey"), Some("evo-key"));
    assert_eq!(req.body["text"], "Hola Ana");
    wait_until("sent", || async { out_status(&s, id).await.0 == "sent" }).await;
    let key: String = s
        .state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT provider_message_id FROM outbox WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    let update = json!({"event":"messages.update","instance":"shop1","apikey":"evo-key","data":{"keyId": key,"remoteJid":"51987654321@s.whatsapp.net","fromMe":true,"status":"DELIVERY_ACK"}});
    let res = post_raw(
        &s,
        &format!("/webhooks/evolution/{bot}/tok-123"),
        "application/json",
        &[],
        update.to_string().into_bytes(),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(out_status(&s, id).await.1, "delivered");
}

#[tokio::test]
async fn bridge_events_are_signed_deduplicated_and_sends_follow_the_contract() {
    let s = TestServer::start_with(fast).await;
    let (_, token) = s.owner_token("T").await;
    let standin = StandIn::bridge("bt-1").await;
    let bot = create_bot(
        &s,
        &token,
        json!({"kind":"baileys","bridge_url": standin.url(),"bridge_token":"bt-1",
        "session":"sales","webhook_secret":"bridge-secret"}),
        vec![],
    )
    .await;
    let path = format!("/webhooks/bridge/{bot}");
    let ev = json!({"id":"evt-1","session":"sales","type":"message","timestamp":"2026-03-01T10:00:00Z",
        "message":{"id":"3EB0AAA","from":"51987654321","name":"Ana","content":{"type":"text","body":"hola"}}});
    let body = ev.to_string().into_bytes();
    let res = post_raw(
        &s,
        &path,
        "application/json",
        &[("x-bridge-signature", bridge_signature("nope", &body))],
        body.clone(),
    )
    .await;
    assert_eq!(res.status(), 401);
    for _ in 0..2 {
        let res = post_raw(
            &s,
            &path,
            "application/json",
            &[(
                "x-bridge-signature",
                bridge_signature("bridge-secret", &body),
            )],
            body.clone(),
        )
        .await;
        assert_eq!(res.status(), 200);
    }
    assert_eq!(inbound_count(&s).await, 1);

    let id = send_text(&s, &token, &bot, "hola Ana").await;
    assert!(standin.wait_for_accepted(1, Duration::from_secs(10)).await);
    let req = &standin.accepted()[0];
    assert_eq!(req.path, "/sessions/sales/messages");
    assert_eq!(req.header("authorization"), Some("Bearer bt-1"));
    assert_eq!(req.body["to"], "51987654321");
    assert_eq!(
        req.body["content"],
        json!({"type":"text","body":"hola Ana"})
    );
    wait_until("sent", || async { out_status(&s, id).await.0 == "sent" }).await;
    let wid: String = s
        .state
        .db
        .read(move |c| {
            Ok(c.query_row(
                "SELECT provider_message_id FROM outbox WHERE id = ?1",
                [id],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    let ack = json!({"id":"evt-2","session":"sales","type":"ack","timestamp":"2026-03-01T10:00:01Z","ack":{"message_id": wid,"status":"read","error":null}});
    let b = ack.to_string().into_bytes();
    let res = post_raw(
        &s,
        &path,
        "application/json",
        &[("x-bridge-signature", bridge_signature("bridge-secret", &b))],
        b,
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(out_status(&s, id).await.1, "read");

    // A session change shows in the bot's status.
    let st = json!({"id":"evt-3","session":"sales","type":"state","timestamp":"2026-03-01T10:00:02Z","state":{"state":"logged_out","reason":"logged out on phone","qr":null}});
    let b = st.to_string().into_bytes();
    post_raw(
        &s,
        &path,
        "application/json",
        &[("x-bridge-signature", bridge_signature("bridge-secret", &b))],
        b,
    )
    .await;
    let bot_json: Value = s
        .get(&format!("/api/bots/{bot}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(bot_json["primary"]["session"]["state"], "logged_out");
}

#[tokio::test]
async fn secrets_are_write_only_and_kept_on_update() {
    let s = TestServer::start_with(fast).await;
    let (_, token) = s.owner_token("T").await;
    let bot = create_bot(
        &s,
        &token,
        json!({"kind":"cloud","phone_number_id":"1","access_token":"EAAG-secret-token",
        "app_secret":"app-secret","verify_token":"vt"}),
        vec![json!({"kind":"sandbox"})],
    )
    .await;
    let text = s
        .get(&format!("/api/bots/{bot}"), &token)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        !text.contains("EAAG-secret-token") && !text.contains("app-secret"),
        "{text}"
    );
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["primary"]["has_access_token"], true);
    assert_eq!(v["fallbacks"][0]["kind"], "sandbox");
    // The stored row is sealed too.
    let raw: String = s
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT config FROM bot_channels WHERE position = 0",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert!(!raw.contains("EAAG"));
    // Update without secrets keeps them.
    let res = s
        .put(
            &format!("/api/bots/{bot}"),
            &token,
            json!({"name": "Renamed", "primary": {"kind":"cloud","phone_number_id":"2"}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["primary"]["has_app_secret"], true);
    assert_eq!(v["primary"]["phone_number_id"], "2");
    // Missing secrets on create are named.
    let res = s
        .post(
            "/api/bots",
            &token,
            json!({"name": "X", "primary": {"kind":"twilio","account_sid":"AC1","from":"+1"}}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "primary.auth_token");
    // Another tenant cannot see it.
    let (_, other) = s.owner_token("Other").await;
    assert_problem(
        s.get(&format!("/api/bots/{bot}"), &other).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(
        s.delete(&format!("/api/bots/{bot}"), &other).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn primary_failing_opens_its_circuit_the_fallback_delivers_and_the_primary_recovers() {
    let s = TestServer::start_with(fast).await;
    let (_, token) = s.owner_token("T").await;
    let primary = StandIn::cloud("p-token").await;
    let fallback = StandIn::twilio("AC00000000000000000000000000000002", "tw").await;
    let bot = create_bot(&s, &token,
        json!({"kind":"cloud","phone_number_id":"1","access_token":"p-token","app_secret":"a","verify_token":"v","api_base": primary.url()}),
        vec![json!({"kind":"twilio","account_sid":"AC00000000000000000000000000000002","auth_token":"tw","from":"+14155238886","api_base": fallback.url()})]).await;
    primary.set_mode(Mode::Fail5xx);
    let mut ids = vec![];
    for i in 0..4 {
        ids.push(send_text(&s, &token, &bot, &format!("m{i}")).await);
    }
    assert!(
        fallback.wait_for_accepted(4, Duration::from_secs(15)).await,
        "fallback delivered everything"
    );
    let bodies: Vec<String> = fallback
        .accepted()
        .iter()
        .map(|r| r.body["Body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, vec!["m0", "m1", "m2", "m3"], "in order");
    let status: Value = s
        .get(&format!("/api/bots/{bot}/status"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["channels"][0]["circuit"], "open");

    // The primary comes back: after the cooldown it is probed (half-open) and closes.
    primary.set_mode(Mode::Ok);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let id = send_text(&s, &token, &bot, "back").await;
    assert!(
        primary.wait_for_accepted(1, Duration::from_secs(10)).await,
        "primary used again"
    );
    wait_until("sent", || async { out_status(&s, id).await.0 == "sent" }).await;
    let status: Value = s
        .get(&format!("/api/bots/{bot}/status"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["channels"][0]["circuit"], "closed");
}

#[tokio::test]
async fn with_every_channel_down_messages_wait_and_all_arrive_when_one_returns() {
    let s = TestServer::start_with(|c| {
        fast(c);
        c.outbox.max_attempts = 1000;
    })
    .await;
    let (_, token) = s.owner_token("T").await;
    let a = StandIn::cloud("a").await;
    let b = StandIn::bridge("b").await;
    let bot = create_bot(&s, &token,
        json!({"kind":"cloud","phone_number_id":"1","access_token":"a","app_secret":"x","verify_token":"v","api_base": a.url()}),
        vec![json!({"kind":"wwebjs","bridge_url": b.url(),"bridge_token":"b","session":"s","webhook_secret":"w"})]).await;
    a.set_mode(Mode::Fail5xx);
    b.set_mode(Mode::NotConnected);
    for i in 0..5 {
        send_text(&s, &token, &bot, &format!("w{i}")).await;
    }
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(a.accepted().is_empty() && b.accepted().is_empty());
    let queued: i64 = s
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM outbox WHERE status IN ('queued','sending')",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(queued, 5, "nothing dropped while everything is down");
    b.set_session("connected", None);
    b.set_mode(Mode::Ok);
    assert!(b.wait_for_accepted(5, Duration::from_secs(15)).await);
    let texts: Vec<String> = b
        .accepted()
        .iter()
        .map(|r| r.body["content"]["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(texts, vec!["w0", "w1", "w2", "w3", "w4"]);
}

#[tokio::test]
async fn a_non_retriable_error_fails_at_once_with_the_providers_reason_and_can_be_retried_by_hand()
{
    let s = TestServer::start_with(fast).await;
    let (_, token) = s.owner_token("T").await;
    let standin = StandIn::cloud("t").await;
    let bot = create_bot(&s, &token, json!({"kind":"cloud","phone_number_id":"1","access_token":"t","app_secret":"x","verify_token":"v","api_base": standin.url()}), vec![]).await;
    standin.set_mode(Mode::NonRetriable);
    let id = send_text(&s, &token, &bot, "fuera de ventana").await;
    wait_until("failed", || async {
        out_status(&s, id).await.0 == "failed"
    })
    .await;
    let (_, msg_status, code) = out_status(&s, id).await;
    assert_eq!(msg_status, "failed");
    assert_eq!(code.as_deref(), Some("131047"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(standin.requests().len(), 1, "no retries");
    let item: Value = s
        .get(&format!("/api/outbox/{id}"), &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(item["attempts"], 1);

    standin.set_mode(Mode::Ok);
    let res = s
        .call(
            Method::POST,
            &format!("/api/outbox/{id}/retry"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    wait_until("sent after manual retry", || async {
        out_status(&s, id).await.0 == "sent"
    })
    .await;
}

#[tokio::test]
async fn retries_exhausted_land_in_dead_letters_which_can_be_discarded() {
    let s = TestServer::start_with(|c| {
        fast(c);
        c.outbox.max_attempts = 3;
        c.outbox.circuit_failures = 100;
    })
    .await;
    let (_, token) = s.owner_token("T").await;
    let standin = StandIn::cloud("t").await;
    let bot = create_bot(&s, &token, json!({"kind":"cloud","phone_number_id":"1","access_token":"t","app_secret":"x","verify_token":"v","api_base": standin.url()}), vec![]).await;
    standin.set_mode(Mode::RateLimited);
    let id = send_text(&s, &token, &bot, "x").await;
    wait_until("dead", || async { out_status(&s, id).await.0 == "dead" }).await;
    assert_eq!(standin.requests().len(), 3);
    let dead: Value = s
        .get("/api/outbox?status=dead", &token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(dead["items"][0]["id"], id);
    assert_eq!(dead["items"][0]["last_error_code"], "130429");
    let res = s
        .call(
            Method::POST,
            &format!("/api/outbox/{id}/discard"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(out_status(&s, id).await.0, "discarded");
    let res = s
        .call(
            Method::POST,
            &format!("/api/outbox/{id}/discard"),
            Some(&token),
            None,
        )
        .await;
    assert_problem(res, 409, "wrong_state").await;
}

#[tokio::test]
async fn the_per_bot_rate_limit_holds() {
    let s = TestServer::start_with(|c| {
        fast(c);
        c.outbox.rate_per_min = 6; // one every 10 s after the burst
        c.outbox.rate_burst = 2;
    })
    .await;
    let (_, token) = s.owner_token("T").await;
    let standin = StandIn::cloud("t").await;
    let bot = create_bot(&s, &token, json!({"kind":"cloud","phone_number_id":"1","access_token":"t","app_secret":"x","verify_token":"v","api_base": standin.url()}), vec![]).await;
    for i in 0..5 {
        send_text(&s, &token, &bot, &format!("r{i}")).await;
    }
    assert!(standin.wait_for_accepted(2, Duration::from_secs(10)).await);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(standin.accepted().len(), 2, "only the burst went out");
    let (waiting, attempts): (i64, i64) = s
        .state
        .db
        .read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*), COALESCE(SUM(attempts), 0) FROM outbox WHERE status = 'queued'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(waiting, 3, "the rest wait their turn, none dropped");
    assert_eq!(attempts, 0, "waiting for the limiter costs no attempt");
}

#[tokio::test]
async fn malformed_bodies_at_every_webhook_get_4xx_and_the_server_stays_healthy() {
    let s = TestServer::start_with(fast).await;
    let (_, token) = s.owner_token("T").await;
    let cloud = create_bot(&s, &token, json!({"kind":"cloud","phone_number_id":"1","access_token":"t","app_secret":"sec","verify_token":"v"}), vec![
        json!({"kind":"twilio","account_sid":"AC1","auth_token":"tw","from":"+1"}),
        json!({"kind":"evolution","api_base":"http://127.0.0.1:9","instance":"i","api_key":"k","webhook_token":"tok"}),
        json!({"kind":"venom","bridge_url":"http://127.0.0.1:9","bridge_token":"b","session":"s","webhook_secret":"ws"})]).await;
    let mut rng = 0x2545F4914F6CDD1Du64;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..1000 {
        let len = (next() % 300) as usize;
        let mut body: Vec<u8> = (0..len).map(|_| (next() % 256) as u8).collect();
        if i % 3 == 0 {
            body = format!(
                "{{\"object\":\"whatsapp_business_account\",\"entry\":[{{\"changes\":{}}}]}}",
                next()
            )
            .into_bytes();
        }
        let (path, headers): (String, Vec<(&str, String)>) = match i % 4 {
            0 => (
                format!("/webhooks/cloud/{cloud}"),
                vec![("x-hub-signature-256", cloud_signature("sec", &body))],
            ),
            1 => (
                format!("/webhooks/twilio/{cloud}"),
                vec![("x-twilio-signature", "AAAA".into())],
            ),
            2 => (format!("/webhooks/evolution/{cloud}/tok"), vec![]),
            _ => (
                format!("/webhooks/bridge/{cloud}"),
                vec![("x-bridge-signature", bridge_signature("ws", &body))],
            ),
        };
        let res = post_raw(&s, &path, "application/json", &headers, body).await;
        let code = res.status().as_u16();
        assert!((400..500).contains(&code), "body {i} at {path} got {code}");
    }
    let res = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(inbound_count(&s).await, 0);
}

#[tokio::test]
async fn inbound_media_is_downloaded_into_the_media_directory() {
    let s = TestServer::start_with(fast).await;
    let (_, token) = s.owner_token("T").await;
    let standin = StandIn::cloud("EAAG-token").await;
    let bot = create_bot(
        &s,
        &token,
        json!({"kind":"cloud","phone_number_id":"106540352242922","access_token":"EAAG-token",
        "app_secret":"app-secret","verify_token":"v","api_base": standin.url()}),
        vec![],
    )
    .await;
    let body = json!({"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":"106540352242922"},
        "contacts":[{"profile":{"name":"Ana"},"wa_id":"51987654321"}],
        "messages":[{"from":"51987654321","id":"wamid.IMG1","timestamp":"1749416383","type":"image",
            "image":{"caption":"¿tienen este?","mime_type":"image/jpeg","sha256":"x","id":"777"}}]}}]}]})
    .to_string()
    .into_bytes();
    let sig = cloud_signature("app-secret", &body);
    let res = post_raw(
        &s,
        &format!("/webhooks/cloud/{bot}"),
        "application/json",
        &[("x-hub-signature-256", sig)],
        body,
    )
    .await;
    assert_eq!(res.status(), 200);
    let mut local = None;
    for _ in 0..200 {
        let content: String = s
            .state
            .db
            .read(|c| {
                Ok(c.query_row(
                    "SELECT content FROM messages WHERE provider_message_id = 'wamid.IMG1'",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
            .unwrap();
        let v: Value = serde_json::from_str(&content).unwrap();
        if let Some(p) = v["local_path"].as_str() {
            assert_eq!(v["caption"], "¿tienen este?");
            local = Some(p.to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let local = local.expect("the media was downloaded");
    let bytes = std::fs::read(s.dir.path().join("media").join(&local)).unwrap();
    assert_eq!(bytes, b"fake jpeg 777");

    // The inbox gets a short-lived signed URL an <img> can load without a header.
    let convs: Value = s
        .get("/api/conversations", &token)
        .await
        .json()
        .await
        .unwrap();
    let conv = convs["items"][0]["id"].as_str().unwrap();
    assert_eq!(
        convs["items"][0]["last_message_preview"], "¿tienen este?",
        "the inbox previews the last message by its caption"
    );
    let msgs: Value = s
        .get(&format!("/api/conversations/{conv}/messages"), &token)
        .await
        .json()
        .await
        .unwrap();
    let url = msgs["items"][0]["content"]["url"]
        .as_str()
        .expect("a signed media url")
        .to_string();
    let res = s.http.get(s.url(&url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/jpeg");
    assert_eq!(res.bytes().await.unwrap().as_ref(), b"fake jpeg 777");
    let tampered = url.replace("sig=", "sig=0");
    assert_eq!(
        s.http.get(s.url(&tampered)).send().await.unwrap().status(),
        404
    );
    let unsigned = url.split('?').next().unwrap().to_string();
    assert!(s
        .http
        .get(s.url(&unsigned))
        .send()
        .await
        .unwrap()
        .status()
        .is_client_error());
}
