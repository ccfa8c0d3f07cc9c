//! Each provider's channel against its stand-in: documented send bodies and headers, fault
//! classification, webhook verification with the PROTOCOLS test vectors, and parsing of
//! the PROTOCOLS sample payloads.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, Method};
use dashoffice::channels::{
    build_channel_in, AuthError, Channel, ChannelConfig, ChannelEnv, ChannelEvent, ChannelStatus,
    SendError, SessionState, WebhookRequest,
};
use dashoffice::messages::{
    Button, Content, DeliveryStatus, Inbound, ListRow, ListSection, MediaKind,
};
use serde_json::{json, Value};
use support::standins::{
    bridge_signature, cloud_signature, test_http, twilio_form, twilio_signature, Mode, StandIn,
};

const TO: &str = "+16505551234";

fn channel(config: Value, media_dir: &std::path::Path) -> Arc<dyn Channel> {
    let config: ChannelConfig = serde_json::from_value(config).expect("channel config");
    let env = ChannelEnv::new(test_http(), media_dir).with_timeout(Duration::from_millis(400));
    build_channel_in(&config, &env)
}

fn text(body: &str) -> Content {
    Content::Text { body: body.into() }
}

fn buttons() -> Content {
    Content::Buttons {
        body: "Your workshop is tomorrow 9am.".into(),
        header: Some("Workshop".into()),
        footer: Some("Lucky Shrub".into()),
        buttons: vec![
            Button {
                id: "change-button".into(),
                title: "Change".into(),
            },
            Button {
                id: "cancel-button".into(),
                title: "Cancel".into(),
            },
        ],
    }
}

fn list() -> Content {
    Content::List {
        body: "Which shipping option do you prefer?".into(),
        header: Some("Choose Shipping Option".into()),
        footer: None,
        button: "Shipping Options".into(),
        sections: vec![ListSection {
            title: "I want it ASAP!".into(),
            rows: vec![ListRow {
                id: "priority_express".into(),
                title: "Priority Mail Express".into(),
                description: Some("Next Day to 2 Days".into()),
            }],
        }],
    }
}

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(
            axum::http::HeaderName::from_bytes(k.as_bytes()).expect("name"),
            HeaderValue::from_str(v).expect("value"),
        );
    }
    h
}

async fn assert_faults(ch: &dyn Channel, standin: &StandIn, non_retriable_code: &str) {
    standin.set_mode(Mode::Fail5xx);
    let e = ch.send(TO, &text("x"), None).await.expect_err("5xx");
    assert!(e.retriable, "5xx must be retriable: {e:?}");

    standin.set_mode(Mode::RateLimited);
    let e = ch.send(TO, &text("x"), None).await.expect_err("429");
    assert!(e.retriable, "rate limit must be retriable: {e:?}");

    standin.set_mode(Mode::Timeout);
    let e = ch.send(TO, &text("x"), None).await.expect_err("timeout");
    assert!(e.retriable, "timeout must be retriable: {e:?}");
    assert_eq!(e.code.as_deref(), Some("timeout"));

    standin.set_mode(Mode::NonRetriable);
    let e: SendError = ch.send(TO, &text("x"), None).await.expect_err("final");
    assert!(!e.retriable, "final error must not be retried: {e:?}");
    assert_eq!(e.code.as_deref(), Some(non_retriable_code));
    standin.set_mode(Mode::Ok);
}

// ---- Cloud API ---------------------------------------------------------------------------

fn cloud_config(base: &str) -> Value {
    json!({"kind":"cloud","phone_number_id":"106540352242922","access_token":"EAAG-token",
           "app_secret":"secret","verify_token":"vt","api_base": base})
}

#[tokio::test]
async fn cloud_send_posts_the_documented_bodies_with_bearer() {
    let standin = StandIn::cloud("EAAG-token").await;
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(cloud_config(&standin.url()), dir.path());

    let sent = ch
        .send(TO, &text("Hello"), Some("wamid.PREV"))
        .await
        .expect("send text");
    assert!(sent.provider_message_id.starts_with("wamid."));
    ch.send(TO, &buttons(), None).await.expect("send buttons");
    ch.send(TO, &list(), None).await.expect("send list");
    ch.send(
        TO,
        &Content::Media {
            kind: MediaKind::Document,
            url: "https://x.example/a.pdf".into(),
            caption: Some("Invoice".into()),
            filename: Some("a.pdf".into()),
        },
        None,
    )
    .await
    .expect("send media");

    let reqs = standin.accepted();
    assert_eq!(reqs.len(), 4);
    let r = &reqs[0];
    assert_eq!(r.method, Method::POST);
    assert_eq!(r.path, "/v23.0/106540352242922/messages");
    assert_eq!(r.header("authorization"), Some("Bearer EAAG-token"));
    assert!(r
        .header("content-type")
        .unwrap_or_default()
        .starts_with("application/json"));
    assert_eq!(
        r.body,
        json!({"messaging_product":"whatsapp","recipient_type":"individual","to":TO,
               "type":"text","text":{"preview_url":false,"body":"Hello"},
               "context":{"message_id":"wamid.PREV"}})
    );
    assert_eq!(
        reqs[1].body["interactive"],
        json!({"type":"button","header":{"type":"text","text":"Workshop"},
               "body":{"text":"Your workshop is tomorrow 9am."},"footer":{"text":"Lucky Shrub"},
               "action":{"buttons":[
                   {"type":"reply","reply":{"id":"change-button","title":"Change"}},
                   {"type":"reply","reply":{"id":"cancel-button","title":"Cancel"}}]}})
    );
    assert_eq!(
        reqs[2].body["interactive"],
        json!({"type":"list","header":{"type":"text","text":"Choose Shipping Option"},
               "body":{"text":"Which shipping option do you prefer?"},
               "action":{"button":"Shipping Options","sections":[{"title":"I want it ASAP!",
                   "rows":[{"id":"priority_express","title":"Priority Mail Express","description":"Next Day to 2 Days"}]}]}})
    );
    assert_eq!(
        reqs[3].body["document"],
        json!({"link":"https://x.example/a.pdf","caption":"Invoice","filename":"a.pdf"})
    );

    assert_eq!(ch.status().await, ChannelStatus::Connected);
}

#[tokio::test]
async fn cloud_faults_are_classified_per_error_table() {
    let standin = StandIn::cloud("EAAG-token").await;
    standin.set_timeout_delay(Duration::from_secs(5));
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(cloud_config(&standin.url()), dir.path());
    assert_faults(ch.as_ref(), &standin, "131047").await;

    let wrong = channel(
        json!({"kind":"meta","phone_number_id":"1","access_token":"expired","api_base": standin.url()}),
        dir.path(),
    );
    let e = wrong.send(TO, &text("x"), None).await.expect_err("401");
    assert!(!e.retriable);
    assert_eq!(e.code.as_deref(), Some("190"));
    assert!(matches!(wrong.status().await, ChannelStatus::Down { .. }));
}

#[tokio::test]
async fn connection_refused_is_retriable() {
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(cloud_config("http://127.0.0.1:9"), dir.path());
    let e = ch.send(TO, &text("x"), None).await.expect_err("refused");
    assert!(e.retriable);
}

#[tokio::test]
async fn cloud_media_is_fetched_into_a_content_addressed_file() {
    let standin = StandIn::cloud("EAAG-token").await;
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(cloud_config(&standin.url()), dir.path());
    let media = Inbound::Media {
        kind: MediaKind::Image,
        media_id: Some("1234567890".into()),
        url: None,
        mime_type: Some("image/jpeg".into()),
        caption: None,
        filename: None,
        local_path: None,
    };
    let path = ch
        .fetch_media(&media)
        .await
        .expect("fetch")
        .expect("a path");
    let bytes = std::fs::read(dir.path().join(&path)).expect("file");
    assert_eq!(bytes, b"fake jpeg 1234567890");
    let expected = dashoffice::channels::signature::sha256_hex(&bytes);
    assert_eq!(path, format!("{expected}.jpg"));
    let paths: Vec<String> = standin.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, vec!["/v23.0/1234567890", "/media-bytes/1234567890"]);
    assert!(standin
        .requests()
        .iter()
        .all(|r| r.header("authorization") == Some("Bearer EAAG-token")));
    assert_eq!(
        ch.fetch_media(&Inbound::Text { body: "x".into() }).await,
        Ok(None)
    );
}

#[test]
fn cloud_verify_uses_the_protocols_vector() {
    let dir = std::env::temp_dir();
    let ch = channel(cloud_config("http://unused"), &dir);
    let sig = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914";
    assert_eq!(cloud_signature("secret", b"test"), sig);
    let good = WebhookRequest::post(
        "https://h/webhooks/cloud/b",
        headers(&[("x-hub-signature-256", sig)]),
        "test",
    );
    assert_eq!(ch.verify(&good), Ok(()));
    let tampered = WebhookRequest::post(
        "https://h/webhooks/cloud/b",
        headers(&[("x-hub-signature-256", sig)]),
        "test2",
    );
    assert_eq!(ch.verify(&tampered), Err(AuthError::BadSignature));
    let missing = WebhookRequest::post("https://h/webhooks/cloud/b", HeaderMap::new(), "test");
    assert_eq!(ch.verify(&missing), Err(AuthError::Missing));
    let sha1 = WebhookRequest::post(
        "https://h/webhooks/cloud/b",
        headers(&[("x-hub-signature-256", "sha1=abc")]),
        "test",
    );
    assert_eq!(ch.verify(&sha1), Err(AuthError::BadSignature));
    assert_eq!(
        ch.verify_handshake("hub.mode=subscribe&hub.challenge=1158201444&hub.verify_token=vt"),
        Ok("1158201444".into())
    );
    assert_eq!(
        ch.verify_handshake("hub.mode=subscribe&hub.challenge=1&hub.verify_token=nope"),
        Err(AuthError::BadToken)
    );

    // A channel without an app secret accepts nothing, not even the empty-key signature.
    let unset = channel(json!({"kind":"cloud","phone_number_id":"1"}), &dir);
    let empty_key = cloud_signature("", b"test");
    let req = WebhookRequest::post(
        "https://h/webhooks/cloud/b",
        headers(&[("x-hub-signature-256", &empty_key)]),
        "test",
    );
    assert_eq!(unset.verify(&req), Err(AuthError::BadSignature));
    assert!(unset
        .verify_handshake("hub.mode=subscribe&hub.challenge=1&hub.verify_token=")
        .is_err());
}

fn cloud_envelope(value: Value) -> Vec<u8> {
    json!({"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":value}]}]})
        .to_string()
        .into_bytes()
}

fn parse_cloud(ch: &dyn Channel, body: Vec<u8>) -> Vec<ChannelEvent> {
    let sig = cloud_signature("secret", &body);
    let req = WebhookRequest::post(
        "https://h/webhooks/cloud/b",
        headers(&[("x-hub-signature-256", &sig)]),
        body,
    );
    ch.verify(&req).expect("signed by stand-in helper");
    ch.parse(&req).expect("parse")
}

#[test]
fn cloud_parses_the_protocols_samples() {
    let dir = std::env::temp_dir();
    let ch = channel(cloud_config("http://unused"), &dir);
    let meta = json!({"display_phone_number":"15550783881","phone_number_id":"106540352242922"});
    let value = json!({
        "messaging_product":"whatsapp","metadata": meta,
        "contacts":[{"profile":{"name":"Sheena Nelson"},"wa_id":"16505551234"}],
        "messages":[
            {"from":"16505551234","id":"wamid.T","timestamp":"1749416383","type":"text","text":{"body":"Does it come in another color?"}},
            {"context":{"from":"15550783881","id":"wamid.BTN"},"from":"16505551234","id":"wamid.B","timestamp":"1714510003",
             "type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"change-button","title":"Change"}}},
            {"context":{"from":"15550783881","id":"wamid.L0"},"from":"16505551234","id":"wamid.L","timestamp":"1712595443",
             "type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"priority_express","title":"Priority Mail Express","description":"Next Day to 2 Days"}}},
            {"context":{"from":"15550783881","id":"wamid.TPL"},"from":"16315551234","id":"wamid.TB","timestamp":"1714510003",
             "type":"button","button":{"payload":"No-Button-Payload","text":"No"}},
            {"from":"16505551234","id":"wamid.I","timestamp":"1714510003","type":"image",
             "image":{"caption":"CAPTION","mime_type":"image/jpeg","sha256":"IMAGE_HASH","id":"MEDIA_ID"}},
            {"from":"16505551234","id":"wamid.LOC","timestamp":"1714510003","type":"location",
             "location":{"latitude":-12.046374,"longitude":-77.042793,"name":"Plaza","address":"Lima"}},
            {"from":"16505551234","id":"wamid.R","timestamp":"1714510003","type":"reaction",
             "reaction":{"message_id":"wamid.X","emoji":"👍"}}
        ]
    });
    let events = parse_cloud(ch.as_ref(), cloud_envelope(value));
    assert_eq!(events.len(), 7);
    let ChannelEvent::Message {
        provider_message_id,
        from,
        name,
        at,
        content,
        reply_to,
    } = &events[0]
    else {
        panic!("not a message")
    };
    assert_eq!(provider_message_id, "wamid.T");
    assert_eq!(from, "+16505551234");
    assert_eq!(name.as_deref(), Some("Sheena Nelson"));
    assert_eq!(at.timestamp(), 1749416383);
    assert_eq!(
        content,
        &Inbound::Text {
            body: "Does it come in another color?".into()
        }
    );
    assert_eq!(reply_to, &None);

    let contents: Vec<(Inbound, Option<String>)> = events[1..]
        .iter()
        .map(|e| match e {
            ChannelEvent::Message {
                content, reply_to, ..
            } => (content.clone(), reply_to.clone()),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        contents[0],
        (
            Inbound::ButtonReply {
                id: "change-button".into(),
                title: "Change".into()
            },
            Some("wamid.BTN".into())
        )
    );
    assert_eq!(
        contents[1].0,
        Inbound::ListReply {
            id: "priority_express".into(),
            title: "Priority Mail Express".into(),
            description: Some("Next Day to 2 Days".into())
        }
    );
    assert_eq!(
        contents[2],
        (
            Inbound::ButtonReply {
                id: "No-Button-Payload".into(),
                title: "No".into()
            },
            Some("wamid.TPL".into())
        )
    );
    assert_eq!(
        contents[3].0,
        Inbound::Media {
            kind: MediaKind::Image,
            media_id: Some("MEDIA_ID".into()),
            url: None,
            mime_type: Some("image/jpeg".into()),
            caption: Some("CAPTION".into()),
            filename: None,
            local_path: None
        }
    );
    assert_eq!(
        contents[4].0,
        Inbound::Location {
            latitude: -12.046374,
            longitude: -77.042793,
            name: Some("Plaza".into()),
            address: Some("Lima".into())
        }
    );
    assert_eq!(
        contents[5].0,
        Inbound::Unsupported {
            kind: "reaction".into()
        }
    );
}

#[test]
fn cloud_parses_statuses_with_errors_across_entries_and_changes() {
    let dir = std::env::temp_dir();
    let ch = channel(cloud_config("http://unused"), &dir);
    let status = |id: &str, s: &str, extra: Value| {
        let mut v =
            json!({"id": id, "status": s, "timestamp":"1698903217", "recipient_id":"16505551234"});
        if let (Value::Object(m), Value::Object(x)) = (&mut v, extra) {
            m.extend(x);
        }
        v
    };
    let body = json!({"object":"whatsapp_business_account","entry":[
        {"id":"W1","changes":[
            {"field":"messages","value":{"messaging_product":"whatsapp","statuses":[
                status("wamid.A","sent", json!({"conversation":{"id":"c","origin":{"type":"service"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"service"}})),
                status("wamid.A","read", json!({}))]}},
            {"field":"messages","value":{"messaging_product":"whatsapp","statuses":[
                status("wamid.B","failed", json!({"errors":[{"code":131047,"title":"Re-engagement message","message":"Re-engagement message",
                    "error_data":{"details":"Message failed to send because more than 24 hours have passed"}}]}))]}}]},
        {"id":"W2","changes":[
            {"field":"messages","value":{"messaging_product":"whatsapp","statuses":[status("wamid.C","deleted", json!({}))]}}]}
    ]});
    let events = parse_cloud(ch.as_ref(), body.to_string().into_bytes());
    assert_eq!(events.len(), 3, "deleted is skipped");
    assert!(matches!(
        &events[1],
        ChannelEvent::Status {
            status: DeliveryStatus::Read,
            ..
        }
    ));
    let ChannelEvent::Status {
        provider_message_id,
        status,
        error,
        ..
    } = &events[2]
    else {
        panic!("not a status")
    };
    assert_eq!(provider_message_id, "wamid.B");
    assert_eq!(*status, DeliveryStatus::Failed);
    let error = error.as_ref().expect("error");
    assert_eq!(error.code, "131047");
    assert!(error.message.contains("24 hours"));
    assert_eq!(events[0].dedup_key().as_deref(), Some("wamid.A:sent"));
}

// ---- Twilio ------------------------------------------------------------------------------

const SID: &str = "AC0123456789abcdef0123456789abcdef";

fn twilio_config(base: &str) -> Value {
    json!({"kind":"twilio","account_sid":SID,"auth_token":"12345","from":"whatsapp:+14155238886",
           "api_base": base, "status_callback_url":"https://you.example/webhooks/twilio/b"})
}

#[tokio::test]
async fn twilio_send_is_form_encoded_with_basic_auth() {
    let standin = StandIn::twilio(SID, "12345").await;
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(twilio_config(&standin.url()), dir.path());
    let sent = ch
        .send("+15552229999", &text("Hello there"), None)
        .await
        .expect("send");
    assert!(sent.provider_message_id.starts_with("SM") && sent.provider_message_id.len() == 34);
    ch.send("+15552229999", &buttons(), None)
        .await
        .expect("buttons");
    ch.send(
        "+15552229999",
        &Content::Media {
            kind: MediaKind::Image,
            url: "https://example.com/a.jpg".into(),
            caption: Some("look".into()),
            filename: None,
        },
        None,
    )
    .await
    .expect("media");

    let reqs = standin.accepted();
    let r = &reqs[0];
    assert_eq!(r.path, format!("/2010-04-01/Accounts/{SID}/Messages.json"));
    assert_eq!(
        r.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(r
        .header("authorization")
        .unwrap_or_default()
        .starts_with("Basic "));
    assert_eq!(
        r.body,
        json!({"To":"whatsapp:+15552229999","From":"whatsapp:+14155238886","Body":"Hello there",
               "StatusCallback":"https://you.example/webhooks/twilio/b"})
    );
    assert_eq!(
        reqs[1].body["Body"],
        "Workshop\n\nYour workshop is tomorrow 9am.\n\n1. Change\n2. Cancel\n\nLucky Shrub"
    );
    assert_eq!(reqs[2].body["MediaUrl"], "https://example.com/a.jpg");
    assert_eq!(reqs[2].body["Body"], "look");
    assert_eq!(ch.status().await, ChannelStatus::Connected);
}

#[tokio::test]
async fn twilio_faults_are_classified() {
    let standin = StandIn::twilio(SID, "12345").await;
    standin.set_timeout_delay(Duration::from_secs(5));
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(twilio_config(&standin.url()), dir.path());
    assert_faults(ch.as_ref(), &standin, "63016").await;
    standin.set_mode(Mode::RateLimited);
    let e = ch.send(TO, &text("x"), None).await.expect_err("429");
    assert_eq!(e.code.as_deref(), Some("20429"));
}

#[test]
fn twilio_verify_uses_the_protocols_vector() {
    let dir = std::env::temp_dir();
    let ch = channel(twilio_config("http://unused"), &dir);
    let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
    let params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ];
    assert_eq!(
        twilio_signature("12345", url, &params),
        "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    );
    let body = twilio_form(&params);
    let good = WebhookRequest::post(
        url,
        headers(&[("x-twilio-signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")]),
        body.clone(),
    );
    assert_eq!(ch.verify(&good), Ok(()));
    let bad = WebhookRequest::post(
        url,
        headers(&[("x-twilio-signature", "1/KCTR6DLpKmkAf8muzZqo1nDgQ=")]),
        body.clone(),
    );
    assert_eq!(ch.verify(&bad), Err(AuthError::BadSignature));
    let other_url = WebhookRequest::post(
        "https://mycompany.com/myapp.php?foo=1",
        headers(&[("x-twilio-signature", "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")]),
        body.clone(),
    );
    assert_eq!(ch.verify(&other_url), Err(AuthError::BadSignature));
    let missing = WebhookRequest::post(url, HeaderMap::new(), body);
    assert_eq!(ch.verify(&missing), Err(AuthError::Missing));
}

fn signed_twilio(params: &[(&str, &str)]) -> WebhookRequest {
    let url = "https://shop.example/webhooks/twilio/bot1";
    let sig = twilio_signature("12345", url, params);
    WebhookRequest::post(
        url,
        headers(&[
            ("x-twilio-signature", &sig),
            ("content-type", "application/x-www-form-urlencoded"),
        ]),
        twilio_form(params),
    )
}

#[test]
fn twilio_parses_messages_media_buttons_and_status_callbacks() {
    let dir = std::env::temp_dir();
    let ch = channel(twilio_config("http://unused"), &dir);
    let base = [
        ("AccountSid", SID),
        ("From", "whatsapp:+5511999999999"),
        ("To", "whatsapp:+14155238886"),
        ("ProfileName", "Sheena"),
        ("WaId", "5511999999999"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut p: Vec<(&str, &str)> = base.to_vec();
        p.extend_from_slice(extra);
        let req = signed_twilio(&p);
        ch.verify(&req).expect("verify");
        ch.parse(&req).expect("parse")
    };

    let e = with(&[
        ("MessageSid", "SM11111111111111111111111111111111"),
        ("Body", "Add milk and bread"),
        ("NumMedia", "0"),
        ("SmsStatus", "received"),
    ]);
    let ChannelEvent::Message {
        provider_message_id,
        from,
        name,
        content,
        ..
    } = &e[0]
    else {
        panic!("{e:?}")
    };
    assert_eq!(provider_message_id, "SM11111111111111111111111111111111");
    assert_eq!(from, "+5511999999999");
    assert_eq!(name.as_deref(), Some("Sheena"));
    assert_eq!(
        content,
        &Inbound::Text {
            body: "Add milk and bread".into()
        }
    );

    let e = with(&[
        ("MessageSid", "MM2"),
        ("Body", ""),
        ("NumMedia", "1"),
        (
            "MediaUrl0",
            "https://api.twilio.com/2010-04-01/Accounts/AC/Messages/MM/Media/ME",
        ),
        ("MediaContentType0", "image/jpeg"),
    ]);
    assert!(matches!(
        &e[0],
        ChannelEvent::Message {
            content: Inbound::Media {
                kind: MediaKind::Image,
                url: Some(_),
                caption: None,
                ..
            },
            ..
        }
    ));

    let e = with(&[
        ("MessageSid", "SM3"),
        ("Body", "Yes"),
        ("ButtonText", "Yes"),
        ("ButtonPayload", "yes_payload"),
    ]);
    assert!(
        matches!(&e[0], ChannelEvent::Message { content: Inbound::ButtonReply { id, title }, .. } if id == "yes_payload" && title == "Yes")
    );

    let e = with(&[
        ("MessageSid", "SM4"),
        ("Latitude", "-12.04"),
        ("Longitude", "-77.04"),
        ("Address", "Lima"),
    ]);
    assert!(matches!(
        &e[0],
        ChannelEvent::Message {
            content: Inbound::Location { .. },
            ..
        }
    ));

    let e = with(&[
        ("MessageSid", "SM5"),
        ("MessageStatus", "undelivered"),
        ("ErrorCode", "63016"),
        ("ErrorMessage", "outside window"),
    ]);
    let ChannelEvent::Status {
        provider_message_id,
        status,
        error,
        ..
    } = &e[0]
    else {
        panic!("{e:?}")
    };
    assert_eq!(provider_message_id, "SM5");
    assert_eq!(*status, DeliveryStatus::Failed);
    assert_eq!(error.as_ref().map(|e| e.code.as_str()), Some("63016"));

    let e = with(&[("MessageSid", "SM6"), ("MessageStatus", "read")]);
    assert!(matches!(
        &e[0],
        ChannelEvent::Status {
            status: DeliveryStatus::Read,
            error: None,
            ..
        }
    ));

    let req = WebhookRequest::post("https://x", HeaderMap::new(), "Body=no+sid");
    assert!(ch.parse(&req).is_err());
}

// ---- Evolution ---------------------------------------------------------------------------

fn evolution_config(base: &str) -> Value {
    json!({"kind":"evolution","api_base": base,"instance":"shop1","api_key":"evo-key","webhook_token":"tok-123"})
}

#[tokio::test]
async fn evolution_send_uses_apikey_and_v2_bodies() {
    let standin = StandIn::evolution("evo-key").await;
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(evolution_config(&standin.url()), dir.path());
    let sent = ch
        .send("+5511999999999", &text("Hello"), Some("3EB0PREV"))
        .await
        .expect("text");
    assert!(sent.provider_message_id.starts_with("3EB0"));
    ch.send("+5511999999999", &list(), None)
        .await
        .expect("list");
    ch.send(
        "+5511999999999",
        &Content::Media {
            kind: MediaKind::Image,
            url: "https://x.example/a.jpg".into(),
            caption: Some("c".into()),
            filename: None,
        },
        None,
    )
    .await
    .expect("media");
    let reqs = standin.accepted();
    assert_eq!(reqs[0].path, "/message/sendText/shop1");
    assert_eq!(reqs[0].header("apikey"), Some("evo-key"));
    assert_eq!(
        reqs[0].body,
        json!({"number":"5511999999999","text":"Hello","quoted":{"key":{"id":"3EB0PREV"}}})
    );
    assert_eq!(reqs[1].path, "/message/sendText/shop1");
    assert!(reqs[1].body["text"]
        .as_str()
        .unwrap_or_default()
        .contains("1. Priority Mail Express — Next Day to 2 Days"));
    assert_eq!(reqs[2].path, "/message/sendMedia/shop1");
    assert_eq!(
        reqs[2].body,
        json!({"number":"5511999999999","mediatype":"image","media":"https://x.example/a.jpg","caption":"c"})
    );

    assert_eq!(ch.status().await, ChannelStatus::Connected);
    standin.set_session("qr_pending", Some("2@evo-qr"));
    assert!(
        matches!(ch.status().await, ChannelStatus::QrPending { qr_text, qr_svg } if qr_text == "2@evo-qr" && qr_svg.contains("<svg"))
    );
    standin.set_session("logged_out", None);
    assert!(matches!(ch.status().await, ChannelStatus::Down { .. }));
}

#[tokio::test]
async fn evolution_media_is_fetched_by_message_id() {
    let standin = StandIn::evolution("evo-key").await;
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(evolution_config(&standin.url()), dir.path());
    let media = Inbound::Media {
        kind: MediaKind::Image,
        media_id: Some("3EB0IMG".into()),
        url: None,
        mime_type: Some("image/jpeg".into()),
        caption: None,
        filename: None,
        local_path: None,
    };
    let path = ch.fetch_media(&media).await.expect("fetch").expect("path");
    assert_eq!(
        std::fs::read(dir.path().join(&path)).expect("file"),
        b"evo media 3EB0IMG"
    );
    let r = &standin.requests()[0];
    assert_eq!(r.path, "/chat/getBase64FromMediaMessage/shop1");
    assert_eq!(r.body["message"]["key"]["id"], "3EB0IMG");
    assert_eq!(r.header("apikey"), Some("evo-key"));
}

#[tokio::test]
async fn evolution_faults_are_classified() {
    let standin = StandIn::evolution("evo-key").await;
    standin.set_timeout_delay(Duration::from_secs(5));
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(evolution_config(&standin.url()), dir.path());
    assert_faults(ch.as_ref(), &standin, "400").await;
}

fn evolution_request(token: Option<&str>, body: &Value) -> WebhookRequest {
    let mut req = WebhookRequest::post(
        "https://h/webhooks/evolution/b/x",
        HeaderMap::new(),
        body.to_string(),
    );
    req.path_token = token.map(str::to_string);
    req
}

#[test]
fn evolution_verify_checks_path_token_and_apikey() {
    let dir = std::env::temp_dir();
    let ch = channel(evolution_config("http://unused"), &dir);
    let body = json!({"event":"messages.upsert","instance":"shop1","data":{},"apikey":"evo-key"});
    assert_eq!(
        ch.verify(&evolution_request(Some("tok-123"), &body)),
        Ok(())
    );
    assert_eq!(
        ch.verify(&evolution_request(Some("tok-12"), &body)),
        Err(AuthError::BadToken)
    );
    assert_eq!(
        ch.verify(&evolution_request(None, &body)),
        Err(AuthError::Missing)
    );
    let wrong_key =
        json!({"event":"messages.upsert","instance":"shop1","data":{},"apikey":"other"});
    assert_eq!(
        ch.verify(&evolution_request(Some("tok-123"), &wrong_key)),
        Err(AuthError::BadToken)
    );
    let no_key = json!({"event":"messages.upsert","instance":"shop1","data":{}});
    assert_eq!(
        ch.verify(&evolution_request(Some("tok-123"), &no_key)),
        Ok(())
    );
}

#[test]
fn evolution_parses_upserts_updates_and_connection_changes() {
    let dir = std::env::temp_dir();
    let ch = channel(evolution_config("http://unused"), &dir);
    let upsert = |data: Value| {
        let body = json!({"event":"messages.upsert","instance":"shop1","data":data,"destination":"https://h",
            "date_time":"2025-01-01T00:00:00.000Z","sender":"5511@s.whatsapp.net","server_url":"https://evo","apikey":"evo-key"});
        ch.parse(&evolution_request(Some("tok-123"), &body))
            .expect("parse")
    };
    let e = upsert(
        json!({"key":{"remoteJid":"5511999999999@s.whatsapp.net","fromMe":false,"id":"3EB0C767D"},
        "pushName":"Sheena","message":{"conversation":"hi"},"messageType":"conversation","messageTimestamp":1717000000,
        "instanceId":"i","source":"android"}),
    );
    let ChannelEvent::Message {
        provider_message_id,
        from,
        name,
        at,
        content,
        ..
    } = &e[0]
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (provider_message_id.as_str(), from.as_str()),
        ("3EB0C767D", "+5511999999999")
    );
    assert_eq!(name.as_deref(), Some("Sheena"));
    assert_eq!(at.timestamp(), 1717000000);
    assert_eq!(content, &Inbound::Text { body: "hi".into() });

    let e = upsert(
        json!({"key":{"remoteJid":"5511999999999@s.whatsapp.net","fromMe":false,"id":"X2"},
        "message":{"extendedTextMessage":{"text":"quoted reply","contextInfo":{"stanzaId":"3EB0OURS"}}},"messageTimestamp":"1717000001"}),
    );
    assert!(
        matches!(&e[0], ChannelEvent::Message { reply_to: Some(r), content: Inbound::Text { .. }, .. } if r == "3EB0OURS")
    );

    let e = upsert(
        json!({"key":{"remoteJid":"5511999999999@s.whatsapp.net","fromMe":false,"id":"X3"},
        "message":{"imageMessage":{"caption":"foto","mimetype":"image/jpeg","url":"https://mmg.whatsapp.net/enc"}},"messageType":"imageMessage"}),
    );
    assert!(
        matches!(&e[0], ChannelEvent::Message { content: Inbound::Media { kind: MediaKind::Image, caption: Some(c), .. }, .. } if c == "foto")
    );

    let e = upsert(
        json!({"key":{"remoteJid":"5511999999999@s.whatsapp.net","fromMe":false,"id":"X4"},
        "message":{"locationMessage":{"degreesLatitude":-12.0,"degreesLongitude":-77.0,"name":"Tienda"}}}),
    );
    assert!(matches!(
        &e[0],
        ChannelEvent::Message {
            content: Inbound::Location { .. },
            ..
        }
    ));

    let e = upsert(
        json!({"key":{"remoteJid":"5511999999999@s.whatsapp.net","fromMe":false,"id":"X5"},
        "message":{"reactionMessage":{"text":"👍"}},"messageType":"reactionMessage"}),
    );
    assert!(
        matches!(&e[0], ChannelEvent::Message { content: Inbound::Unsupported { kind }, .. } if kind == "reaction")
    );

    let body = json!({"event":"connection.update","instance":"shop1","data":{"instance":"shop1","state":"close","statusReason":401}});
    let e = ch
        .parse(&evolution_request(Some("tok-123"), &body))
        .expect("conn");
    assert!(
        matches!(&e[0], ChannelEvent::Session { state: SessionState::LoggedOut, reason: Some(r), .. } if r == "401")
    );

    let body = json!({"event":"messages.update","instance":"shop1","data":{"keyId":"3EB0OURS","remoteJid":"5511@s.whatsapp.net","fromMe":true,"status":"READ"}});
    let e = ch
        .parse(&evolution_request(Some("tok-123"), &body))
        .expect("update");
    assert!(matches!(
        &e[0],
        ChannelEvent::Status {
            status: DeliveryStatus::Read,
            ..
        }
    ));

    assert!(ch
        .parse(&evolution_request(Some("tok-123"), &json!({"nope":1})))
        .is_err());
}

// ---- Bridges (wwebjs, baileys, venom) ----------------------------------------------------

fn bridge_config(kind: &str, url: &str) -> Value {
    json!({"kind": kind, "bridge_url": url, "bridge_token":"bt-1","session":"sales","webhook_secret":"bridge-secret"})
}

#[tokio::test]
async fn bridge_send_follows_the_contract() {
    let standin = StandIn::bridge("bt-1").await;
    let dir = tempfile::tempdir().expect("tmp");
    for kind in ["wwebjs", "baileys", "venom"] {
        standin.clear();
        let ch = channel(bridge_config(kind, &standin.url()), dir.path());
        assert_eq!(ch.kind().as_str(), kind);
        let sent = ch
            .send("+51987654321", &buttons(), None)
            .await
            .expect("send");
        let r = &standin.accepted()[0];
        assert_eq!(
            r.answered_id.as_deref(),
            Some(sent.provider_message_id.as_str())
        );
        assert_eq!(r.path, "/sessions/sales/messages");
        assert_eq!(r.header("authorization"), Some("Bearer bt-1"));
        assert_eq!(r.body["to"], "51987654321");
        assert_eq!(
            r.body["content"],
            serde_json::to_value(buttons()).expect("content")
        );
        assert_eq!(r.body.as_object().map(|o| o.len()), Some(2));
    }
}

#[tokio::test]
async fn bridge_status_reports_qr_as_svg_and_faults_are_classified() {
    let standin = StandIn::bridge("bt-1").await;
    standin.set_timeout_delay(Duration::from_secs(5));
    let dir = tempfile::tempdir().expect("tmp");
    let ch = channel(bridge_config("baileys", &standin.url()), dir.path());
    assert_eq!(ch.status().await, ChannelStatus::Connected);

    standin.set_session("qr_pending", Some("2@AbCdEf,ghij,klmn"));
    let ChannelStatus::QrPending { qr_text, qr_svg } = ch.status().await else {
        panic!("not qr")
    };
    assert_eq!(qr_text, "2@AbCdEf,ghij,klmn");
    assert!(qr_svg.contains("<svg"));
    let e = ch.send(TO, &text("x"), None).await.expect_err("409");
    assert!(e.retriable);
    assert_eq!(e.code.as_deref(), Some("409"));

    standin.set_session("failed", None);
    assert_eq!(
        ch.status().await,
        ChannelStatus::Down {
            reason: "failed: browser crashed".into()
        }
    );
    standin.set_session("connected", None);
    assert_faults(ch.as_ref(), &standin, "400").await;
}

#[test]
fn bridge_verify_uses_the_shared_js_vector() {
    let dir = std::env::temp_dir();
    let ch = channel(bridge_config("wwebjs", "http://unused"), &dir);
    let body = r#"{"id":"evt-1","type":"message"}"#;
    let sig = "sha256=50aa14ef0b047c8e9e268db630434a2fe7ffdb98b976fb51ce4fb77b9a28d4b3";
    assert_eq!(bridge_signature("bridge-secret", body.as_bytes()), sig);
    let req = |h: HeaderMap, b: &str| {
        WebhookRequest::post("http://h/webhooks/bridge/b", h, b.to_string())
    };
    assert_eq!(
        ch.verify(&req(headers(&[("x-bridge-signature", sig)]), body)),
        Ok(())
    );
    assert_eq!(
        ch.verify(&req(
            headers(&[("x-bridge-signature", sig)]),
            &body.replace("evt-1", "evt-2")
        )),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        ch.verify(&req(headers(&[("x-bridge-signature", &sig[7..])]), body)),
        Err(AuthError::BadSignature)
    );
    assert_eq!(
        ch.verify(&req(HeaderMap::new(), body)),
        Err(AuthError::Missing)
    );
}

#[test]
fn bridge_parses_message_ack_and_state_events() {
    let dir = std::env::temp_dir();
    let ch = channel(bridge_config("venom", "http://unused"), &dir);
    let parse = |v: Value| {
        let body = v.to_string();
        let sig = bridge_signature("bridge-secret", body.as_bytes());
        let req = WebhookRequest::post(
            "http://h/webhooks/bridge/b",
            headers(&[("x-bridge-signature", &sig)]),
            body,
        );
        ch.verify(&req).expect("verify");
        ch.parse(&req).expect("parse")
    };
    let loc = Inbound::Location {
        latitude: -12.0,
        longitude: -77.0,
        name: None,
        address: None,
    };
    let e = parse(
        json!({"id":"evt-10","session":"sales","type":"message","timestamp":"2026-03-01T10:00:00Z",
        "message":{"id":"true_51987654321@c.us_3EB0","from":"51987654321","name":null,"content": loc}}),
    );
    let ChannelEvent::Message {
        provider_message_id,
        from,
        at,
        content,
        ..
    } = &e[0]
    else {
        panic!("{e:?}")
    };
    assert_eq!(provider_message_id, "true_51987654321@c.us_3EB0");
    assert_eq!(from, "+51987654321");
    assert_eq!(at.to_rfc3339(), "2026-03-01T10:00:00+00:00");
    assert_eq!(content, &loc);

    let e = parse(
        json!({"id":"evt-11","session":"sales","type":"ack","timestamp":"2026-03-01T10:00:01Z",
        "ack":{"message_id":"3EB0AA","status":"read","error":null}}),
    );
    assert!(
        matches!(&e[0], ChannelEvent::Status { status: DeliveryStatus::Read, error: None, event_id: Some(id), .. } if id == "evt-11")
    );

    let e = parse(
        json!({"id":"evt-12","session":"sales","type":"state","timestamp":"2026-03-01T10:00:02Z",
        "state":{"state":"logged_out","reason":"device removed","qr":null}}),
    );
    assert!(matches!(
        &e[0],
        ChannelEvent::Session {
            state: SessionState::LoggedOut,
            reason: Some(_),
            ..
        }
    ));

    let req = WebhookRequest::post("http://h", HeaderMap::new(), r#"{"id":"e","type":"bogus"}"#);
    assert!(ch.parse(&req).is_err());
}

// ---- Sandbox -----------------------------------------------------------------------------

#[tokio::test]
async fn sandbox_transcript_is_readable_through_the_trait_object() {
    let dir = std::env::temp_dir();
    let ch = channel(json!({"kind":"sandbox"}), &dir);
    ch.send("+51987654321", &list(), None).await.expect("send");
    let sandbox = ch.as_sandbox().expect("sandbox");
    assert_eq!(sandbox.transcript().len(), 1);
    let req = sandbox.inbound_request("+51987654321", None, Inbound::Text { body: "1".into() });
    assert_eq!(ch.verify(&req), Ok(()));
    assert_eq!(ch.parse(&req).expect("parse").len(), 1);
}
