//! The engine end to end: a customer on the Cloud API stand-in, with signed webhooks,
//! buys through the demo flow; replies arrive in order; flows are validated, published,
//! versioned and rolled back over HTTP; the simulator runs the real pipeline.

mod common;
mod support;

use std::time::Duration;

use common::{assert_problem, TestServer};
use serde_json::{json, Value};
use support::standins::{cloud_signature, StandIn};

const PHONE: &str = "51987654321";

struct Shop {
    s: TestServer,
    token: String,
    bot: String,
    standin: StandIn,
    seq: u32,
}

impl Shop {
    async fn new() -> Shop {
        let s = TestServer::start_with(|c| {
            c.outbox.rate_per_min = 100_000;
            c.outbox.rate_burst = 100_000;
        })
        .await;
        let (tenant, token) = s.owner_token("Tienda").await;
        s.state
            .db
            .write(move |c| {
                dashoffice::shop::demo::install(c, tenant)
                    .map_err(|e| dashoffice::store::DbError::Other(e.to_string()))
            })
            .await
            .unwrap();
        let standin = StandIn::cloud("tok").await;
        let res = s
            .post("/api/bots", &token, json!({"name": "Ventas", "primary": {"kind": "cloud", "phone_number_id": "106540352242922",
                "access_token": "tok", "app_secret": "app-secret", "verify_token": "v", "api_base": standin.url()}}))
            .await;
        let bot: Value = res.json().await.unwrap();
        let bot = bot["id"].as_str().unwrap().to_string();
        Shop {
            s,
            token,
            bot,
            standin,
            seq: 0,
        }
    }

    async fn publish(&self, name: &str, definition: Value) -> String {
        let res = self
            .s
            .post(
                &format!("/api/bots/{}/flows", self.bot),
                &self.token,
                json!({"name": name, "definition": definition, "is_default": true}),
            )
            .await;
        let status = res.status();
        let flow: Value = res.json().await.unwrap();
        assert_eq!(status, 201, "{flow}");
        let id = flow["id"].as_str().unwrap().to_string();
        let res = self
            .s
            .post(
                &format!("/api/bots/{}/flows/{id}/publish", self.bot),
                &self.token,
                json!({}),
            )
            .await;
        assert_eq!(res.status(), 200);
        id
    }

    fn envelope(&mut self, message: Value) -> Vec<u8> {
        self.seq += 1;
        let mut m = message;
        m["from"] = PHONE.into();
        m["id"] = format!("wamid.IN{}", self.seq).into();
        m["timestamp"] = "1749416383".into();
        json!({"object":"whatsapp_business_account","entry":[{"id":"WABA","changes":[{"field":"messages","value":{
            "messaging_product":"whatsapp","metadata":{"display_phone_number":"1555","phone_number_id":"106540352242922"},
            "contacts":[{"profile":{"name":"Lucía"},"wa_id":PHONE}],"messages":[m]}}]}]})
        .to_string()
        .into_bytes()
    }

    async fn deliver(&self, body: Vec<u8>) {
        let res = self
            .s
            .http
            .post(self.s.url(&format!("/webhooks/cloud/{}", self.bot)))
            .header("content-type", "application/json")
            .header("x-hub-signature-256", cloud_signature("app-secret", &body))
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }

    /// Sends and waits until the bot has answered everything (and the answers left).
    async fn say(&mut self, message: Value) -> Vec<Value> {
        let before = self.standin.accepted().len();
        let body = self.envelope(message);
        self.deliver(body).await;
        self.settle().await;
        self.standin.accepted()[before..]
            .iter()
            .map(|r| r.body.clone())
            .collect()
    }

    async fn settle(&self) {
        for _ in 0..400 {
            let busy: i64 = self
                .s
                .state
                .db
                .read(|c| {
                    Ok(c.query_row(
                        "SELECT (SELECT COUNT(*) FROM messages WHERE direction='in' AND processed_at IS NULL)
                              + (SELECT COUNT(*) FROM outbox WHERE status IN ('queued','sending'))",
                        [],
                        |r| r.get(0),
                    )?)
                })
                .await
                .unwrap();
            if busy == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("the bot did not settle");
    }
}

fn text(t: &str) -> Value {
    json!({"type": "text", "text": {"body": t}})
}

fn list_pick(id: &str, title: &str) -> Value {
    json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": id, "title": title}}})
}

fn button(id: &str, title: &str) -> Value {
    json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": id, "title": title}}})
}

/// The (id, title) choices of the last interactive message in `replies`.
fn choices(replies: &[Value]) -> Vec<(String, String)> {
    let last = replies
        .iter()
        .rev()
        .find(|r| r["type"] == "interactive")
        .expect("an interactive reply");
    let action = &last["interactive"]["action"];
    if let Some(sections) = action["sections"].as_array() {
        sections
            .iter()
            .flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                (
                    r["id"].as_str().unwrap().to_string(),
                    r["title"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    } else {
        action["buttons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["reply"]["id"].as_str().unwrap().to_string(),
                    b["reply"]["title"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    }
}

fn texts(replies: &[Value]) -> Vec<String> {
    replies
        .iter()
        .map(|r| {
            r["text"]["body"]
                .as_str()
                .or(r["interactive"]["body"]["text"].as_str())
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

#[tokio::test]
async fn a_customer_completes_the_demo_purchase_over_signed_cloud_webhooks() {
    let mut shop = Shop::new().await;
    let def: Value = serde_json::from_str(dashoffice::engine::demo::DEMO_FLOW_JSON).unwrap();
    shop.publish("Asistente de tienda", def).await;
    let tenant_products: Value = shop
        .s
        .get("/api/products?limit=100", &shop.token)
        .await
        .json()
        .await
        .unwrap();

    let r = shop.say(text("Hola")).await;
    assert!(texts(&r)[0].contains("Hola Lucía"), "{:?}", texts(&r));
    let menu = choices(&r);
    let (id, title) = menu
        .iter()
        .find(|(id, _)| id == "catalogo")
        .unwrap()
        .clone();
    let r = shop.say(list_pick(&id, &title)).await;
    let cats = choices(&r);
    let (cid, ctitle) = cats[0].clone();
    let r = shop.say(list_pick(&cid, &ctitle)).await;
    let prods = choices(&r);
    let (pid, ptitle) = prods
        .iter()
        .find(|(id, _)| id.starts_with("prod:"))
        .unwrap()
        .clone();
    let product_id = pid.trim_start_matches("prod:").to_string();
    let product = tenant_products["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["id"] == product_id.as_str())
        .unwrap()
        .clone();
    let (price, stock_before) = (
        product["price_minor"].as_i64().unwrap(),
        product["stock"].as_i64(),
    );
    let r = shop.say(list_pick(&pid, &ptitle)).await;
    assert!(texts(&r)[0].contains("Cuántas"), "{:?}", texts(&r));
    let r = shop.say(text("2")).await;
    let after = choices(&r);
    let (bid, btitle) = after
        .iter()
        .find(|(id, _)| id == "checkout")
        .unwrap()
        .clone();
    let r = shop.say(button(&bid, &btitle)).await;
    assert!(texts(&r)[0].contains("nombre"), "{:?}", texts(&r));
    let r = shop.say(text("Lucía Pérez")).await;
    assert!(texts(&r)[0].contains("dirección"), "{:?}", texts(&r));
    let r = shop.say(text("Av. Arequipa 123, Miraflores")).await;
    let t = texts(&r);
    assert!(t[0].contains("confirmado"), "{t:?}");
    assert!(t[1].contains("Gracias por tu compra"), "{t:?}");

    // The order: right items and total, stock taken, seller assigned by the shop.
    let orders: Value = shop
        .s
        .get("/api/orders", &shop.token)
        .await
        .json()
        .await
        .unwrap();
    let order = &orders["items"][0];
    assert_eq!(orders["items"].as_array().unwrap().len(), 1);
    assert_eq!(order["items"][0]["quantity"], 2);
    assert_eq!(order["total_minor"].as_i64().unwrap(), 2 * price);
    assert_eq!(order["status"], "confirmed");
    assert_eq!(order["source"], "bot");
    assert!(t[0].contains(&format!("#{}", order["number"])), "{t:?}");
    let p: Value = shop
        .s
        .get(&format!("/api/products/{product_id}"), &shop.token)
        .await
        .json()
        .await
        .unwrap();
    if let Some(before) = stock_before {
        assert_eq!(p["stock"].as_i64().unwrap(), before - 2, "stock went down");
    }
    // The replies reached the stand-in in the order the bot decided them.
    let outbound: Vec<String> = shop
        .s
        .state
        .db
        .read(|c| {
            let mut st = c.prepare(
                "SELECT provider_message_id FROM messages WHERE direction='out' ORDER BY id",
            )?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
        .unwrap();
    assert_eq!(outbound.len(), shop.standin.accepted().len());
}

#[tokio::test]
async fn ten_messages_sent_at_once_are_answered_in_arrival_order() {
    let mut shop = Shop::new().await;
    shop.publish(
        "Eco",
        json!({"start": "m", "nodes": {
        "m": {"type": "message", "text": "eco {{ input }}", "next": "fin"},
        "fin": {"type": "end"}}}),
    )
    .await;
    let bodies: Vec<Vec<u8>> = (0..10)
        .map(|i| shop.envelope(text(&format!("n{i}"))))
        .collect();
    let sends = bodies.into_iter().map(|b| shop.deliver(b));
    futures::future::join_all(sends).await;
    shop.settle().await;
    let arrival: Vec<String> = shop
        .s
        .state
        .db
        .read(|c| {
            let mut st = c.prepare(
                "SELECT content FROM messages WHERE direction='in' AND kind='customer' ORDER BY id",
            )?;
            let rows = st.query_map([], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<Vec<String>, _>>()?)
        })
        .await
        .unwrap()
        .iter()
        .map(|c| {
            serde_json::from_str::<Value>(c).unwrap()["body"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let answered: Vec<String> = shop
        .standin
        .accepted()
        .iter()
        .map(|r| r.body["text"]["body"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = arrival.iter().map(|a| format!("eco {a}")).collect();
    assert_eq!(answered, expected);
}

#[tokio::test]
async fn flows_are_validated_on_save_published_versioned_and_rolled_back() {
    let shop = Shop::new().await;
    let path = format!("/api/bots/{}/flows", shop.bot);
    let res = shop
        .s
        .post(
            &path,
            &shop.token,
            json!({"name": "Roto", "definition": {"start": "a", "nodes": {
            "a": {"type": "message", "text": "hola {{ ", "next": "zz"},
            "b": {"type": "end"}}}}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(fields.contains(&"definition.nodes.a.next"), "{fields:?}");
    assert!(fields.contains(&"definition.nodes.a.text"), "{fields:?}");
    assert!(
        fields.iter().any(|f| f.starts_with("definition.nodes.b")),
        "unreachable node named: {fields:?}"
    );
    let flows: Vec<Value> = shop.s.get(&path, &shop.token).await.json().await.unwrap();
    assert!(flows.is_empty(), "nothing saved");

    let v1 = json!({"start": "m", "nodes": {"m": {"type": "message", "text": "versión uno", "next": "f"}, "f": {"type": "end"}}});
    let id = shop.publish("Saludo", v1).await;
    let v2 = json!({"start": "m", "nodes": {"m": {"type": "message", "text": "versión dos", "next": "f"}, "f": {"type": "end"}}});
    let res = shop
        .s
        .put(
            &format!("{path}/{id}"),
            &shop.token,
            json!({"name": "Saludo", "definition": v2}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let res = shop
        .s
        .post(&format!("{path}/{id}/publish"), &shop.token, json!({}))
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["version"], 2);

    let sandbox = format!("/api/bots/{}/sandbox", shop.bot);
    let r: Value = shop
        .s
        .post(&sandbox, &shop.token, json!({"text": "hola"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["replies"][0]["body"], "versión dos");
    let res = shop
        .s
        .post(
            &format!("{path}/{id}/rollback"),
            &shop.token,
            json!({"version": 1}),
        )
        .await;
    assert_eq!(res.json::<Value>().await.unwrap()["version"], 3);
    let r: Value = shop
        .s
        .post(&sandbox, &shop.token, json!({"text": "hola"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(r["replies"][0]["body"], "versión uno");
    let versions: Vec<Value> = shop
        .s
        .get(&format!("{path}/{id}/versions"), &shop.token)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        versions
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![3, 2, 1]
    );
    // The simulator never talks to the provider.
    assert!(shop.standin.requests().is_empty());
    // Another tenant sees nothing.
    let (_, other) = shop.s.owner_token("Otra").await;
    assert_problem(shop.s.get(&path, &other).await, 404, "not_found").await;
}

#[tokio::test]
async fn hand_off_keeps_the_bot_silent_until_released_and_reset_starts_over() {
    let mut shop = Shop::new().await;
    let def: Value = serde_json::from_str(dashoffice::engine::demo::DEMO_FLOW_JSON).unwrap();
    shop.publish("Asistente", def).await;
    shop.say(text("hola")).await;
    let r = shop.say(text("agente")).await;
    assert!(texts(&r)[0].contains("persona"), "{:?}", texts(&r));
    let convs: Value = shop
        .s
        .get("/api/conversations?status=human", &shop.token)
        .await
        .json()
        .await
        .unwrap();
    let conv = convs["items"][0]["id"].as_str().unwrap().to_string();
    let r = shop.say(text("¿hola? ¿alguien?")).await;
    assert!(
        r.is_empty(),
        "the bot stays silent during a hand-off: {r:?}"
    );

    // The agent answers, then gives the conversation back.
    let res = shop
        .s
        .post(
            &format!("/api/conversations/{conv}/messages"),
            &shop.token,
            json!({"text": "Hola, soy Rosa"}),
        )
        .await;
    assert_eq!(res.status(), 202);
    shop.settle().await;
    assert_eq!(
        shop.standin.accepted().last().unwrap().body["text"]["body"],
        "Hola, soy Rosa"
    );
    let res = shop
        .s
        .post(
            &format!("/api/conversations/{conv}/release"),
            &shop.token,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    shop.settle().await;
    let r = shop.say(text("hola")).await;
    assert!(!r.is_empty(), "the bot answers again after release");

    let msgs: Value = shop
        .s
        .get(&format!("/api/conversations/{conv}/messages"), &shop.token)
        .await
        .json()
        .await
        .unwrap();
    assert!(msgs["items"].as_array().unwrap().len() >= 6);
    let res = shop
        .s
        .post(
            &format!("/api/conversations/{conv}/reset"),
            &shop.token,
            json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    shop.settle().await;
}

#[tokio::test]
async fn the_demo_install_gives_a_bot_the_simulator_can_buy_from() {
    let s = TestServer::start().await;
    let login = dashoffice::demo::install(&s.state).await.unwrap();
    let l = s.login(&login.email, &login.password).await;
    let token = l["access_token"].as_str().unwrap();
    let bots: Vec<Value> = s.get("/api/bots", token).await.json().await.unwrap();
    let bot = bots[0]["id"].as_str().unwrap();
    let sandbox = format!("/api/bots/{bot}/sandbox");
    let r: Value = s
        .post(&sandbox, token, json!({"text": "hola"}))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        r["replies"][0]["body"]
            .as_str()
            .unwrap()
            .contains("Bienvenido"),
        "{r}"
    );
    let r: Value = s
        .post(
            &sandbox,
            token,
            json!({"button_id": "catalogo", "title": "Ver catálogo"}),
        )
        .await
        .json()
        .await
        .unwrap();
    assert!(!r["replies"].as_array().unwrap().is_empty(), "{r}");
    // Installing again (a restart with --demo) does not duplicate the bot.
    dashoffice::demo::install(&s.state).await.unwrap();
    let bots: Vec<Value> = s.get("/api/bots", token).await.json().await.unwrap();
    assert_eq!(bots.len(), 1);
}

#[tokio::test]
async fn the_inbox_streams_new_messages_over_sse_to_its_own_tenant_only() {
    let s = TestServer::start().await;
    let login = dashoffice::demo::install(&s.state).await.unwrap();
    let l = s.login(&login.email, &login.password).await;
    let token = l["access_token"].as_str().unwrap().to_string();
    let (_, other) = s.owner_token("Otra tienda").await;
    let open = |t: String| {
        let http = s.http.clone();
        let url = s.url(&format!("/api/events?access_token={t}"));
        async move { http.get(url).send().await.unwrap() }
    };
    let mut mine = open(token.clone()).await;
    assert_eq!(mine.status(), 200);
    assert!(mine.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut theirs = open(other).await;
    let bots: Vec<Value> = s.get("/api/bots", &token).await.json().await.unwrap();
    let bot = bots[0]["id"].as_str().unwrap().to_string();
    let res = s
        .post(
            &format!("/api/bots/{bot}/sandbox"),
            &token,
            json!({"text": "hola"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains("event: message") {
        let chunk = tokio::time::timeout_at(deadline, mine.chunk())
            .await
            .expect("an event in time")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("conversation_id"), "{seen}");
    // The other tenant's stream stays quiet (only keep-alives).
    let quiet = tokio::time::timeout(Duration::from_millis(300), theirs.chunk()).await;
    if let Ok(Ok(Some(chunk))) = quiet {
        assert!(!String::from_utf8_lossy(&chunk).contains("event: message"));
    }
    // Without a token the stream is refused.
    let res = s.http.get(s.url("/api/events")).send().await.unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn http_nodes_refuse_private_addresses_unless_the_shop_allows_them() {
    let mut shop = Shop::new().await;
    // A local API the flow calls.
    let app = axum::Router::new().route(
        "/precio",
        axum::routing::get(|| async { axum::Json(json!({"data": {"precio": "S/ 10"}})) }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    shop.publish("Api", json!({"start": "h", "nodes": {
        "h": {"type": "http", "url": format!("http://127.0.0.1:{port}/precio"), "map": {"precio": "data.precio"}, "next": "ok", "on_error": "ko"},
        "ok": {"type": "message", "text": "precio {{ precio }}", "next": "fin"},
        "ko": {"type": "message", "text": "no disponible", "next": "fin"},
        "fin": {"type": "end"}}}))
    .await;
    let r = shop.say(text("hola")).await;
    assert_eq!(
        texts(&r),
        vec!["no disponible"],
        "loopback refused by default"
    );
    let res = shop
        .s
        .put(
            "/api/tenant",
            &shop.token,
            json!({"settings": {"allow_private_http": true}}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let r = shop.say(text("hola")).await;
    assert_eq!(texts(&r), vec!["precio S/ 10"]);
}

#[tokio::test]
async fn the_start_up_sweep_forgets_applied_effects_and_keeps_unapplied_ones() {
    use dashoffice::store::state::{Conversation, Step};
    let s = TestServer::start().await;
    let (tenant, _) = s.owner_token("Sweep").await;
    // An inbound item SQLite marks processed, whose effects a crash left in redb.
    let processed: i64 = s
        .state
        .db
        .write(move |c| {
            c.execute(
                "INSERT INTO messages (tenant_id, bot_id, conversation_id, direction, kind, content, status, created_at, processed_at)
                 VALUES (?1, 'b', 'c', 'in', 'customer', '{}', 'received', 'now', 'now')",
                [tenant],
            )?;
            Ok(c.last_insert_rowid())
        })
        .await
        .unwrap();
    let unapplied = processed + 1_000;
    let conv = Conversation::<()> {
        session: None,
        last_inbound_id: unapplied,
    };
    let effects = vec!["reply"];
    s.state
        .state
        .commit_steps(&[
            Step {
                key: "sweep:1",
                conversation: &conv,
                inbound_id: processed,
                effects: &effects,
            },
            Step {
                key: "sweep:2",
                conversation: &conv,
                inbound_id: unapplied,
                effects: &effects,
            },
        ])
        .unwrap();
    let swept = dashoffice::conversations::processor::sweep_applied_effects(&s.state)
        .await
        .unwrap();
    assert_eq!(swept, 1);
    assert_eq!(s.state.state.effect_ids().unwrap(), vec![unapplied]);
    s.stop().await;
}
