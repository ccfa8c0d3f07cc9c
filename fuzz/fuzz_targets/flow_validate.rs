//! Flow validation on arbitrary JSON: a list of errors (maybe empty), never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    if let Ok(flow) = serde_json::from_value::<dashoffice::engine::Flow>(value) {
        let _ = dashoffice::engine::validate(&flow);
    }
});
