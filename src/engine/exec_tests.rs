//! Tests of the step function: every node type, retries, commands, hours, expiry, hand-off.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::{json, Value};

use super::*;
use crate::engine::context::{ContactView, MemoryCatalog, TenantSettings};
use crate::engine::model::{GlobalCommands, Session, SessionStatus};
use crate::messages::Content;

fn monday_noon() -> DateTime<Utc> {
    // Monday 2026-11-23 12:00 in Lima (UTC-5).
    Utc.with_ymd_and_hms(2026, 11, 23, 17, 0, 0).unwrap()
}

fn products(n: usize) -> MemoryCatalog {
    MemoryCatalog {
        products: (1..=n)
            .map(|i| ProductView {
                id: format!("p{i}"),
                sku: format!("SKU{i}"),
                name: format!("Producto {i}"),
                price_minor: 1000 * i as i64,
                currency: "PEN".into(),
                stock: Some(5),
                category: None,
            })
            .collect(),
    }
}

fn ctx_at(cat: &MemoryCatalog, now: DateTime<Utc>) -> Ctx<'_> {
    Ctx {
        now,
        tenant: TenantSettings::default(),
        contact: ContactView {
            phone: "+51987654321".into(),
            name: Some("Ana".into()),
        },
        catalog: cat,
    }
}

fn flow(nodes: Value) -> Flow {
    flow_with("f", nodes)
}

fn flow_with(id: &str, nodes: Value) -> Flow {
    let start = nodes
        .as_object()
        .and_then(|m| m.keys().find(|k| k.starts_with("a")).cloned())
        .unwrap_or_else(|| "a".into());
    serde_json::from_value(
        json!({"id": id, "version": 1, "name": id, "start": start, "nodes": nodes}),
    )
    .expect("test flow json")
}

fn bot(flows: Vec<Flow>) -> BotProgram {
    BotProgram {
        default_flow: flows[0].id.clone(),
        flows,
        commands: GlobalCommands::default(),
        hours: None,
        idle_timeout_secs: 24 * 3600,
    }
}

fn text(t: &str) -> Input {
    Input::Text { text: t.into() }
}

fn bodies(o: &Outcome) -> Vec<String> {
    o.sent()
        .into_iter()
        .map(|c| match c {
            Content::Text { body } | Content::Buttons { body, .. } | Content::List { body, .. } => {
                body.clone()
            }
            Content::Media { caption, url, .. } => caption.clone().unwrap_or_else(|| url.clone()),
            Content::Template { name, .. } => name.clone(),
        })
        .collect()
}

/// Drive a conversation and keep its session.
struct Chat<'a> {
    bot: BotProgram,
    ctx: Ctx<'a>,
    session: Option<Session>,
}

impl<'a> Chat<'a> {
    fn new(bot: BotProgram, cat: &'a MemoryCatalog) -> Self {
        Chat {
            bot,
            ctx: ctx_at(cat, monday_noon()),
            session: None,
        }
    }
    fn say(&mut self, input: Input) -> Outcome {
        let out = step(&self.bot, self.session.as_ref(), &input, &self.ctx);
        self.session = out.session.clone();
        out
    }
    fn var(&self, name: &str) -> Option<Value> {
        self.session
            .as_ref()
            .and_then(|s| s.vars.get(name).cloned())
    }
}

// ---- message ---------------------------------------------------------------------------

#[test]
fn a_message_node_sends_text_then_continues_and_the_flow_completes() {
    let cat = products(0);
    let mut c = Chat::new(
        bot(vec![flow(json!({
            "a": {"type": "message", "text": "Hola {{ contact.name }}", "next": "b"},
            "b": {"type": "message", "text": "Chau"}
        }))]),
        &cat,
    );
    let out = c.say(text("hi"));
    assert_eq!(bodies(&out), vec!["Hola Ana", "Chau"]);
    assert_eq!(
        out.effects.first(),
        Some(&Effect::FlowStarted {
            flow_id: "f".into()
        })
    );
    assert_eq!(
        out.effects.last(),
        Some(&Effect::FlowCompleted {
            flow_id: "f".into()
        })
    );
    assert!(out.session.is_none());
}

#[test]
fn a_message_node_sends_buttons_lists_and_media() {
    let cat = products(0);
    let mut c = Chat::new(
        bot(vec![flow(json!({
            "a": {"type": "message", "text": "Elige", "buttons": [{"id": "x", "title": "X"}], "next": "a2"},
            "a2": {"type": "message", "text": "Lista", "list": {"button": "Ver", "rows": [{"id": "r", "title": "R"}]}, "next": "a3"},
            "a3": {"type": "message", "text": "Foto", "media": {"kind": "image", "url": "https://x.pe/a.jpg"}}
        }))]),
        &cat,
    );
    let out = c.say(text("hi"));
    let sent = out.sent();
    assert!(matches!(sent[0], Content::Buttons { buttons, .. } if buttons[0].id == "x"));
    assert!(matches!(sent[1], Content::List { sections, .. } if sections[0].rows[0].id == "r"));
    assert!(
        matches!(sent[2], Content::Media { url, caption: Some(c), .. } if url == "https://x.pe/a.jpg" && c == "Foto")
    );
}

#[test]
fn a_template_error_at_run_time_is_reported_with_the_node_id() {
    let cat = products(0);
    let mut c = Chat::new(
        bot(vec![flow(json!({
            "a": {"type": "message", "text": "{{ 'x' | money }}"}
        }))]),
        &cat,
    );
    let out = c.say(text("hi"));
    assert!(out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Error { node, .. } if node == "a")));
    assert!(out.sent().is_empty());
}

// ---- question and validators -------------------------------------------------------------

fn question(validate: Value) -> BotProgram {
    bot(vec![flow(json!({
        "a": {"type": "question", "text": "¿Dato?", "var": "dato", "validate": validate,
              "error": "Inválido", "max_retries": 2, "on_fail": "fail", "next": "ok"},
        "ok": {"type": "message", "text": "Guardé {{ dato }}", "next": "wait"},
        "fail": {"type": "message", "text": "Me rindo"},
        "wait": {"type": "question", "text": "¿Algo más?", "var": "mas"}
    }))])
}

fn answers(validate: Value, good: &str, bad: &str, stored: Value) {
    let cat = products(0);
    let mut c = Chat::new(question(validate.clone()), &cat);
    assert_eq!(bodies(&c.say(text("hola"))), vec!["¿Dato?"]);
    assert_eq!(
        bodies(&c.say(text(bad))),
        vec!["Inválido"],
        "{validate} refuses {bad}"
    );
    let out = c.say(text(good));
    assert_eq!(c.var("dato"), Some(stored), "{validate} stores {good}");
    assert!(bodies(&out)[0].starts_with("Guardé"));
}

#[test]
fn a_text_question_checks_length() {
    answers(
        json!({"kind": "text", "min": 3}),
        "Lima",
        "no",
        json!("Lima"),
    );
}

#[test]
fn a_number_question_reads_the_tenant_locale() {
    answers(
        json!({"kind": "number"}),
        "1.234,50",
        "mucho",
        json!(1234.5),
    );
}

#[test]
fn an_email_question_accepts_addresses() {
    answers(
        json!({"kind": "email"}),
        "ana@tienda.pe",
        "ana@",
        json!("ana@tienda.pe"),
    );
}

#[test]
fn a_phone_question_stores_e164_with_the_tenant_country() {
    answers(
        json!({"kind": "phone"}),
        "987654321",
        "123",
        json!("+51987654321"),
    );
}

#[test]
fn a_date_question_stores_iso() {
    answers(
        json!({"kind": "date"}),
        "24/12/2026",
        "navidad",
        json!("2026-12-24"),
    );
}

#[test]
fn a_regex_question_matches_the_pattern() {
    answers(
        json!({"kind": "regex", "pattern": "^\\d{8}$"}),
        "12345678",
        "1234",
        json!("12345678"),
    );
}

#[test]
fn a_one_of_question_matches_titles_and_synonyms_and_shows_buttons() {
    let v = json!({"kind": "one_of", "options": [
        {"value": "lima", "title": "Lima", "synonyms": ["capital"]},
        {"value": "cusco", "title": "Cusco"}]});
    answers(v.clone(), "CAPITAL", "Tacna", json!("lima"));
    let cat = products(0);
    let mut c = Chat::new(question(v), &cat);
    let out = c.say(text("hola"));
    assert!(matches!(out.sent()[0], Content::Buttons { buttons, .. } if buttons.len() == 2));
    c.say(Input::Button {
        id: "cusco".into(),
        title: "Cusco".into(),
    });
    assert_eq!(c.var("dato"), Some(json!("cusco")));
}

#[test]
fn exhausted_retries_follow_on_fail() {
    let cat = products(0);
    let mut c = Chat::new(question(json!({"kind": "email"})), &cat);
    c.say(text("hola"));
    assert_eq!(bodies(&c.say(text("x"))), vec!["Inválido"]);
    assert_eq!(bodies(&c.say(text("y"))), vec!["Inválido"]);
    let out = c.say(text("z"));
    assert_eq!(bodies(&out), vec!["Me rindo"]);
    assert!(out.session.is_none());
}

#[test]
fn exhausted_retries_without_on_fail_drop_the_session() {
    let cat = products(0);
    let mut c = Chat::new(
        bot(vec![flow(json!({
            "a": {"type": "question", "text": "¿Correo?", "var": "c", "validate": {"kind": "email"}, "max_retries": 0}
        }))]),
        &cat,
    );
    c.say(text("hola"));
    let out = c.say(text("nope"));
    assert!(out.session.is_none());
    assert!(!out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::FlowCompleted { .. })));
}

// ---- menu, condition, set, goto, end --------------------------------------------------------

fn menu_bot() -> BotProgram {
    bot(vec![flow(json!({
        "a": {"type": "menu", "text": "Menú", "var": "opcion", "max_retries": 1, "on_fail": "f",
              "options": [
                {"id": "uno", "title": "Opción uno", "synonyms": ["primera"], "next": "b"},
                {"id": "dos", "title": "Opción dos", "next": "c"}]},
        "b": {"type": "end", "text": "Uno"},
        "c": {"type": "end", "text": "Dos"},
        "f": {"type": "end", "text": "Falló"}
    }))])
}

#[test]
fn a_menu_routes_by_number_title_synonym_or_tap() {
    let cat = products(0);
    for (input, want) in [
        (text("1"), "Uno"),
        (text("opción DOS"), "Dos"),
        (text("Primera"), "Uno"),
        (
            Input::Button {
                id: "dos".into(),
                title: "x".into(),
            },
            "Dos",
        ),
    ] {
        let mut c = Chat::new(menu_bot(), &cat);
        c.say(text("hola"));
        let out = c.say(input);
        assert_eq!(bodies(&out), vec![want]);
    }
}

#[test]
fn a_menu_re_asks_then_follows_on_fail() {
    let cat = products(0);
    let mut c = Chat::new(menu_bot(), &cat);
    c.say(text("hola"));
    let out = c.say(text("tres"));
    assert!(bodies(&out)[0].starts_with("No entendí"));
    assert_eq!(c.session.as_ref().map(|s| s.retries), Some(1));
    assert_eq!(bodies(&c.say(text("cuatro"))), vec!["Falló"]);
}

#[test]
fn condition_and_set_compute_with_expressions() {
    let cat = products(0);
    let mut c = Chat::new(
        bot(vec![flow(json!({
            "a": {"type": "set", "vars": [{"var": "total", "expr": "6000"}, {"var": "city", "expr": "'Lima'"},
                                          {"var": "doble", "expr": "total * 2"}], "next": "b"},
            "b": {"type": "condition", "branches": [{"when": "total > 5000 and city == \"Lima\"", "next": "c"}], "else": "d"},
            "c": {"type": "end", "text": "Envío gratis ({{ doble }})"},
            "d": {"type": "end", "text": "Envío con costo"}
        }))]),
        &cat,
    );
    assert_eq!(bodies(&c.say(text("hola"))), vec!["Envío gratis (12000)"]);
}

#[test]
fn a_condition_with_no_true_branch_takes_else() {
    let cat = products(0);
    let mut c = Chat::new(
        bot(vec![flow(json!({
            "a": {"type": "condition", "branches": [{"when": "cart_total > 0", "next": "c"}], "else": "d"},
            "c": {"type": "end", "text": "Con carrito"},
            "d": {"type": "end", "text": "Sin carrito"}
        }))]),
        &cat,
    );
    assert_eq!(bodies(&c.say(text("hola"))), vec!["Sin carrito"]);
}

#[test]
fn goto_jumps_within_a_flow_and_into_another_flow() {
    let cat = products(0);
    let main = flow_with(
        "main",
        json!({
            "a": {"type": "goto", "node": "b"},
            "b": {"type": "message", "text": "B", "next": "c"},
            "c": {"type": "goto", "flow": "otro"}
        }),
    );
    let other = flow_with("otro", json!({"a": {"type": "end", "text": "Otro flujo"}}));
    let mut c = Chat::new(bot(vec![main, other]), &cat);
    let out = c.say(text("hola"));
    assert_eq!(bodies(&out), vec!["B", "Otro flujo"]);
    assert!(out.effects.contains(&Effect::FlowStarted {
        flow_id: "otro".into()
    }));
}

#[test]
fn an_endless_goto_loop_is_stopped_and_reported() {
    let cat = products(0);
    let mut c = Chat::new(
        bot(vec![flow(json!({
            "a": {"type": "goto", "node": "b"},
            "b": {"type": "goto", "node": "a"}
        }))]),
        &cat,
    );
    let out = c.say(text("hola"));
    assert!(out.session.is_none());
    assert!(out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Error { .. })));
}

// ---- http ----------------------------------------------------------------------------

fn http_bot(url: &str) -> BotProgram {
    bot(vec![flow(json!({
        "a": {"type": "http", "method": "post", "url": url, "headers": {"X-Cliente": "{{ contact.phone }}"},
              "body": "{\"tel\": \"{{ contact.phone }}\"}",
              "map": {"nombre": "data.items[0].name"}, "next": "ok", "on_error": "err"},
        "ok": {"type": "end", "text": "Hola {{ nombre }}"},
        "err": {"type": "end", "text": "Error: {{ http_error }}"}
    }))])
}

#[test]
fn an_http_node_emits_the_call_and_maps_the_json_answer() {
    let cat = products(0);
    let mut c = Chat::new(
        http_bot("https://api.example.com/c/{{ contact.phone }}"),
        &cat,
    );
    let out = c.say(text("hola"));
    let call = out.effects.iter().find_map(|e| match e {
        Effect::Http {
            method,
            url,
            headers,
            body,
            timeout_ms,
        } => Some((
            method.clone(),
            url.clone(),
            headers.clone(),
            body.clone(),
            *timeout_ms,
        )),
        _ => None,
    });
    let (method, url, headers, body, timeout) = call.expect("an Http effect");
    assert_eq!(method, "POST");
    assert_eq!(url, "https://api.example.com/c/+51987654321");
    assert_eq!(
        headers,
        vec![("X-Cliente".to_string(), "+51987654321".to_string())]
    );
    assert_eq!(body.as_deref(), Some("{\"tel\": \"+51987654321\"}"));
    assert_eq!(timeout, 5000);
    // A customer message while waiting does not move the flow.
    assert!(c.say(text("¿?")).effects.is_empty());
    let out = c.say(Input::HttpResult {
        ok: true,
        status: Some(200),
        body: Some(json!({"data": {"items": [{"name": "Ana P."}]}})),
        error: None,
    });
    assert_eq!(bodies(&out), vec!["Hola Ana P."]);
}

#[test]
fn a_failed_http_call_takes_on_error() {
    let cat = products(0);
    let mut c = Chat::new(http_bot("https://api.example.com/x"), &cat);
    c.say(text("hola"));
    let out = c.say(Input::HttpResult {
        ok: false,
        status: None,
        body: None,
        error: Some("timeout".into()),
    });
    assert_eq!(bodies(&out), vec!["Error: timeout"]);
}

#[test]
fn an_http_node_refuses_private_addresses_unless_the_tenant_allows_them() {
    let cat = products(0);
    let mut c = Chat::new(http_bot("http://169.254.169.254/latest"), &cat);
    let out = c.say(text("hola"));
    assert!(!out.effects.iter().any(|e| matches!(e, Effect::Http { .. })));
    assert!(bodies(&out)[0].starts_with("Error: address 169.254.169.254"));
    let mut c = Chat::new(http_bot("http://192.168.1.5/api"), &cat);
    c.ctx.tenant.allow_private_http = true;
    assert!(c
        .say(text("hola"))
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Http { .. })));
}

// ---- catalog and order ------------------------------------------------------------------

fn shop_bot() -> BotProgram {
    bot(vec![flow(json!({
        "a": {"type": "catalog", "next": "order", "on_fail": "bye", "max_retries": 1},
        "order": {"type": "order", "next": "thanks", "on_error": "oops"},
        "thanks": {"type": "end", "text": "Gracias"},
        "oops": {"type": "end", "text": "Falló: {{ order_error }}"},
        "bye": {"type": "end", "text": "Adiós"}
    }))])
}

fn row_ids(c: &Content) -> Vec<String> {
    match c {
        Content::List { sections, .. } => sections
            .iter()
            .flat_map(|s| s.rows.iter().map(|r| r.id.clone()))
            .collect(),
        _ => vec![],
    }
}

#[test]
fn the_catalog_paginates_with_a_more_row_within_ten_rows() {
    let cat = products(20);
    let mut c = Chat::new(shop_bot(), &cat);
    let out = c.say(text("hola"));
    let ids = row_ids(out.sent()[0]);
    assert_eq!(ids.len(), 10);
    assert_eq!(ids.last().map(String::as_str), Some("more"));
    let out = c.say(text("más"));
    let ids = row_ids(out.sent()[0]);
    assert_eq!(ids.first().map(String::as_str), Some("prod:p10"));
    let out = c.say(text("más"));
    let ids = row_ids(out.sent()[0]);
    assert_eq!(ids, vec!["prod:p19", "prod:p20"]);
}

#[test]
fn the_catalog_refuses_more_than_the_stock_and_adds_to_the_cart() {
    let cat = products(3);
    let mut c = Chat::new(shop_bot(), &cat);
    c.say(text("hola"));
    let out = c.say(text("2"));
    assert!(bodies(&out)[0].contains("Producto 2"));
    let out = c.say(text("9"));
    assert!(bodies(&out)[0].contains("Solo nos quedan 5"));
    let out = c.say(text("3"));
    assert!(bodies(&out)[0].contains("S/ 60.00"), "{:?}", bodies(&out));
    let cart = &c.session.as_ref().expect("session").cart;
    assert_eq!(
        (
            cart[0].product_id.as_str(),
            cart[0].qty,
            cart[0].unit_price_minor
        ),
        ("p2", 3, 2000)
    );
    // Continue shopping: the product list now offers checkout.
    let out = c.say(text("seguir comprando"));
    assert!(row_ids(out.sent()[0]).contains(&"checkout".to_string()));
    let out = c.say(Input::ListPick {
        id: "checkout".into(),
        title: "Finalizar compra".into(),
    });
    assert!(out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::CreateOrder { lines, .. } if lines.len() == 1)));
}

#[test]
fn the_catalog_gives_up_after_retries_and_follows_on_fail() {
    let cat = products(3);
    let mut c = Chat::new(shop_bot(), &cat);
    c.say(text("hola"));
    assert!(bodies(&c.say(text("zapatos")))[0].starts_with("No entendí"));
    assert_eq!(bodies(&c.say(text("zapatos"))), vec!["Adiós"]);
}

#[test]
fn a_confirmed_order_clears_the_cart_and_a_refused_one_takes_on_error() {
    let cat = products(1);
    for ok in [true, false] {
        let mut c = Chat::new(shop_bot(), &cat);
        c.say(text("hola"));
        c.say(text("1"));
        c.say(text("1"));
        let out = c.say(text("finalizar"));
        assert!(out
            .effects
            .iter()
            .any(|e| matches!(e, Effect::CreateOrder { .. })));
        assert_eq!(
            c.session.as_ref().map(|s| s.waiting),
            Some(Waiting::OrderResult)
        );
        let out = c.say(Input::OrderResult {
            ok,
            order_id: ok.then(|| "o1".into()),
            number: ok.then_some(7),
            total_minor: ok.then_some(1000),
            currency: ok.then(|| "PEN".into()),
            error: (!ok).then(|| "stock insuficiente".into()),
        });
        if ok {
            assert_eq!(
                bodies(&out),
                vec!["✅ ¡Pedido #7 confirmado! Total: S/ 10.00", "Gracias"]
            );
        } else {
            assert_eq!(bodies(&out), vec!["Falló: stock insuficiente"]);
        }
    }
}

#[test]
fn an_order_with_an_empty_cart_is_not_created() {
    let cat = products(0);
    let mut c = Chat::new(
        bot(vec![flow(json!({
            "a": {"type": "order", "on_empty": "e"},
            "e": {"type": "end", "text": "Agrega productos primero"}
        }))]),
        &cat,
    );
    let out = c.say(text("hola"));
    assert!(!out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::CreateOrder { .. })));
    assert_eq!(
        bodies(&out),
        vec!["Tu carrito está vacío.", "Agrega productos primero"]
    );
}

#[test]
fn a_result_nobody_waits_for_is_ignored() {
    let cat = products(0);
    let mut c = Chat::new(question(json!({"kind": "text"})), &cat);
    c.say(text("hola"));
    let before = c.session.clone();
    let out = c.say(Input::OrderResult {
        ok: true,
        order_id: None,
        number: Some(1),
        total_minor: None,
        currency: None,
        error: None,
    });
    assert!(out.effects.is_empty());
    assert_eq!(out.session, before);
}

// ---- hand-off and global commands -------------------------------------------------------

fn handoff_bot() -> BotProgram {
    bot(vec![flow(json!({
        "a": {"type": "handoff", "text": "Un momento", "reason": "pidió ayuda", "next": "b"},
        "b": {"type": "question", "text": "¿Algo más?", "var": "x"}
    }))])
}

#[test]
fn a_handed_off_conversation_is_silent_until_released() {
    let cat = products(0);
    let mut c = Chat::new(handoff_bot(), &cat);
    let out = c.say(text("hola"));
    assert!(out.effects.contains(&Effect::Handoff {
        reason: Some("pidió ayuda".into())
    }));
    assert_eq!(
        c.session.as_ref().map(|s| s.status),
        Some(SessionStatus::Human)
    );
    for t in ["¿hola?", "menu", "agente"] {
        assert!(c.say(text(t)).effects.is_empty(), "{t}");
    }
    let out = c.say(Input::Released);
    assert_eq!(bodies(&out), vec!["¿Algo más?"]);
    assert_eq!(
        c.session.as_ref().map(|s| s.status),
        Some(SessionStatus::Bot)
    );
}

#[test]
fn the_agent_command_hands_off_from_anywhere_and_release_starts_over() {
    let cat = products(0);
    let mut c = Chat::new(question(json!({"kind": "email"})), &cat);
    c.say(text("hola"));
    let out = c.say(text("Agente"));
    assert!(out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::Handoff { .. })));
    let out = c.say(Input::Released);
    assert!(out.session.is_none() && out.effects.is_empty());
    assert_eq!(bodies(&c.say(text("hola"))), vec!["¿Dato?"]);
}

#[test]
fn the_stop_command_says_goodbye_and_ends_the_session() {
    let cat = products(0);
    let mut c = Chat::new(question(json!({"kind": "email"})), &cat);
    c.say(text("hola"));
    let out = c.say(text("SALIR"));
    assert!(bodies(&out)[0].starts_with("¡Hasta pronto"));
    assert!(out.session.is_none());
}

#[test]
fn the_menu_command_restarts_the_default_flow_keeping_the_cart() {
    let cat = products(3);
    let mut c = Chat::new(shop_bot(), &cat);
    c.say(text("hola"));
    c.say(text("1"));
    c.say(text("1"));
    let out = c.say(text("Menú"));
    assert!(out.effects.contains(&Effect::FlowStarted {
        flow_id: "f".into()
    }));
    assert_eq!(c.session.as_ref().map(|s| s.cart.len()), Some(1));
}

#[test]
fn commands_are_configurable_per_bot() {
    let cat = products(0);
    let mut b = question(json!({"kind": "email"}));
    b.commands.stop = vec!["chau".into()];
    let mut c = Chat::new(b, &cat);
    c.say(text("hola"));
    assert_eq!(bodies(&c.say(text("salir"))), vec!["Inválido"]);
    assert!(c.say(text("chau")).session.is_none());
}

#[test]
fn a_trigger_keyword_starts_its_flow_instead_of_the_default() {
    let cat = products(0);
    let main = flow_with("main", json!({"a": {"type": "end", "text": "Principal"}}));
    let mut promo = flow_with("promo", json!({"a": {"type": "end", "text": "Promo"}}));
    promo.triggers = serde_json::from_value(json!([
        {"type": "keyword", "words": ["oferta"]},
        {"type": "regex", "pattern": "(?i)cup[oó]n\\s+\\w+"}
    ]))
    .expect("triggers");
    let b = bot(vec![main, promo]);
    let ctx = ctx_at(&cat, monday_noon());
    let said = |t: &str| bodies(&step(&b, None, &text(t), &ctx));
    assert_eq!(said("¿Tienen OFERTAS? quiero la oferta"), vec!["Promo"]);
    assert_eq!(said("tengo cupón ABC"), vec!["Promo"]);
    assert_eq!(said("hola"), vec!["Principal"]);
}

#[test]
fn a_running_session_stays_on_its_flow_version() {
    let cat = products(0);
    let v1 = flow(
        json!({"a": {"type": "question", "text": "v1?", "var": "x", "next": "b"},
                         "b": {"type": "end", "text": "fin v1"}}),
    );
    let mut v2 = flow(
        json!({"a": {"type": "question", "text": "v2?", "var": "x", "next": "b"},
                             "b": {"type": "end", "text": "fin v2"}}),
    );
    v2.version = 2;
    let b1 = bot(vec![v1.clone()]);
    let ctx = ctx_at(&cat, monday_noon());
    let s = step(&b1, None, &text("hola"), &ctx).session;
    let b2 = bot(vec![v1, v2]);
    assert_eq!(
        bodies(&step(&b2, s.as_ref(), &text("x"), &ctx)),
        vec!["fin v1"]
    );
    assert_eq!(bodies(&step(&b2, None, &text("hola"), &ctx)), vec!["v2?"]);
}

#[test]
fn unsupported_messages_are_not_answered() {
    let cat = products(0);
    let mut c = Chat::new(question(json!({"kind": "text"})), &cat);
    let out = c.say(Input::Unsupported {
        kind: "reaction".into(),
    });
    assert!(out.effects.is_empty() && out.session.is_none());
}

// ---- clock: expiry and business hours ------------------------------------------------------

#[test]
fn an_idle_session_expires_and_the_default_flow_starts_again() {
    let cat = products(0);
    let mut c = Chat::new(question(json!({"kind": "email"})), &cat);
    c.say(text("hola"));
    c.ctx.now = monday_noon() + Duration::hours(23);
    assert_eq!(bodies(&c.say(text("x"))), vec!["Inválido"]);
    c.ctx.now = monday_noon() + Duration::hours(48);
    let out = c.say(text("ana@tienda.pe"));
    assert_eq!(out.effects[0], Effect::SessionExpired);
    assert_eq!(bodies(&out), vec!["¿Dato?"]);
}

fn with_hours(mut b: BotProgram) -> BotProgram {
    b.hours = Some(
        serde_json::from_value(json!({
            "schedule": {"monday": {"start": "09:00", "end": "18:00"}},
            "away_message": "Volvemos el lunes a las 9, {{ contact.name }}.",
            "away_every_hours": 4
        }))
        .expect("hours"),
    );
    b
}

#[test]
fn outside_business_hours_the_away_message_goes_out_once_per_interval() {
    let cat = products(0);
    let mut c = Chat::new(with_hours(question(json!({"kind": "text"}))), &cat);
    // Monday 20:00 Lima.
    let evening = Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).unwrap();
    c.ctx.now = evening;
    let out = c.say(text("hola"));
    assert_eq!(out.effects[0], Effect::Away);
    assert_eq!(bodies(&out), vec!["Volvemos el lunes a las 9, Ana."]);
    c.ctx.now = evening + Duration::hours(1);
    assert!(c.say(text("¿hay alguien?")).effects.is_empty());
    c.ctx.now = evening + Duration::hours(5);
    assert_eq!(c.say(text("hola?")).effects[0], Effect::Away);
    // Next Monday 10:00: the flow runs.
    c.ctx.now = Utc.with_ymd_and_hms(2026, 11, 30, 15, 0, 0).unwrap();
    assert_eq!(bodies(&c.say(text("hola"))), vec!["¿Dato?"]);
}

#[test]
fn inside_business_hours_the_flow_runs() {
    let cat = products(0);
    let mut c = Chat::new(with_hours(question(json!({"kind": "text"}))), &cat);
    assert_eq!(bodies(&c.say(text("hola"))), vec!["¿Dato?"]);
}

#[test]
fn a_catalog_node_may_fix_a_search_and_show_its_own_intro() {
    let cat = products(12);
    let mut c = Chat::new(
        bot(vec![flow(json!({
            "a": {"type": "set", "vars": [{"var": "q", "expr": "'producto 1'"}], "next": "a2"},
            "a2": {"type": "catalog", "text": "Resultados de {{ q }}", "search": "{{ q }}", "next": "z"},
            "z": {"type": "end"}
        }))]),
        &cat,
    );
    let out = c.say(text("hola"));
    let ids = row_ids(out.sent()[0]);
    // "producto 1" matches Producto 1, 10, 11 and 12.
    assert_eq!(ids, vec!["prod:p1", "prod:p10", "prod:p11", "prod:p12"]);
    assert_eq!(bodies(&out), vec!["Resultados de producto 1"]);
}

#[test]
fn an_idle_timeout_too_large_for_a_duration_never_expires() {
    let cat = products(0);
    let mut b = question(json!({"kind": "text"}));
    b.idle_timeout_secs = u64::MAX;
    let mut c = Chat::new(b, &cat);
    c.say(text("hola"));
    c.ctx.now = monday_noon() + Duration::days(3650);
    let out = c.say(text("dato"));
    assert!(!out.effects.contains(&Effect::SessionExpired));
}

fn shop_with_categories() -> MemoryCatalog {
    let mut cat = products(3);
    cat.products[0].category = Some("Ropa".into());
    cat.products[1].category = Some("Ropa".into());
    cat.products[1].stock = Some(0);
    cat.products[2].category = Some("Hogar".into());
    cat
}

#[test]
fn categories_lead_to_their_products_and_sold_out_ones_are_refused() {
    let cat = shop_with_categories();
    let mut c = Chat::new(shop_bot(), &cat);
    let out = c.say(text("hola"));
    assert_eq!(row_ids(out.sent()[0]), vec!["cat:Ropa", "cat:Hogar"]);
    let out = c.say(Input::ListPick {
        id: "cat:Ropa".into(),
        title: "Ropa".into(),
    });
    assert_eq!(row_ids(out.sent()[0]), vec!["prod:p1", "prod:p2"]);
    let out = c.say(text("Producto 2"));
    assert!(bodies(&out)[0].contains("agotado"));
    let out = c.say(text("1"));
    assert!(bodies(&out)[0].contains("¿Cuántas unidades de Producto 1"));
}

#[test]
fn sessions_survive_a_json_round_trip_mid_catalog() {
    let cat = shop_with_categories();
    let mut c = Chat::new(shop_bot(), &cat);
    c.say(text("hola"));
    c.say(text("ropa"));
    c.say(text("1"));
    c.say(text("2"));
    let s = c.session.clone().expect("session");
    let json = serde_json::to_string(&s).expect("serialise");
    let back: Session = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, s);
    let out = step(&c.bot, Some(&back), &text("finalizar"), &c.ctx);
    assert!(out
        .effects
        .iter()
        .any(|e| matches!(e, Effect::CreateOrder { .. })));
}

#[test]
fn effects_serialise_with_an_effect_tag_next_to_the_content_type() {
    let e = Effect::Send(Content::Text {
        body: "hola".into(),
    });
    let v = serde_json::to_value(&e).expect("serialise");
    assert_eq!(v, json!({"effect": "send", "type": "text", "body": "hola"}));
    assert_eq!(serde_json::from_value::<Effect>(v).expect("deserialise"), e);
}

mod random_conversations {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::demo::demo_program;

    fn any_input() -> impl Strategy<Value = Input> {
        prop_oneof![
            "[a-zA-Záéíóúñ0-9 ,.#]{0,12}".prop_map(|t| Input::Text { text: t }),
            prop::sample::select(vec![
                "1",
                "2",
                "3",
                "menu",
                "agente",
                "salir",
                "más",
                "finalizar",
                "1.234,5"
            ])
            .prop_map(|t| Input::Text { text: t.into() }),
            prop::sample::select(vec![
                "catalogo",
                "checkout",
                "more",
                "more_products",
                "cat:Ropa",
                "prod:p1",
                "prod:p2"
            ])
            .prop_map(|id| Input::ListPick {
                id: id.into(),
                title: id.into()
            }),
            any::<bool>().prop_map(|ok| Input::OrderResult {
                ok,
                order_id: None,
                number: Some(1),
                total_minor: Some(100),
                currency: None,
                error: None
            }),
            Just(Input::Released),
        ]
    }

    proptest! {
        #[test]
        fn the_demo_never_panics_and_a_bot_session_always_waits_for_something(
            inputs in prop::collection::vec(any_input(), 1..25)
        ) {
            let cat = shop_with_categories();
            let mut c = Chat::new(demo_program(), &cat);
            for i in inputs {
                let out = c.say(i);
                if let Some(s) = &out.session {
                    if s.status == SessionStatus::Bot {
                        prop_assert!(s.waiting != Waiting::None, "{s:?}");
                    }
                    prop_assert!(s.cart.iter().all(|l| l.qty > 0));
                }
            }
        }
    }
}
