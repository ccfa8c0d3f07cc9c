//! Template rendering on arbitrary source and context: text or an error, never a panic
//! (and, with minijinja's fuel, never a hang).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // "<template>\0<json context>"; without a context, a fixed one.
    let (source, ctx) = match text.split_once('\0') {
        Some((s, c)) => (
            s,
            serde_json::from_str(c).unwrap_or(serde_json::Value::Null),
        ),
        None => (
            text.as_ref(),
            serde_json::json!({"contact": {"name": "Lucía"}, "cart_total": 1500, "order": {"number": 7, "total": 3000, "currency": "PEN"}}),
        ),
    };
    let _ = dashoffice::engine::template::render(source, &ctx);
    let _ = dashoffice::engine::template::eval(source, &ctx);
});
