//! Validation on save: a flow that would break a conversation is refused, each problem
//! naming the node and the field.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};

use serde::Serialize;

use super::http::parse_path;
use super::model::{BotProgram, Flow, Node, Validator};
use super::template::{self, GLOBALS};
use super::validators::compile_regex;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowError {
    /// Node id ("" for flow-level problems such as triggers).
    pub node: String,
    /// The field at fault, e.g. `next`, `options[2].title`, `validate.pattern`.
    pub field: String,
    /// Stable machine code: `missing_start`, `unknown_target`, `unreachable`,
    /// `too_many_buttons`, `too_many_rows`, `title_too_long`, `bad_regex`,
    /// `bad_expression`, `bad_template`, `undefined_variable`, ...
    pub code: String,
    pub message: String,
}

fn err(node: &str, field: impl Into<String>, code: &str, message: impl Into<String>) -> FlowError {
    FlowError {
        node: node.to_string(),
        field: field.into(),
        code: code.to_string(),
        message: message.into(),
    }
}

const MAX_BUTTONS: usize = 3;
const MAX_BUTTON_TITLE: usize = 20;
const MAX_ROWS: usize = 10;
const MAX_ROW_TITLE: usize = 24;

/// Validate one flow on its own (a `goto` to another flow is checked by
/// [`validate_program`]). Empty = valid.
pub fn validate(flow: &Flow) -> Vec<FlowError> {
    let mut errors = Vec::new();
    if flow.nodes.is_empty() {
        errors.push(err(
            "",
            "nodes",
            "empty_flow",
            "a flow needs at least one node",
        ));
        return errors;
    }
    if !flow.nodes.contains_key(&flow.start) {
        errors.push(err(
            &flow.start,
            "start",
            "missing_start",
            format!("start node {:?} does not exist", flow.start),
        ));
    }
    for (i, t) in flow.triggers.iter().enumerate() {
        if let super::model::Trigger::Regex { pattern } = t {
            if let Err(e) = compile_regex(pattern) {
                errors.push(err(
                    "",
                    format!("triggers[{i}].pattern"),
                    "bad_regex",
                    e.to_string(),
                ));
            }
        }
    }
    for (id, node) in &flow.nodes {
        for (field, target) in edges(flow, node) {
            if !flow.nodes.contains_key(&target) {
                errors.push(err(
                    id,
                    field,
                    "unknown_target",
                    format!("node {target:?} does not exist"),
                ));
            }
        }
        check_node(id, node, &mut errors);
    }
    let reachable = reachable(flow);
    for id in flow.nodes.keys() {
        if !reachable.contains(id.as_str()) && flow.nodes.contains_key(&flow.start) {
            errors.push(err(
                id,
                "id",
                "unreachable",
                "no path from the start node reaches it",
            ));
        }
    }
    check_variables(flow, &reachable, &mut errors);
    errors
}

/// Validate a bot's program: every latest flow, cross-flow gotos, the default flow and
/// the business hours. Each error comes with the id of its flow ("" for the bot).
pub fn validate_program(bot: &BotProgram) -> Vec<(String, FlowError)> {
    let mut out = Vec::new();
    let mut ids: Vec<&str> = bot.flows.iter().map(|f| f.id.as_str()).collect();
    ids.dedup();
    if bot.latest(&bot.default_flow).is_none() {
        out.push((
            String::new(),
            err(
                "",
                "default_flow",
                "unknown_flow",
                format!("flow {:?} is not published", bot.default_flow),
            ),
        ));
    }
    let mut seen = BTreeSet::new();
    for f in &bot.flows {
        if !seen.insert(f.id.as_str()) {
            continue;
        }
        let Some(flow) = bot.latest(&f.id) else {
            continue;
        };
        for e in validate(flow) {
            out.push((flow.id.clone(), e));
        }
        for (id, node) in &flow.nodes {
            if let Node::Goto {
                flow: Some(target),
                node: n,
            } = node
            {
                match bot.latest(target) {
                    None => out.push((
                        flow.id.clone(),
                        err(
                            id,
                            "flow",
                            "unknown_flow",
                            format!("flow {target:?} is not published"),
                        ),
                    )),
                    Some(t) => {
                        if let Some(n) = n {
                            if !t.nodes.contains_key(n) {
                                out.push((
                                    flow.id.clone(),
                                    err(
                                        id,
                                        "node",
                                        "unknown_target",
                                        format!("node {n:?} not in flow {target:?}"),
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
        }
    }
    if let Some(h) = &bot.hours {
        if let Err(e) = template::check_template(&h.away_message) {
            out.push((
                String::new(),
                err("", "hours.away_message", "bad_template", e.to_string()),
            ));
        }
        for d in [
            &h.schedule.monday,
            &h.schedule.tuesday,
            &h.schedule.wednesday,
            &h.schedule.thursday,
            &h.schedule.friday,
            &h.schedule.saturday,
            &h.schedule.sunday,
        ]
        .into_iter()
        .flatten()
        {
            if d.spans().iter().any(|s| !s.is_valid()) {
                out.push((
                    String::new(),
                    err("", "hours.schedule", "bad_hours", "times are HH:MM"),
                ));
            }
        }
    }
    out
}

/// Outgoing edges within the flow: (field, target node).
fn edges(flow: &Flow, node: &Node) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut opt = |field: &str, t: &Option<String>| {
        if let Some(t) = t {
            out.push((field.to_string(), t.clone()));
        }
    };
    match node {
        Node::Message { next, .. } | Node::Set { next, .. } => opt("next", next),
        Node::Question { next, on_fail, .. } => {
            opt("next", next);
            opt("on_fail", on_fail);
        }
        Node::Menu {
            options, on_fail, ..
        } => {
            opt("on_fail", on_fail);
            for (i, o) in options.iter().enumerate() {
                out.push((format!("options[{i}].next"), o.next.clone()));
            }
        }
        Node::Condition {
            branches,
            otherwise,
        } => {
            for (i, b) in branches.iter().enumerate() {
                out.push((format!("branches[{i}].next"), b.next.clone()));
            }
            out.push(("else".into(), otherwise.clone()));
        }
        Node::Http { next, on_error, .. } => {
            opt("next", next);
            opt("on_error", on_error);
        }
        Node::Catalog { next, on_fail, .. } => {
            opt("next", next);
            opt("on_fail", on_fail);
        }
        Node::Order {
            next,
            on_error,
            on_empty,
            ..
        } => {
            opt("next", next);
            opt("on_error", on_error);
            opt("on_empty", on_empty);
        }
        Node::OrderStatus {
            next, on_not_found, ..
        } => {
            opt("next", next);
            opt("on_not_found", on_not_found);
        }
        Node::Handoff { next, .. } => opt("next", next),
        Node::Goto { flow: f, node: n } => {
            if f.as_ref().is_none_or(|f| *f == flow.id) {
                match n {
                    Some(n) => out.push(("node".into(), n.clone())),
                    None => out.push(("node".into(), flow.start.clone())),
                }
            }
        }
        Node::End { .. } => {}
    }
    out
}

fn reachable(flow: &Flow) -> HashSet<&str> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut queue: VecDeque<&str> = VecDeque::new();
    if let Some((k, _)) = flow.nodes.get_key_value(&flow.start) {
        queue.push_back(k);
    }
    while let Some(id) = queue.pop_front() {
        if !seen.insert(id) {
            continue;
        }
        if let Some(node) = flow.nodes.get(id) {
            for (_, t) in edges(flow, node) {
                if let Some((k, _)) = flow.nodes.get_key_value(&t) {
                    queue.push_back(k);
                }
            }
        }
    }
    seen
}

/// An identifier that no built-in name (`contact`, `cart`, ...) would shadow.
fn is_var_name(s: &str) -> bool {
    if GLOBALS.contains(&s) {
        return false;
    }
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn check_node(id: &str, node: &Node, errors: &mut Vec<FlowError>) {
    let title = |field: String, t: &str, max: usize, errors: &mut Vec<FlowError>| {
        let n = t.chars().count();
        if n == 0 || n > max {
            errors.push(err(
                id,
                field,
                "title_too_long",
                format!("titles need 1 to {max} characters, {t:?} has {n}"),
            ));
        }
    };
    match node {
        Node::Message { buttons, list, .. } => {
            if buttons.len() > MAX_BUTTONS {
                errors.push(err(
                    id,
                    "buttons",
                    "too_many_buttons",
                    format!(
                        "at most {MAX_BUTTONS} reply buttons, found {}",
                        buttons.len()
                    ),
                ));
            }
            for (i, b) in buttons.iter().enumerate() {
                title(
                    format!("buttons[{i}].title"),
                    &b.title,
                    MAX_BUTTON_TITLE,
                    errors,
                );
            }
            if let Some(l) = list {
                if !buttons.is_empty() {
                    errors.push(err(
                        id,
                        "list",
                        "buttons_and_list",
                        "use reply buttons or a list, not both",
                    ));
                }
                if l.rows.len() > MAX_ROWS || l.rows.is_empty() {
                    errors.push(err(
                        id,
                        "list.rows",
                        "too_many_rows",
                        format!("a list holds 1 to {MAX_ROWS} rows, found {}", l.rows.len()),
                    ));
                }
                title("list.button".into(), &l.button, MAX_BUTTON_TITLE, errors);
                for (i, r) in l.rows.iter().enumerate() {
                    title(
                        format!("list.rows[{i}].title"),
                        &r.title,
                        MAX_ROW_TITLE,
                        errors,
                    );
                }
            }
        }
        Node::Question { var, validate, .. } => {
            if !is_var_name(var) {
                errors.push(err(
                    id,
                    "var",
                    "bad_variable_name",
                    format!(
                        "{var:?} is not a free variable name (letters, digits, _; not a built-in)"
                    ),
                ));
            }
            match validate {
                Validator::Regex { pattern } => {
                    if let Err(e) = compile_regex(pattern) {
                        errors.push(err(id, "validate.pattern", "bad_regex", e.to_string()));
                    }
                }
                Validator::OneOf { options } => {
                    if options.is_empty() {
                        errors.push(err(
                            id,
                            "validate.options",
                            "empty_options",
                            "no options to choose from",
                        ));
                    }
                    if options.len() > MAX_ROWS {
                        errors.push(err(
                            id,
                            "validate.options",
                            "too_many_rows",
                            format!("at most {MAX_ROWS} options, found {}", options.len()),
                        ));
                    }
                    for (i, o) in options.iter().enumerate() {
                        title(
                            format!("validate.options[{i}].title"),
                            o.title(),
                            MAX_ROW_TITLE,
                            errors,
                        );
                    }
                }
                Validator::Text { min, max } => {
                    if let (Some(a), Some(b)) = (min, max) {
                        if a > b {
                            errors.push(err(id, "validate.min", "bad_range", "min is above max"));
                        }
                    }
                }
                Validator::Number { min, max, .. } => {
                    if let (Some(a), Some(b)) = (min, max) {
                        if a > b {
                            errors.push(err(id, "validate.min", "bad_range", "min is above max"));
                        }
                    }
                }
                _ => {}
            }
        }
        Node::Menu {
            options,
            var,
            button,
            ..
        } => {
            if options.is_empty() {
                errors.push(err(id, "options", "empty_options", "a menu needs options"));
            }
            if options.len() > MAX_ROWS {
                errors.push(err(
                    id,
                    "options",
                    "too_many_rows",
                    format!(
                        "a menu shows at most {MAX_ROWS} options, found {}",
                        options.len()
                    ),
                ));
            }
            let mut ids = HashSet::new();
            for (i, o) in options.iter().enumerate() {
                title(
                    format!("options[{i}].title"),
                    &o.title,
                    MAX_ROW_TITLE,
                    errors,
                );
                if !ids.insert(o.id.as_str()) {
                    errors.push(err(
                        id,
                        format!("options[{i}].id"),
                        "duplicate_option",
                        format!("{:?} repeats", o.id),
                    ));
                }
            }
            if let Some(b) = button {
                title("button".into(), b, MAX_BUTTON_TITLE, errors);
            }
            if let Some(v) = var {
                if !is_var_name(v) {
                    errors.push(err(
                        id,
                        "var",
                        "bad_variable_name",
                        format!("{v:?} is not a free variable name (letters, digits, _; not a built-in)"),
                    ));
                }
            }
        }
        Node::Set { vars, .. } => {
            for (i, a) in vars.iter().enumerate() {
                if !is_var_name(&a.var) {
                    errors.push(err(
                        id,
                        format!("vars[{i}].var"),
                        "bad_variable_name",
                        format!(
                            "{:?} is not a free variable name (letters, digits, _; not a built-in)",
                            a.var
                        ),
                    ));
                }
            }
        }
        Node::Http {
            method,
            map,
            timeout_ms,
            ..
        } => {
            if !["GET", "POST", "PUT", "PATCH", "DELETE"]
                .contains(&method.to_ascii_uppercase().as_str())
            {
                errors.push(err(
                    id,
                    "method",
                    "bad_method",
                    format!("{method:?} is not an HTTP method"),
                ));
            }
            if *timeout_ms == 0 || *timeout_ms > 30_000 {
                errors.push(err(
                    id,
                    "timeout_ms",
                    "bad_timeout",
                    "timeout must be 1..=30000 ms",
                ));
            }
            for (var, path) in map {
                if !is_var_name(var) {
                    errors.push(err(
                        id,
                        format!("map.{var}"),
                        "bad_variable_name",
                        "not a free variable name",
                    ));
                }
                if let Err(e) = parse_path(path) {
                    errors.push(err(id, format!("map.{var}"), "bad_path", e));
                }
            }
        }
        _ => {}
    }
    for (field, source, kind) in sources(node) {
        let r = match kind {
            Kind::Template => template::check_template(source),
            Kind::Expression => template::check_expression(source),
        };
        if let Err(e) = r {
            let code = match kind {
                Kind::Template => "bad_template",
                Kind::Expression => "bad_expression",
            };
            errors.push(err(id, field, code, e.to_string()));
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Template,
    Expression,
}

/// Every template and expression of a node, in the order they are evaluated.
fn sources(node: &Node) -> Vec<(String, &str, Kind)> {
    use Kind::*;
    let mut out: Vec<(String, &str, Kind)> = Vec::new();
    fn t<'n>(field: &str, s: &'n Option<String>, out: &mut Vec<(String, &'n str, Kind)>) {
        if let Some(s) = s {
            out.push((field.to_string(), s.as_str(), Kind::Template));
        }
    }
    match node {
        Node::Message { text, media, .. } => {
            out.push(("text".into(), text, Template));
            if let Some(m) = media {
                out.push(("media.url".into(), &m.url, Template));
            }
        }
        Node::Question { text, error, .. } => {
            out.push(("text".into(), text, Template));
            t("error", error, &mut out);
        }
        Node::Menu { text, error, .. } => {
            out.push(("text".into(), text, Template));
            t("error", error, &mut out);
        }
        Node::Condition { branches, .. } => {
            for (i, b) in branches.iter().enumerate() {
                out.push((format!("branches[{i}].when"), &b.when, Expression));
            }
        }
        Node::Set { vars, .. } => {
            for (i, a) in vars.iter().enumerate() {
                out.push((format!("vars[{i}].expr"), &a.expr, Expression));
            }
        }
        Node::Http {
            url, headers, body, ..
        } => {
            out.push(("url".into(), url, Template));
            for (k, v) in headers {
                out.push((format!("headers.{k}"), v, Template));
            }
            t("body", body, &mut out);
        }
        Node::Catalog {
            text,
            error,
            search,
            ..
        } => {
            t("text", text, &mut out);
            t("search", search, &mut out);
            t("error", error, &mut out);
        }
        Node::Order {
            customer_name,
            address,
            notes,
            text,
            ..
        } => {
            t("customer_name", customer_name, &mut out);
            t("address", address, &mut out);
            t("notes", notes, &mut out);
            t("text", text, &mut out);
        }
        Node::OrderStatus { number, .. } => out.push(("number".into(), number, Expression)),
        Node::Handoff { text, reason, .. } => {
            t("text", text, &mut out);
            t("reason", reason, &mut out);
        }
        Node::End { text } => t("text", text, &mut out),
        Node::Goto { .. } => {}
    }
    out
}

/// Variables a node sets (on some path out of it).
fn writes(node: &Node) -> Vec<String> {
    match node {
        Node::Question { var, .. } => vec![var.clone()],
        Node::Menu { var: Some(v), .. } => vec![v.clone()],
        Node::Set { vars, .. } => vars.iter().map(|a| a.var.clone()).collect(),
        Node::Http { map, .. } => {
            let mut v: Vec<String> = map.keys().cloned().collect();
            v.push("http_status".into());
            v.push("http_error".into());
            v
        }
        Node::Order { .. } => vec!["order".into(), "order_error".into()],
        Node::OrderStatus { .. } => vec!["order_status".into()],
        _ => Vec::new(),
    }
}

/// A variable read where no path from the start could have set it is refused.
fn check_variables(flow: &Flow, reachable: &HashSet<&str>, errors: &mut Vec<FlowError>) {
    let params: BTreeSet<String> = flow.params.iter().cloned().collect();
    // available[n] = variables some path from the start may have set on arrival at n.
    let mut available: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    available.insert(flow.start.as_str(), params.clone());
    let mut changed = true;
    while changed {
        changed = false;
        for (id, node) in &flow.nodes {
            if !reachable.contains(id.as_str()) {
                continue;
            }
            let mut out = available.get(id.as_str()).cloned().unwrap_or_default();
            out.extend(writes(node));
            for (_, target) in edges(flow, node) {
                if let Some((k, _)) = flow.nodes.get_key_value(&target) {
                    let entry = available.entry(k.as_str()).or_default();
                    let before = entry.len();
                    entry.extend(out.iter().cloned());
                    changed |= entry.len() != before;
                }
            }
        }
    }
    for (id, node) in &flow.nodes {
        if !reachable.contains(id.as_str()) {
            continue;
        }
        let mut known = available.get(id.as_str()).cloned().unwrap_or_default();
        if matches!(node, Node::Order { .. }) {
            // The confirmation text renders after the order exists.
            known.insert("order".into());
        }
        for (field, source, kind) in sources(node) {
            let names = match kind {
                Kind::Template => template::check_template(source),
                Kind::Expression => template::check_expression(source),
            };
            let Ok(names) = names else { continue };
            let mut names: Vec<String> = names.into_iter().collect();
            names.sort();
            for name in names {
                if !GLOBALS.contains(&name.as_str()) && !known.contains(&name) {
                    errors.push(err(
                        id,
                        field.clone(),
                        "undefined_variable",
                        format!("{name:?} is read before any node sets it"),
                    ));
                }
            }
            // A set node's later assignments may read earlier ones.
            if let (Node::Set { vars, .. }, Kind::Expression) = (node, kind) {
                if let Some(a) = vars.iter().find(|a| a.expr == source) {
                    known.insert(a.var.clone());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::engine::model::GlobalCommands;

    fn flow(nodes: Value) -> Flow {
        serde_json::from_value(
            json!({"id": "f", "version": 1, "name": "F", "start": "a", "nodes": nodes}),
        )
        .expect("test flow json")
    }

    /// The (node, field, code) triples of a flow's errors.
    fn problems(nodes: Value) -> Vec<(String, String, String)> {
        validate(&flow(nodes))
            .into_iter()
            .map(|e| (e.node, e.field, e.code))
            .collect()
    }

    fn has(nodes: Value, node: &str, field: &str, code: &str) {
        let p = problems(nodes);
        assert!(
            p.contains(&(node.into(), field.into(), code.into())),
            "expected ({node}, {field}, {code}) in {p:?}"
        );
    }

    #[test]
    fn a_sound_flow_has_no_errors() {
        let p = problems(json!({
            "a": {"type": "question", "text": "¿Nombre?", "var": "n", "next": "b"},
            "b": {"type": "end", "text": "Hola {{ n }} {{ contact.name }} {{ cart_total | money }}"}
        }));
        assert_eq!(p, vec![]);
    }

    #[test]
    fn a_missing_start_node_is_rejected() {
        let mut f = flow(json!({"a": {"type": "end"}}));
        f.start = "inicio".into();
        let e = validate(&f);
        assert!(e
            .iter()
            .any(|e| e.node == "inicio" && e.field == "start" && e.code == "missing_start"));
    }

    #[test]
    fn unknown_targets_are_rejected_naming_the_field() {
        has(
            json!({"a": {"type": "message", "text": "x", "next": "zz"}}),
            "a",
            "next",
            "unknown_target",
        );
        has(
            json!({"a": {"type": "menu", "text": "m", "options": [
                {"id": "1", "title": "Uno", "next": "a"}, {"id": "2", "title": "Dos", "next": "nope"}]}}),
            "a",
            "options[1].next",
            "unknown_target",
        );
        has(
            json!({"a": {"type": "condition", "branches": [], "else": "nope"}}),
            "a",
            "else",
            "unknown_target",
        );
    }

    #[test]
    fn unreachable_nodes_are_rejected() {
        has(
            json!({"a": {"type": "end"}, "island": {"type": "end"}}),
            "island",
            "id",
            "unreachable",
        );
    }

    #[test]
    fn more_than_three_reply_buttons_are_rejected() {
        let b: Vec<Value> = (0..4)
            .map(|i| json!({"id": format!("b{i}"), "title": "T"}))
            .collect();
        has(
            json!({"a": {"type": "message", "text": "x", "buttons": b}}),
            "a",
            "buttons",
            "too_many_buttons",
        );
    }

    #[test]
    fn more_than_ten_list_rows_are_rejected() {
        let rows: Vec<Value> = (0..11)
            .map(|i| json!({"id": format!("r{i}"), "title": "T"}))
            .collect();
        has(
            json!({"a": {"type": "message", "text": "x", "list": {"button": "Ver", "rows": rows}}}),
            "a",
            "list.rows",
            "too_many_rows",
        );
        let opts: Vec<Value> = (0..11)
            .map(|i| json!({"id": format!("o{i}"), "title": format!("Opción {i}"), "next": "a"}))
            .collect();
        has(
            json!({"a": {"type": "menu", "text": "m", "options": opts}}),
            "a",
            "options",
            "too_many_rows",
        );
    }

    #[test]
    fn button_titles_over_twenty_characters_are_rejected() {
        has(
            json!({"a": {"type": "message", "text": "x", "buttons": [
                {"id": "ok", "title": "Corto"}, {"id": "long", "title": "Un título demasiado largo"}]}}),
            "a",
            "buttons[1].title",
            "title_too_long",
        );
    }

    #[test]
    fn a_bad_regex_is_rejected_in_questions_and_triggers() {
        has(
            json!({"a": {"type": "question", "text": "x", "var": "v", "validate": {"kind": "regex", "pattern": "([a-z"}}}),
            "a",
            "validate.pattern",
            "bad_regex",
        );
        let mut f = flow(json!({"a": {"type": "end"}}));
        f.triggers = vec![crate::engine::model::Trigger::Regex {
            pattern: "(".into(),
        }];
        assert!(validate(&f)
            .iter()
            .any(|e| e.field == "triggers[0].pattern" && e.code == "bad_regex"));
    }

    #[test]
    fn bad_expressions_are_rejected_with_the_node_id() {
        has(
            json!({"a": {"type": "condition", "branches": [{"when": "cart_total >", "next": "b"}], "else": "b"},
                   "b": {"type": "end"}}),
            "a",
            "branches[0].when",
            "bad_expression",
        );
        has(
            json!({"a": {"type": "set", "vars": [{"var": "x", "expr": "1 +* 2"}]}}),
            "a",
            "vars[0].expr",
            "bad_expression",
        );
    }

    #[test]
    fn bad_templates_are_rejected_with_the_node_id() {
        has(
            json!({"a": {"type": "message", "text": "Hola {{ contact.name "}}),
            "a",
            "text",
            "bad_template",
        );
        has(
            json!({"a": {"type": "http", "url": "https://x.pe/{% if %}", "next": "b"}, "b": {"type": "end"}}),
            "a",
            "url",
            "bad_template",
        );
    }

    #[test]
    fn variables_read_before_any_node_sets_them_are_rejected() {
        has(
            json!({"a": {"type": "message", "text": "Hola {{ nombre }}", "next": "b"},
                   "b": {"type": "question", "text": "¿Nombre?", "var": "nombre"}}),
            "a",
            "text",
            "undefined_variable",
        );
        has(
            json!({"a": {"type": "condition", "branches": [{"when": "edad > 18", "next": "b"}], "else": "b"},
                   "b": {"type": "end"}}),
            "a",
            "branches[0].when",
            "undefined_variable",
        );
    }

    #[test]
    fn a_variable_set_on_some_path_before_the_read_is_accepted() {
        let p = problems(json!({
            "a": {"type": "menu", "text": "m", "options": [
                {"id": "1", "title": "Uno", "next": "q"}, {"id": "2", "title": "Dos", "next": "b"}]},
            "q": {"type": "question", "text": "¿Ciudad?", "var": "ciudad", "next": "b"},
            "b": {"type": "end", "text": "{{ ciudad }}"}
        }));
        assert_eq!(p, vec![]);
        let mut f = flow(json!({"a": {"type": "end", "text": "{{ desde_otro_flujo }}"}}));
        f.params = vec!["desde_otro_flujo".into()];
        assert_eq!(validate(&f), vec![]);
    }

    #[test]
    fn set_assignments_may_read_earlier_ones() {
        let p = problems(json!({"a": {"type": "set", "vars": [
            {"var": "x", "expr": "2"}, {"var": "y", "expr": "x * 3"}], "next": "b"},
            "b": {"type": "end", "text": "{{ y }}"}}));
        assert_eq!(p, vec![]);
    }

    #[test]
    fn variables_may_not_shadow_built_in_names() {
        has(
            json!({"a": {"type": "question", "text": "x", "var": "cart"}}),
            "a",
            "var",
            "bad_variable_name",
        );
        has(
            json!({"a": {"type": "set", "vars": [{"var": "mi-var", "expr": "1"}]}}),
            "a",
            "vars[0].var",
            "bad_variable_name",
        );
    }

    #[test]
    fn http_nodes_check_method_timeout_and_paths() {
        let p = problems(
            json!({"a": {"type": "http", "method": "FETCH", "url": "https://x.pe", "timeout_ms": 0,
            "map": {"n": "data..x"}}}),
        );
        for code in ["bad_method", "bad_timeout", "bad_path"] {
            assert!(
                p.iter().any(|(n, _, c)| n == "a" && c == code),
                "{code} in {p:?}"
            );
        }
    }

    #[test]
    fn a_program_refuses_an_unknown_default_flow_and_goto_flow() {
        let f = flow(json!({"a": {"type": "goto", "flow": "fantasma"}}));
        let bot = BotProgram {
            flows: vec![f],
            default_flow: "nada".into(),
            commands: GlobalCommands::default(),
            hours: None,
            idle_timeout_secs: 60,
        };
        let e = validate_program(&bot);
        assert!(e
            .iter()
            .any(|(_, e)| e.field == "default_flow" && e.code == "unknown_flow"));
        assert!(e
            .iter()
            .any(|(f, e)| f == "f" && e.node == "a" && e.field == "flow"));
    }
}
