//! `Channel::parse` of the twilio channel on arbitrary bytes: events or an error, never a panic.
#![no_main]

use std::sync::{Arc, OnceLock};

use dashoffice::channels::{build_channel, Channel, ChannelConfig, WebhookRequest};
use libfuzzer_sys::fuzz_target;

fn channel() -> &'static Arc<dyn Channel> {
    static CHANNEL: OnceLock<Arc<dyn Channel>> = OnceLock::new();
    CHANNEL.get_or_init(|| {
        let config: ChannelConfig = serde_json::from_str(
            r#"{"kind":"twilio","account_sid":"AC1","auth_token":"t","from":"+1"}"#,
        )
        .expect("config");
        build_channel(&config, reqwest::Client::new(), std::env::temp_dir())
    })
}

fuzz_target!(|data: &[u8]| {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let mut req =
        WebhookRequest::post("http://localhost/webhooks/twilio/b", headers, data.to_vec());
    req.path_token = Some("w".into());
    let _ = channel().parse(&req);
});
