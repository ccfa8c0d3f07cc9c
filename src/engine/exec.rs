//! The step function: one input in, the next session and the effects out. Pure.

use chrono::Duration;
use serde_json::{json, Map, Value};

use super::context::{Ctx, ProductView};
use super::effect::{Effect, Outcome};
use super::http::{http_target_allowed, json_path};
use super::input::Input;
use super::model::{
    BotProgram, CartLine, CatalogStage, Flow, MenuOption, Node, Session, SessionStatus, Trigger,
    Validator, Waiting,
};
use super::template;
use super::validators::{self, compile_regex, normalize, Locale};
use crate::messages::{Button, Content, ListRow, ListSection};

/// Nodes run in one step before we assume a loop (goto/condition cycles without a wait).
const MAX_HOPS: usize = 64;
/// Rows a list message holds (WhatsApp's limit).
const LIST_ROWS: usize = 10;
const MAX_QTY: i64 = 999;

/// Run one step of a conversation. `session` is what the last step returned (None for a
/// new conversation); time comes from `ctx.now`.
pub fn step(bot: &BotProgram, session: Option<&Session>, input: &Input, ctx: &Ctx) -> Outcome {
    let mut run = Run {
        bot,
        ctx,
        effects: Vec::new(),
        input_text: input.text().map(str::to_string),
    };
    let session = run.step(session.cloned(), input);
    Outcome {
        session,
        effects: run.effects,
    }
}

/// What to do after a node ran or handled an answer.
enum Next {
    /// Continue at this node; None = the flow is finished.
    Go(Option<String>),
    /// Jump to another flow (its start or a node of it).
    Switch { flow: String, node: Option<String> },
    /// Pause here until the session's `waiting` is satisfied.
    Wait,
    /// Drop the session without calling the flow completed (failure, stop).
    Drop,
    /// The flow ended on purpose.
    End,
}

struct Run<'a, 'c> {
    bot: &'a BotProgram,
    ctx: &'c Ctx<'c>,
    effects: Vec<Effect>,
    /// What the customer just wrote (or tapped), as `{{ input }}` in templates.
    input_text: Option<String>,
}

impl<'a> Run<'a, '_> {
    fn step(&mut self, session: Option<Session>, input: &Input) -> Option<Session> {
        match input {
            Input::Released => return self.released(session),
            Input::OrderResult { .. } | Input::OrderStatus { .. } | Input::HttpResult { .. } => {
                return self.system_result(session, input)
            }
            Input::Unsupported { .. } => return session,
            _ => {}
        }
        let now = self.ctx.now;
        let mut session = session;
        if let Some(s) = &session {
            let idle = i64::try_from(self.bot.idle_timeout_secs)
                .ok()
                .and_then(Duration::try_seconds)
                .unwrap_or(Duration::MAX);
            if now.signed_duration_since(s.last_activity_at) > idle {
                if s.status != SessionStatus::Ended {
                    self.effects.push(Effect::SessionExpired);
                }
                session = None;
            }
        }
        if let Some(s) = session.as_mut() {
            s.last_activity_at = now;
            if s.status == SessionStatus::Human {
                // A person has the conversation: the bot stays silent.
                return session;
            }
        }
        if let Some(hours) = &self.bot.hours {
            if !hours.is_open(now, self.ctx.tenant.tz) {
                let mut s = session.unwrap_or_else(|| self.parked());
                let every = Duration::hours(i64::from(hours.away_every_hours));
                if s.away_sent_at
                    .is_none_or(|t| now.signed_duration_since(t) >= every)
                {
                    let body = self.render_or_log(&s, "", &hours.away_message);
                    self.effects.push(Effect::Away);
                    self.send_text(body);
                    s.away_sent_at = Some(now);
                }
                return Some(s);
            }
        }
        if let Some(next) = self.global_command(session.as_ref(), input) {
            return next;
        }
        match session {
            Some(s) if s.status == SessionStatus::Bot && s.waiting == Waiting::Input => {
                self.answer(s, input)
            }
            // Waiting for an order or API result: the customer's message does not move the flow.
            Some(s) if s.status == SessionStatus::Bot && s.waiting != Waiting::None => Some(s),
            other => {
                let flow_id = self
                    .triggered_flow(input)
                    .unwrap_or_else(|| self.bot.default_flow.clone());
                self.start(other, &flow_id)
            }
        }
    }

    /// A placeholder session that only remembers the away message and the cart.
    fn parked(&self) -> Session {
        Session {
            flow_id: String::new(),
            flow_version: 0,
            node: String::new(),
            vars: Map::new(),
            cart: Vec::new(),
            retries: 0,
            waiting: Waiting::None,
            status: SessionStatus::Ended,
            started_at: self.ctx.now,
            last_activity_at: self.ctx.now,
            away_sent_at: None,
            catalog: None,
        }
    }

    fn global_command(
        &mut self,
        session: Option<&Session>,
        input: &Input,
    ) -> Option<Option<Session>> {
        let text = normalize(input.text()?);
        let is = |words: &[String]| words.iter().any(|w| normalize(w) == text);
        let cmds = &self.bot.commands;
        if is(&cmds.stop) {
            self.send_text(cmds.goodbye.clone());
            return Some(None);
        }
        if is(&cmds.agent) {
            let mut s = session.cloned().unwrap_or_else(|| self.parked());
            s.status = SessionStatus::Human;
            s.waiting = Waiting::Human;
            s.catalog = None;
            self.send_text(cmds.handoff_text.clone());
            self.effects.push(Effect::Handoff {
                reason: Some("customer asked for a person".into()),
            });
            return Some(Some(s));
        }
        if is(&cmds.menu) {
            let default = self.bot.default_flow.clone();
            return Some(self.start(session.cloned(), &default));
        }
        None
    }

    fn triggered_flow(&self, input: &Input) -> Option<String> {
        let text = input.text()?;
        let norm = format!(" {} ", normalize(text));
        let mut seen: Vec<&str> = Vec::new();
        for flow in &self.bot.flows {
            if seen.contains(&flow.id.as_str()) {
                continue;
            }
            seen.push(&flow.id);
            let latest = self.bot.latest(&flow.id)?;
            let hit = latest.triggers.iter().any(|t| match t {
                Trigger::Keyword { words } => words.iter().any(|w| {
                    let w = normalize(w);
                    !w.is_empty() && norm.contains(&format!(" {w} "))
                }),
                Trigger::Regex { pattern } => {
                    compile_regex(pattern).is_ok_and(|re| re.is_match(text))
                }
            });
            if hit {
                return Some(latest.id.clone());
            }
        }
        None
    }

    /// Start a flow afresh; the cart and the away memo survive from `previous`.
    fn start(&mut self, previous: Option<Session>, flow_id: &str) -> Option<Session> {
        let Some(flow) = self.bot.latest(flow_id) else {
            self.effects.push(Effect::Error {
                flow_id: flow_id.to_string(),
                node: String::new(),
                message: "flow not published".into(),
            });
            return None;
        };
        let mut s = Session::new(flow, self.ctx.now);
        if let Some(p) = previous {
            s.cart = p.cart;
            s.away_sent_at = p.away_sent_at;
        }
        self.effects.push(Effect::FlowStarted {
            flow_id: flow.id.clone(),
        });
        let start = flow.start.clone();
        self.run(s, Some(start))
    }

    fn flow_of(&self, s: &Session) -> Option<&'a Flow> {
        self.bot.version(&s.flow_id, s.flow_version)
    }

    /// Run nodes from `target` until one waits or the flow ends.
    fn run(&mut self, mut s: Session, mut target: Option<String>) -> Option<Session> {
        for _ in 0..MAX_HOPS {
            let Some(node_id) = target.take() else {
                self.effects.push(Effect::FlowCompleted {
                    flow_id: s.flow_id.clone(),
                });
                return None;
            };
            let Some(flow) = self.flow_of(&s) else {
                self.error(&s, &node_id, "flow not published");
                return None;
            };
            let Some(node) = flow.nodes.get(&node_id) else {
                self.error(&s, &node_id, "unknown node");
                return None;
            };
            s.node = node_id;
            s.retries = 0;
            s.waiting = Waiting::None;
            s.catalog = None;
            match self.enter(&mut s, node) {
                Next::Go(t) => target = t,
                Next::Wait => return Some(s),
                Next::Drop => return None,
                Next::End => {
                    self.effects.push(Effect::FlowCompleted {
                        flow_id: s.flow_id.clone(),
                    });
                    return None;
                }
                Next::Switch { flow, node } => match self.switch(&mut s, &flow, node) {
                    Some(t) => target = Some(t),
                    None => return None,
                },
            }
        }
        let node = s.node.clone();
        self.error(&s, &node, "too many steps without waiting (a loop?)");
        None
    }

    /// Move the session to the newest version of another flow; returns the node to run.
    fn switch(&mut self, s: &mut Session, flow: &str, node: Option<String>) -> Option<String> {
        let Some(f) = self.bot.latest(flow) else {
            let n = s.node.clone();
            self.error(s, &n, &format!("goto: flow {flow} not published"));
            return None;
        };
        s.flow_id = f.id.clone();
        s.flow_version = f.version;
        self.effects.push(Effect::FlowStarted {
            flow_id: f.id.clone(),
        });
        Some(node.unwrap_or_else(|| f.start.clone()))
    }

    /// Run a node on arrival.
    fn enter(&mut self, s: &mut Session, node: &Node) -> Next {
        match node {
            Node::Message {
                text,
                media,
                buttons,
                list,
                next,
            } => {
                let body = self.render(s, text);
                let content = if let Some(m) = media {
                    Some(Content::Media {
                        kind: m.kind,
                        url: self.render(s, &m.url),
                        caption: (!body.is_empty()).then_some(body),
                        filename: m.filename.clone(),
                    })
                } else if !buttons.is_empty() {
                    Some(Content::Buttons {
                        body,
                        header: None,
                        footer: None,
                        buttons: buttons
                            .iter()
                            .map(|b| Button {
                                id: b.id.clone(),
                                title: b.title.clone(),
                            })
                            .collect(),
                    })
                } else if let Some(l) = list {
                    Some(Content::List {
                        body,
                        header: None,
                        footer: None,
                        button: l.button.clone(),
                        sections: vec![ListSection {
                            title: String::new(),
                            rows: l
                                .rows
                                .iter()
                                .map(|r| ListRow {
                                    id: r.id.clone(),
                                    title: r.title.clone(),
                                    description: r.description.clone(),
                                })
                                .collect(),
                        }],
                    })
                } else if !body.is_empty() {
                    Some(Content::Text { body })
                } else {
                    None
                };
                if let Some(c) = content {
                    self.effects.push(Effect::Send(c));
                }
                Next::Go(next.clone())
            }
            Node::Question { text, validate, .. } => {
                let body = self.render(s, text);
                self.effects
                    .push(Effect::Send(question_content(body, validate)));
                s.waiting = Waiting::Input;
                Next::Wait
            }
            Node::Menu {
                text,
                options,
                button,
                ..
            } => {
                let body = self.render(s, text);
                self.effects
                    .push(Effect::Send(menu_content(body, options, button.as_deref())));
                s.waiting = Waiting::Input;
                Next::Wait
            }
            Node::Condition {
                branches,
                otherwise,
            } => {
                let scope = self.scope(s);
                for b in branches {
                    match template::truthy(&b.when, &scope) {
                        Ok(true) => return Next::Go(Some(b.next.clone())),
                        Ok(false) => {}
                        Err(e) => {
                            self.error(s, &s.node.clone(), &format!("when {:?}: {e}", b.when))
                        }
                    }
                }
                Next::Go(Some(otherwise.clone()))
            }
            Node::Set { vars, next } => {
                for a in vars {
                    let scope = self.scope(s);
                    let value = template::eval(&a.expr, &scope).unwrap_or_else(|e| {
                        self.error(s, &s.node.clone(), &format!("{}: {e}", a.var));
                        Value::Null
                    });
                    s.vars.insert(a.var.clone(), value);
                }
                Next::Go(next.clone())
            }
            Node::Http {
                method,
                url,
                headers,
                body,
                timeout_ms,
                next,
                on_error,
                ..
            } => {
                let url = self.render(s, url);
                if let Err(why) = http_target_allowed(&url, self.ctx.tenant.allow_private_http) {
                    s.vars.insert("http_error".into(), Value::String(why));
                    s.vars.insert("http_status".into(), Value::Null);
                    return Next::Go(on_error.clone().or_else(|| next.clone()));
                }
                let headers = headers
                    .iter()
                    .map(|(k, v)| (k.clone(), self.render(s, v)))
                    .collect();
                let body = body.as_ref().map(|b| self.render(s, b));
                self.effects.push(Effect::Http {
                    method: method.to_ascii_uppercase(),
                    url,
                    headers,
                    body,
                    timeout_ms: *timeout_ms,
                });
                s.waiting = Waiting::HttpResult;
                Next::Wait
            }
            Node::Catalog {
                category, on_fail, ..
            } => {
                let stage = self.catalog_home(category.as_deref());
                if self
                    .ctx
                    .catalog
                    .products(category.as_deref(), None, 1)
                    .is_empty()
                {
                    self.send_text("Por ahora no tenemos productos disponibles.".into());
                    return if on_fail.is_some() {
                        Next::Go(on_fail.clone())
                    } else {
                        Next::Drop
                    };
                }
                self.show_catalog(s, node, stage, None);
                Next::Wait
            }
            Node::Order {
                customer_name,
                address,
                notes,
                on_empty,
                on_error,
                ..
            } => {
                if s.cart.is_empty() {
                    self.send_text("Tu carrito está vacío.".into());
                    s.vars.insert("order_error".into(), json!("empty cart"));
                    let t = on_empty.clone().or_else(|| on_error.clone());
                    return if t.is_some() { Next::Go(t) } else { Next::Drop };
                }
                let mut opt = |t: &Option<String>| {
                    t.as_ref()
                        .map(|t| self.render(s, t).trim().to_string())
                        .filter(|v| !v.is_empty())
                };
                let effect = Effect::CreateOrder {
                    lines: s.cart.clone(),
                    customer_name: opt(customer_name),
                    address: opt(address),
                    notes: opt(notes),
                };
                self.effects.push(effect);
                s.waiting = Waiting::OrderResult;
                Next::Wait
            }
            Node::OrderStatus {
                number,
                next,
                on_not_found,
            } => {
                let scope = self.scope(s);
                let n = match template::eval(number, &scope) {
                    Ok(v) => as_order_number(&v),
                    Err(e) => {
                        self.error(s, &s.node.clone(), &format!("number: {e}"));
                        None
                    }
                };
                match n {
                    Some(n) => {
                        self.effects.push(Effect::LookupOrder { number: n });
                        s.waiting = Waiting::OrderStatus;
                        Next::Wait
                    }
                    None => {
                        s.vars
                            .insert("order_status".into(), json!({"found": false}));
                        Next::Go(on_not_found.clone().or_else(|| next.clone()))
                    }
                }
            }
            Node::Handoff { text, reason, .. } => {
                if let Some(t) = text {
                    let body = self.render(s, t);
                    self.send_text(body);
                }
                let reason = reason.as_ref().map(|r| self.render(s, r));
                self.effects.push(Effect::Handoff { reason });
                s.status = SessionStatus::Human;
                s.waiting = Waiting::Human;
                Next::Wait
            }
            Node::Goto { flow, node } => match flow {
                Some(f) if *f != s.flow_id => Next::Switch {
                    flow: f.clone(),
                    node: node.clone(),
                },
                _ => Next::Go(
                    node.clone()
                        .or_else(|| self.flow_of(s).map(|f| f.start.clone())),
                ),
            },
            Node::End { text } => {
                if let Some(t) = text {
                    let body = self.render(s, t);
                    self.send_text(body);
                }
                Next::End
            }
        }
    }

    /// A customer's message for the node the session waits on.
    fn answer(&mut self, mut s: Session, input: &Input) -> Option<Session> {
        let Some(flow) = self.flow_of(&s) else {
            let default = self.bot.default_flow.clone();
            return self.start(Some(s), &default);
        };
        let Some(node) = flow.nodes.get(&s.node) else {
            let default = self.bot.default_flow.clone();
            return self.start(Some(s), &default);
        };
        let next = match node {
            Node::Question {
                text,
                var,
                validate,
                error,
                max_retries,
                on_fail,
                next,
            } => {
                let loc = Locale {
                    locale: &self.ctx.tenant.locale,
                    country: &self.ctx.tenant.country,
                };
                match validators::check(validate, input.text(), input.picked(), loc) {
                    Ok(v) => {
                        s.vars.insert(var.clone(), v);
                        Next::Go(next.clone())
                    }
                    Err(_) => {
                        let body = error.as_ref().unwrap_or(text).clone();
                        let default_error = "Respuesta no válida. Inténtalo de nuevo.";
                        self.retry(&mut s, *max_retries, on_fail, |run, s| {
                            let body = if error.is_some() {
                                run.render(s, &body)
                            } else {
                                format!("{default_error}\n{}", run.render(s, &body))
                            };
                            question_content(body, validate)
                        })
                    }
                }
            }
            Node::Menu {
                text,
                options,
                button,
                var,
                error,
                max_retries,
                on_fail,
            } => {
                let items: Vec<(&str, &str, &[String])> = options
                    .iter()
                    .map(|o| (o.id.as_str(), o.title.as_str(), o.synonyms.as_slice()))
                    .collect();
                match validators::pick(&items, input.text(), input.picked())
                    .and_then(|i| options.get(i))
                {
                    Some(o) => {
                        if let Some(v) = var {
                            s.vars.insert(v.clone(), Value::String(o.id.clone()));
                        }
                        Next::Go(Some(o.next.clone()))
                    }
                    None => self.retry(&mut s, *max_retries, on_fail, |run, s| {
                        let body = match error {
                            Some(e) => run.render(s, e),
                            None => format!("No entendí tu elección.\n{}", run.render(s, text)),
                        };
                        menu_content(body, options, button.as_deref())
                    }),
                }
            }
            Node::Catalog { .. } => self.catalog_answer(&mut s, node, input),
            // Nothing else waits for a message; run the node again.
            _ => Next::Go(Some(s.node.clone())),
        };
        self.follow(s, next)
    }

    /// Apply a `Next` computed while the session sits on its current node.
    fn follow(&mut self, s: Session, next: Next) -> Option<Session> {
        match next {
            Next::Wait => Some(s),
            Next::Drop => None,
            Next::End => {
                self.effects.push(Effect::FlowCompleted {
                    flow_id: s.flow_id.clone(),
                });
                None
            }
            Next::Go(t) => self.run(s, t),
            Next::Switch { flow, node } => {
                let mut s = s;
                let target = self.switch(&mut s, &flow, node)?;
                self.run(s, Some(target))
            }
        }
    }

    /// Invalid answer: re-ask (up to `max` times), then follow `on_fail` (or drop).
    fn retry(
        &mut self,
        s: &mut Session,
        max: u32,
        on_fail: &Option<String>,
        reask: impl FnOnce(&mut Self, &Session) -> Content,
    ) -> Next {
        if s.retries >= max {
            return match on_fail {
                Some(t) => Next::Go(Some(t.clone())),
                None => {
                    self.send_text(
                        "No pude entender tu respuesta. Escribe *menu* para empezar de nuevo."
                            .into(),
                    );
                    Next::Drop
                }
            };
        }
        s.retries += 1;
        let c = reask(self, s);
        self.effects.push(Effect::Send(c));
        Next::Wait
    }

    // ---- catalog ------------------------------------------------------------------

    fn catalog_home(&self, category: Option<&str>) -> CatalogStage {
        if category.is_some() || self.ctx.catalog.categories().is_empty() {
            CatalogStage::Products {
                category: category.map(str::to_string),
                page: 0,
            }
        } else {
            CatalogStage::Categories { page: 0 }
        }
    }

    /// Send the view of a catalog stage (with `error` as its body when re-asking).
    fn show_catalog(
        &mut self,
        s: &mut Session,
        node: &Node,
        stage: CatalogStage,
        error: Option<String>,
    ) {
        let (intro, _) = catalog_texts(node);
        let cur = &self.ctx.tenant.currency;
        let content = match &stage {
            CatalogStage::Categories { page } => {
                let cats = self.ctx.catalog.categories();
                let (rows, _) = category_rows(&cats, *page, !s.cart.is_empty());
                let body = error.unwrap_or_else(|| match intro {
                    Some(t) => self.render(s, t),
                    None => "¿Qué te gustaría ver? Elige una categoría:".into(),
                });
                list(body, "Ver categorías", rows)
            }
            CatalogStage::Products { category, page } => {
                let search = self.catalog_search(s, node);
                let (products, more) = self.product_page(
                    category.as_deref(),
                    search.as_deref(),
                    *page,
                    !s.cart.is_empty(),
                );
                let rows = product_rows(&products, more, !s.cart.is_empty(), cur);
                let home = self.catalog_home(node_category(node)) == stage;
                let body = error.unwrap_or_else(|| match (intro, category) {
                    (Some(t), _) if home => self.render(s, t),
                    (_, Some(c)) => format!("Productos de {c}:"),
                    _ => "Nuestros productos:".into(),
                });
                list(body, "Ver productos", rows)
            }
            CatalogStage::Quantity { product_id } => {
                let body = match (error, self.ctx.catalog.product(product_id)) {
                    (Some(e), _) => e,
                    (None, Some(p)) => format!(
                        "¿Cuántas unidades de {} quieres? ({} c/u)",
                        p.name,
                        template::format_money(p.price_minor, &p.currency)
                    ),
                    (None, None) => "¿Cuántas unidades quieres?".into(),
                };
                Content::Text { body }
            }
            CatalogStage::AfterAdd => Content::Buttons {
                body: error.unwrap_or_else(|| "¿Qué deseas hacer ahora?".into()),
                header: None,
                footer: None,
                buttons: after_add_buttons(),
            },
        };
        self.effects.push(Effect::Send(content));
        s.catalog = Some(stage);
        s.waiting = Waiting::Input;
    }

    fn product_page(
        &self,
        category: Option<&str>,
        search: Option<&str>,
        page: usize,
        cart: bool,
    ) -> (Vec<ProductView>, bool) {
        let per = per_page(cart);
        let all = self.ctx.catalog.products(
            category,
            search,
            (page + 1).saturating_mul(per).saturating_add(1),
        );
        let more = all.len() > (page.saturating_add(1)).saturating_mul(per);
        (all.into_iter().skip(page * per).take(per).collect(), more)
    }

    /// The node's search template, rendered (None when absent or empty).
    fn catalog_search(&mut self, s: &Session, node: &Node) -> Option<String> {
        let Node::Catalog {
            search: Some(t), ..
        } = node
        else {
            return None;
        };
        Some(self.render(s, t).trim().to_string()).filter(|q| !q.is_empty())
    }

    fn catalog_answer(&mut self, s: &mut Session, node: &Node, input: &Input) -> Next {
        let Node::Catalog {
            category,
            max_retries,
            on_fail,
            next,
            ..
        } = node
        else {
            return Next::Drop;
        };
        let stage = s
            .catalog
            .clone()
            .unwrap_or_else(|| self.catalog_home(category.as_deref()));
        let cart = !s.cart.is_empty();
        let (_, error_text) = catalog_texts(node);
        let choose_error = error_text
            .map(|e| self.render(s, e))
            .unwrap_or_else(|| "No entendí tu elección. Elige una opción de la lista:".into());
        let checkout = || Next::Go(next.clone());
        let moved = |run: &mut Self, s: &mut Session, st: CatalogStage| {
            s.retries = 0;
            run.show_catalog(s, node, st, None);
            Next::Wait
        };
        match &stage {
            CatalogStage::Categories { page } => {
                let cats = self.ctx.catalog.categories();
                let (rows, _) = category_rows(&cats, *page, cart);
                match pick_row(&rows, input) {
                    Some(id) if id == "more" => {
                        moved(self, s, CatalogStage::Categories { page: page + 1 })
                    }
                    Some(id) if id == "checkout" => checkout(),
                    Some(id) => {
                        let cat = id.strip_prefix("cat:").unwrap_or(&id).to_string();
                        moved(
                            self,
                            s,
                            CatalogStage::Products {
                                category: Some(cat),
                                page: 0,
                            },
                        )
                    }
                    None => self.catalog_retry(s, node, stage, choose_error, *max_retries, on_fail),
                }
            }
            CatalogStage::Products { category: c, page } => {
                let search = self.catalog_search(s, node);
                let (products, more) =
                    self.product_page(c.as_deref(), search.as_deref(), *page, cart);
                let rows = product_rows(&products, more, cart, &self.ctx.tenant.currency);
                match pick_row(&rows, input) {
                    Some(id) if id == "more" => moved(
                        self,
                        s,
                        CatalogStage::Products {
                            category: c.clone(),
                            page: page + 1,
                        },
                    ),
                    Some(id) if id == "checkout" => checkout(),
                    Some(id) => {
                        let pid = id.strip_prefix("prod:").unwrap_or(&id).to_string();
                        match self.ctx.catalog.product(&pid) {
                            Some(p) if p.stock.is_some_and(|n| n <= 0) => {
                                let msg = format!(
                                    "Lo sentimos, {} está agotado. Elige otro producto:",
                                    p.name
                                );
                                self.catalog_retry(s, node, stage, msg, *max_retries, on_fail)
                            }
                            Some(_) => moved(self, s, CatalogStage::Quantity { product_id: pid }),
                            None => self.catalog_retry(
                                s,
                                node,
                                stage,
                                choose_error,
                                *max_retries,
                                on_fail,
                            ),
                        }
                    }
                    None => self.catalog_retry(s, node, stage, choose_error, *max_retries, on_fail),
                }
            }
            CatalogStage::Quantity { product_id } => {
                let Some(p) = self.ctx.catalog.product(product_id) else {
                    self.send_text("Ese producto ya no está disponible.".into());
                    let home = self.catalog_home(category.as_deref());
                    return moved(self, s, home);
                };
                let qty = input
                    .text()
                    .and_then(|t| {
                        let comma = validators::decimal_comma(&self.ctx.tenant.locale);
                        validators::parse_number(t, comma)
                    })
                    .filter(|n| n.fract() == 0.0 && *n >= 1.0 && *n <= MAX_QTY as f64)
                    .map(|n| n as i64);
                let Some(qty) = qty else {
                    let msg = "Escribe una cantidad válida, por ejemplo 1 o 2.".to_string();
                    return self.catalog_retry(s, node, stage, msg, *max_retries, on_fail);
                };
                let in_cart: i64 = s
                    .cart
                    .iter()
                    .filter(|l| l.product_id == p.id)
                    .map(|l| l.qty)
                    .sum();
                if let Some(stock) = p.stock {
                    if in_cart + qty > stock {
                        let left = (stock - in_cart).max(0);
                        let msg = format!(
                            "Solo nos quedan {left} unidades de {}. ¿Cuántas quieres?",
                            p.name
                        );
                        return self.catalog_retry(s, node, stage, msg, *max_retries, on_fail);
                    }
                }
                add_to_cart(&mut s.cart, &p, qty);
                let total = s.cart_total_minor();
                let body = format!(
                    "Agregué {qty} × {} ({}) a tu carrito.\nTotal del carrito: {}",
                    p.name,
                    template::format_money(p.price_minor.saturating_mul(qty), &p.currency),
                    template::format_money(total, &p.currency)
                );
                s.retries = 0;
                s.catalog = Some(CatalogStage::AfterAdd);
                self.effects.push(Effect::Send(Content::Buttons {
                    body,
                    header: None,
                    footer: None,
                    buttons: after_add_buttons(),
                }));
                Next::Wait
            }
            CatalogStage::AfterAdd => {
                let syn_more: Vec<String> = vec!["seguir".into(), "mas".into(), "continuar".into()];
                let syn_pay: Vec<String> = vec![
                    "finalizar".into(),
                    "pagar".into(),
                    "comprar".into(),
                    "checkout".into(),
                ];
                let items: Vec<(&str, &str, &[String])> = vec![
                    ("more_products", "Seguir comprando", syn_more.as_slice()),
                    ("checkout", "Finalizar compra", syn_pay.as_slice()),
                ];
                match validators::pick(&items, input.text(), input.picked()) {
                    Some(0) => {
                        let home = self.catalog_home(category.as_deref());
                        moved(self, s, home)
                    }
                    Some(_) => checkout(),
                    None => self.catalog_retry(s, node, stage, choose_error, *max_retries, on_fail),
                }
            }
        }
    }

    fn catalog_retry(
        &mut self,
        s: &mut Session,
        node: &Node,
        stage: CatalogStage,
        msg: String,
        max: u32,
        on_fail: &Option<String>,
    ) -> Next {
        if s.retries >= max {
            return self.retry(s, max, on_fail, |_, _| Content::Text {
                body: String::new(),
            });
        }
        s.retries += 1;
        self.show_catalog(s, node, stage, Some(msg));
        Next::Wait
    }

    // ---- results fed back by the glue ---------------------------------------------

    fn system_result(&mut self, session: Option<Session>, input: &Input) -> Option<Session> {
        let mut s = session?;
        let expected = match input {
            Input::OrderResult { .. } => Waiting::OrderResult,
            Input::OrderStatus { .. } => Waiting::OrderStatus,
            _ => Waiting::HttpResult,
        };
        if s.waiting != expected || s.status != SessionStatus::Bot {
            return Some(s);
        }
        let Some(node) = self.flow_of(&s).and_then(|f| f.nodes.get(&s.node)) else {
            let n = s.node.clone();
            self.error(&s, &n, "node gone while waiting for a result");
            return None;
        };
        s.waiting = Waiting::None;
        let next = match (node, input) {
            (
                Node::Order {
                    text,
                    next,
                    on_error,
                    ..
                },
                Input::OrderResult {
                    ok,
                    order_id,
                    number,
                    total_minor,
                    currency,
                    error,
                },
            ) => {
                if *ok {
                    let currency = currency
                        .clone()
                        .unwrap_or_else(|| self.ctx.tenant.currency.clone());
                    let total = total_minor.unwrap_or_else(|| s.cart_total_minor());
                    s.vars.insert(
                        "order".into(),
                        json!({"id": order_id, "number": number, "total": total, "currency": currency}),
                    );
                    s.cart.clear();
                    let tpl = text.clone().unwrap_or_else(|| {
                        "✅ ¡Pedido #{{ order.number }} confirmado! Total: {{ order.total | money(order.currency) }}".into()
                    });
                    let body = self.render(&s, &tpl);
                    self.send_text(body);
                    Next::Go(next.clone())
                } else {
                    let why = error
                        .clone()
                        .unwrap_or_else(|| "no se pudo crear el pedido".into());
                    s.vars
                        .insert("order_error".into(), Value::String(why.clone()));
                    match on_error {
                        Some(t) => Next::Go(Some(t.clone())),
                        None => {
                            self.send_text(format!("No pudimos crear tu pedido: {why}"));
                            Next::Drop
                        }
                    }
                }
            }
            (
                Node::OrderStatus {
                    next, on_not_found, ..
                },
                Input::OrderStatus {
                    found,
                    number,
                    status,
                    total_minor,
                    currency,
                },
            ) => {
                s.vars.insert(
                    "order_status".into(),
                    json!({"found": found, "number": number, "status": status, "total": total_minor,
                           "currency": currency.clone().unwrap_or_else(|| self.ctx.tenant.currency.clone())}),
                );
                if *found {
                    Next::Go(next.clone())
                } else {
                    Next::Go(on_not_found.clone().or_else(|| next.clone()))
                }
            }
            (
                Node::Http {
                    map,
                    next,
                    on_error,
                    ..
                },
                Input::HttpResult {
                    ok,
                    status,
                    body,
                    error,
                },
            ) => {
                s.vars.insert("http_status".into(), json!(status));
                if *ok {
                    let body = body.clone().unwrap_or(Value::Null);
                    for (var, path) in map {
                        let v = json_path(&body, path).cloned().unwrap_or(Value::Null);
                        s.vars.insert(var.clone(), v);
                    }
                    s.vars.remove("http_error");
                    Next::Go(next.clone())
                } else {
                    let why = error
                        .clone()
                        .unwrap_or_else(|| format!("HTTP {}", status.unwrap_or(0)));
                    s.vars.insert("http_error".into(), Value::String(why));
                    Next::Go(on_error.clone().or_else(|| next.clone()))
                }
            }
            _ => {
                let n = s.node.clone();
                self.error(&s, &n, "result does not match the waiting node");
                return Some(s);
            }
        };
        self.follow(s, next)
    }

    fn released(&mut self, session: Option<Session>) -> Option<Session> {
        let mut s = session?;
        if s.status != SessionStatus::Human {
            return Some(s);
        }
        s.status = SessionStatus::Bot;
        s.waiting = Waiting::None;
        s.last_activity_at = self.ctx.now;
        let next = self
            .flow_of(&s)
            .and_then(|f| f.nodes.get(&s.node))
            .and_then(|n| match n {
                Node::Handoff { next, .. } => next.clone(),
                _ => None,
            });
        match next {
            Some(t) => self.run(s, Some(t)),
            // Released without a place to resume: the next message starts afresh.
            None => None,
        }
    }

    // ---- helpers ------------------------------------------------------------------

    /// What templates and expressions see.
    fn scope(&self, s: &Session) -> Value {
        let mut m = s.vars.clone();
        let total = s.cart_total_minor();
        let count: i64 = s.cart.iter().map(|l| l.qty).sum();
        m.insert(
            "contact".into(),
            json!({"name": self.ctx.contact.name, "phone": self.ctx.contact.phone}),
        );
        m.insert(
            "cart".into(),
            json!({"lines": s.cart, "total": total, "count": count, "currency": self.ctx.tenant.currency}),
        );
        m.insert("cart_total".into(), json!(total));
        m.insert("cart_count".into(), json!(count));
        m.insert("currency".into(), json!(self.ctx.tenant.currency));
        m.insert("tz".into(), json!(self.ctx.tenant.tz.name()));
        m.insert("now".into(), json!(self.ctx.now.to_rfc3339()));
        m.insert("input".into(), json!(self.input_text));
        Value::Object(m)
    }

    fn render(&mut self, s: &Session, source: &str) -> String {
        let node = s.node.clone();
        self.render_or_log(s, &node, source)
    }

    fn render_or_log(&mut self, s: &Session, node: &str, source: &str) -> String {
        let scope = self.scope(s);
        match template::render(source, &scope) {
            Ok(t) => t,
            Err(e) => {
                self.error(s, node, &e.to_string());
                String::new()
            }
        }
    }

    fn send_text(&mut self, body: String) {
        if !body.trim().is_empty() {
            self.effects.push(Effect::Send(Content::Text { body }));
        }
    }

    fn error(&mut self, s: &Session, node: &str, message: &str) {
        self.effects.push(Effect::Error {
            flow_id: s.flow_id.clone(),
            node: node.to_string(),
            message: message.to_string(),
        });
    }
}

fn as_order_number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().trim_start_matches('#').parse().ok(),
        _ => None,
    }
    .filter(|n| *n > 0)
}

fn node_category(node: &Node) -> Option<&str> {
    match node {
        Node::Catalog { category, .. } => category.as_deref(),
        _ => None,
    }
}

fn catalog_texts(node: &Node) -> (Option<&String>, Option<&String>) {
    match node {
        Node::Catalog { text, error, .. } => (text.as_ref(), error.as_ref()),
        _ => (None, None),
    }
}

fn per_page(cart: bool) -> usize {
    // One row for "more", one for "checkout" when the cart has something.
    LIST_ROWS - 1 - usize::from(cart)
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

fn row(id: String, title: &str, description: Option<String>) -> ListRow {
    ListRow {
        id,
        title: truncate(title, 24),
        description,
    }
}

fn category_rows(cats: &[String], page: usize, cart: bool) -> (Vec<ListRow>, bool) {
    let per = per_page(cart);
    let more = cats.len() > (page + 1) * per;
    let mut rows: Vec<ListRow> = cats
        .iter()
        .skip(page * per)
        .take(per)
        .map(|c| row(format!("cat:{c}"), c, None))
        .collect();
    if more {
        rows.push(row("more".into(), "Ver más", None));
    }
    if cart {
        rows.push(row("checkout".into(), "Finalizar compra", None));
    }
    (rows, more)
}

fn product_rows(products: &[ProductView], more: bool, cart: bool, _currency: &str) -> Vec<ListRow> {
    let mut rows: Vec<ListRow> = products
        .iter()
        .map(|p| {
            let mut d = template::format_money(p.price_minor, &p.currency);
            if p.stock.is_some_and(|n| n <= 0) {
                d.push_str(" · agotado");
            }
            row(format!("prod:{}", p.id), &p.name, Some(d))
        })
        .collect();
    if more {
        rows.push(row("more".into(), "Ver más", None));
    }
    if cart {
        rows.push(row("checkout".into(), "Finalizar compra", None));
    }
    rows
}

/// Which row an answer means: the tapped id, its number, or its title.
fn pick_row(rows: &[ListRow], input: &Input) -> Option<String> {
    let syn_more = vec!["mas".to_string(), "siguiente".to_string()];
    let syn_pay = vec![
        "finalizar".to_string(),
        "pagar".to_string(),
        "checkout".to_string(),
    ];
    let none: Vec<String> = Vec::new();
    let full: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let items: Vec<(&str, &str, &[String])> = rows
        .iter()
        .map(|r| {
            let syn: &[String] = match r.id.as_str() {
                "more" => &syn_more,
                "checkout" => &syn_pay,
                _ => &none,
            };
            (r.id.as_str(), r.title.as_str(), syn)
        })
        .collect();
    validators::pick(&items, input.text(), input.picked()).and_then(|i| full.get(i).cloned())
}

fn list(body: String, button: &str, rows: Vec<ListRow>) -> Content {
    Content::List {
        body,
        header: None,
        footer: None,
        button: button.into(),
        sections: vec![ListSection {
            title: String::new(),
            rows,
        }],
    }
}

fn after_add_buttons() -> Vec<Button> {
    vec![
        Button {
            id: "more_products".into(),
            title: "Seguir comprando".into(),
        },
        Button {
            id: "checkout".into(),
            title: "Finalizar compra".into(),
        },
    ]
}

fn add_to_cart(cart: &mut Vec<CartLine>, p: &ProductView, qty: i64) {
    if let Some(line) = cart.iter_mut().find(|l| l.product_id == p.id) {
        line.qty = line.qty.saturating_add(qty);
        return;
    }
    cart.push(CartLine {
        product_id: p.id.clone(),
        sku: p.sku.clone(),
        name: p.name.clone(),
        unit_price_minor: p.price_minor,
        currency: p.currency.clone(),
        qty,
    });
}

/// A question's prompt: choices become buttons (≤3 short titles), a list (≤10) or
/// numbered lines.
fn question_content(body: String, validate: &Validator) -> Content {
    match validate {
        Validator::OneOf { options } => {
            let items: Vec<(String, String, Option<String>)> = options
                .iter()
                .map(|c| (c.value.clone(), c.title().to_string(), None))
                .collect();
            choices_content(body, &items, None)
        }
        _ => Content::Text { body },
    }
}

fn menu_content(body: String, options: &[MenuOption], button: Option<&str>) -> Content {
    let items: Vec<(String, String, Option<String>)> = options
        .iter()
        .map(|o| (o.id.clone(), o.title.clone(), o.description.clone()))
        .collect();
    choices_content(body, &items, button)
}

fn choices_content(
    body: String,
    items: &[(String, String, Option<String>)],
    button: Option<&str>,
) -> Content {
    let short = items
        .iter()
        .all(|(_, t, d)| t.chars().count() <= 20 && d.is_none());
    if !items.is_empty() && items.len() <= 3 && short {
        return Content::Buttons {
            body,
            header: None,
            footer: None,
            buttons: items
                .iter()
                .map(|(id, title, _)| Button {
                    id: id.clone(),
                    title: title.clone(),
                })
                .collect(),
        };
    }
    if !items.is_empty() && items.len() <= LIST_ROWS {
        let rows = items
            .iter()
            .map(|(id, t, d)| row(id.clone(), t, d.clone()))
            .collect();
        return list(body, button.unwrap_or("Ver opciones"), rows);
    }
    let mut text = body;
    for (i, (_, t, _)) in items.iter().enumerate() {
        text.push_str(&format!("\n{}. {t}", i + 1));
    }
    Content::Text { body: text }
}

#[cfg(test)]
#[path = "exec_tests.rs"]
mod tests;
