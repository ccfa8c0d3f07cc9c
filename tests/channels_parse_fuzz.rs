//! Webhook parsing never panics: random bytes and random JSON at every provider's parser
//! give an error or events, nothing else (the HTTP layer turns errors into 400).

use std::sync::Arc;

use axum::http::HeaderMap;
use dashoffice::channels::{build_channel, Channel, ChannelConfig, WebhookRequest};
use proptest::prelude::*;
use serde_json::{json, Value};

fn channels() -> Vec<Arc<dyn Channel>> {
    let http = reqwest::Client::new();
    [
        json!({"kind":"cloud","phone_number_id":"1","access_token":"t","app_secret":"s","verify_token":"v"}),
        json!({"kind":"twilio","account_sid":"AC1","auth_token":"t","from":"+1"}),
        json!({"kind":"evolution","api_base":"http://e","instance":"i","api_key":"k","webhook_token":"w"}),
        json!({"kind":"baileys","bridge_url":"http://b","bridge_token":"t","session":"s","webhook_secret":"w"}),
        json!({"kind":"sandbox"}),
    ]
    .into_iter()
    .map(|c| {
        let c: ChannelConfig = serde_json::from_value(c).expect("config");
        build_channel(&c, http.clone(), std::env::temp_dir())
    })
    .collect()
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "text",
            "interactive",
            "button_reply",
            "list_reply",
            "image",
            "location",
            "failed",
            "messages.upsert",
            "messages.update",
            "message",
            "ack",
            "state",
            "wamid.X",
            "5511999999999@s.whatsapp.net",
            "status@broadcast",
            "1@lid",
            "",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        ".{0,12}".prop_map(Value::String),
    ];
    let keys = prop::sample::select(vec![
        "entry",
        "changes",
        "value",
        "messages",
        "statuses",
        "contacts",
        "id",
        "from",
        "type",
        "text",
        "body",
        "interactive",
        "button_reply",
        "list_reply",
        "location",
        "latitude",
        "errors",
        "code",
        "event",
        "data",
        "key",
        "remoteJid",
        "fromMe",
        "message",
        "conversation",
        "ack",
        "state",
        "status",
        "message_id",
        "content",
        "timestamp",
        "image",
        "context",
    ]);
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((keys.clone(), inner), 0..6).prop_map(|kv| {
                Value::Object(kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
            }),
        ]
    })
}

fn request(body: Vec<u8>) -> WebhookRequest {
    let mut req = WebhookRequest::post(
        "https://h/webhooks/x/b?bodySHA256=00",
        HeaderMap::new(),
        body,
    );
    req.path_token = Some("w".into());
    req
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        for ch in channels() {
            let req = request(body.clone());
            let _ = ch.verify(&req);
            let _ = ch.parse(&req);
            let _ = ch.verify_handshake(&String::from_utf8_lossy(&body));
        }
    }

    #[test]
    fn random_json_never_panics(v in json_value()) {
        let body = serde_json::to_vec(&v).expect("json");
        for ch in channels() {
            let req = request(body.clone());
            let _ = ch.verify(&req);
            let _ = ch.parse(&req);
        }
    }
}
