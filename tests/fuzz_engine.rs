//! The stable-toolchain twin of fuzz/flow_validate and fuzz/template_render: random
//! flow-shaped JSON through flow validation, and random templates and expressions through
//! rendering, must give a result or an error, never a panic. (The webhook parsers have
//! theirs in channels_parse_fuzz.rs.)

use dashoffice::engine::{template, validate, Flow};
use proptest::prelude::*;
use serde_json::{json, Value};

fn flow_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        prop::sample::select(vec![
            "message",
            "question",
            "menu",
            "condition",
            "set",
            "http",
            "catalog",
            "order",
            "handoff",
            "goto",
            "end",
            "order_status",
            "a",
            "b",
            "start",
            "{{ x }}",
            "{{ ",
            "{% if %}",
            "cart_total > 5000 and city == \"Lima\"",
            "text",
            "number",
            "email",
            "http://127.0.0.1/",
            "keyword",
            "regex",
            "(",
            "",
        ])
        .prop_map(|s| Value::String(s.to_string())),
        ".{0,16}".prop_map(Value::String),
    ];
    let keys = prop::sample::select(vec![
        "start",
        "nodes",
        "type",
        "text",
        "next",
        "options",
        "id",
        "title",
        "synonyms",
        "var",
        "validate",
        "kind",
        "min",
        "max",
        "error",
        "on_fail",
        "max_retries",
        "buttons",
        "branches",
        "when",
        "else",
        "set",
        "url",
        "method",
        "body",
        "map",
        "on_error",
        "triggers",
        "words",
        "pattern",
        "a",
        "b",
        "flow",
        "node",
        "expr",
        "timeout_ms",
    ]);
    leaf.prop_recursive(5, 96, 8, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(keys.clone().prop_map(str::to_string), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn template_source() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{{ ".to_string()),
        Just(" }}".to_string()),
        Just("{% if x %}".to_string()),
        Just("{% endif %}".to_string()),
        Just("{% for i in range(3) %}{{ i }}{% endfor %}".to_string()),
        Just("contact.name".to_string()),
        Just(" | money".to_string()),
        Just(" | money(\"PEN\")".to_string()),
        Just("order.total".to_string()),
        Just("cart_total > 5000 and city == \"Lima\"".to_string()),
        Just("{{ 1/0 }}".to_string()),
        ".{0,8}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn validating_any_flow_shaped_json_never_panics(v in flow_json()) {
        if let Ok(flow) = serde_json::from_value::<Flow>(v) {
            let _ = validate(&flow);
        }
    }

    #[test]
    fn rendering_any_template_never_panics(src in template_source(), name in ".{0,8}", total in any::<i64>()) {
        let ctx = json!({"contact": {"name": name}, "cart_total": total, "city": "Lima",
            "order": {"number": 7, "total": total, "currency": "PEN"}});
        let _ = template::render(&src, &ctx);
        let _ = template::check_template(&src);
        // minijinja 2.24 can panic on a stray close tag; our wrappers must turn that into
        // an error, so every input goes through them.
        let _ = template::eval(&src, &ctx);
        let _ = template::check_expression(&src);
    }
}

#[test]
fn the_demo_flow_shapes_validate_cleanly() {
    let flow: Flow = serde_json::from_str(dashoffice::engine::demo::DEMO_FLOW_JSON).unwrap();
    assert!(validate(&flow).is_empty());
}

/// Found by the harness above: `compile_expression(" }}{{ ")` panics inside minijinja
/// 2.24's lexer; `engine::template` turns that into an error.
#[test]
fn an_expression_with_a_stray_close_tag_is_an_error_not_a_panic() {
    assert!(template::check_expression(" }}{{ ").is_err());
    assert!(template::eval(" }}{{ ", &json!({})).is_err());
}
