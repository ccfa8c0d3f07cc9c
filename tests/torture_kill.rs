//! Torture (a): customers buy through the demo flow while the server is SIGKILLed at
//! random moments, 20 rounds. Afterwards DESIGN §5 holds over the whole history: every
//! webhook stored once and processed, every decision made once, every conversation
//! answered exactly as an uninterrupted one, one order per customer, every reply accepted
//! by the provider, outbound duplicates only within the at-least-once window (counted).

mod torture_common;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use dashoffice::bench::standin::CloudStandIn;
use rand::Rng;
use serde_json::{json, Value};
use torture_common::*;

const CUSTOMERS: usize = 60;
const ROUNDS: usize = 20;

fn script(product: &str, n: usize) -> Vec<Value> {
    let pick = |id: &str, title: &str| json!({"type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":id,"title":title}}});
    vec![
        json!({"type":"text","text":{"body":"hola"}}),
        pick("catalogo", "Ver catálogo"),
        pick("cat:Pruebas", "Pruebas"),
        pick(&format!("prod:{product}"), "Taza"),
        json!({"type":"text","text":{"body":"1"}}),
        json!({"type":"interactive","interactive":{"type":"button_reply","button_reply":{"id":"checkout","title":"Finalizar compra"}}}),
        json!({"type":"text","text":{"body":format!("Cliente {n}")}}),
        json!({"type":"text","text":{"body":format!("Calle {n} 123")}}),
    ]
}

fn envelope(phone: &str, seq: usize, message: Value) -> Vec<u8> {
    let mut m = message;
    m["from"] = phone.into();
    m["id"] = format!("wamid.{phone}.{seq}").into();
    m["timestamp"] = "1749416383".into();
    json!({"object":"whatsapp_business_account","entry":[{"id":"W","changes":[{"field":"messages","value":{
        "messaging_product":"whatsapp","metadata":{"display_phone_number":"1","phone_number_id":PNID},
        "contacts":[{"profile":{"name":"Cliente"},"wa_id":phone}],"messages":[m]}}]}]})
    .to_string()
    .into_bytes()
}

/// Walks one customer through the purchase, each message after the bot answered.
async fn customer(
    http: reqwest::Client,
    base: Arc<RwLock<String>>,
    bot: String,
    standin: Arc<CloudStandIn>,
    product: String,
    n: usize,
) -> u32 {
    let phone = format!("51987{n:06}");
    let to = format!("+{phone}");
    let mut redeliveries = 0;
    for (seq, msg) in script(&product, n).into_iter().enumerate() {
        let before = standin.count_for(&to);
        redeliveries += deliver(&http, &base, &bot, envelope(&phone, seq, msg)).await - 1;
        let got = standin
            .wait_for(&to, before + 1, Duration::from_secs(60))
            .await;
        assert!(got.is_some(), "customer {n} got no answer to step {seq}");
        // People take a moment to read: spreads the load over every kill.
        let think = rand::thread_rng().gen_range(50..300);
        tokio::time::sleep(Duration::from_millis(think)).await;
    }
    redeliveries
}

/// Unprocessed inbound items plus replies queued or sending, right now.
fn in_flight(dir: &std::path::Path) -> i64 {
    rusqlite::Connection::open(dir.join("dashoffice.sqlite"))
        .and_then(|db| {
            db.query_row(
                "SELECT (SELECT COUNT(*) FROM messages WHERE direction='in' AND processed_at IS NULL)
                      + (SELECT COUNT(*) FROM outbox WHERE status IN ('queued','sending'))",
                [],
                |r| r.get(0),
            )
        })
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_survive_twenty_sigkills_exactly_once() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    add_owner(dir.path());
    let standin = Arc::new(CloudStandIn::start(TOKEN, true).await.unwrap());
    let http = http();
    let (child, base0) = start(dir.path(), &[]);
    let (token, bot) = setup_bot(&http, &base0, &standin, demo_flow()).await;
    let product: Value = http
        .post(format!("{base0}/api/products"))
        .bearer_auth(&token)
        .json(&json!({"sku": "TAZA-1", "name": "Taza", "price_minor": 1500, "category": "Pruebas"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let product = product["id"].as_str().expect("product").to_string();
    let base = Arc::new(RwLock::new(base0));

    // A reference customer with no crash: what an uninterrupted purchase looks like.
    customer(
        http.clone(),
        base.clone(),
        bot.clone(),
        standin.clone(),
        product.clone(),
        999_999,
    )
    .await;
    assert!(settle(dir.path(), Duration::from_secs(20)).await);
    let reference = standin.count_for("+51987999999") as i64;
    assert!(
        reference >= 10,
        "a purchase has at least 10 replies, got {reference}"
    );

    let child = Arc::new(Mutex::new(child));
    let mut drivers = vec![];
    for n in 0..CUSTOMERS {
        let (http, base, bot, standin, product) = (
            http.clone(),
            base.clone(),
            bot.clone(),
            standin.clone(),
            product.clone(),
        );
        drivers.push(tokio::spawn(async move {
            // Customers arrive spread over the run, so kills hit every phase.
            tokio::time::sleep(Duration::from_millis((n as u64 % 20) * 150)).await;
            customer(http, base, bot, standin, product, n).await
        }));
    }
    let mut kills_with_work_in_flight = 0;
    for _ in 0..ROUNDS {
        let wait = rand::thread_rng().gen_range(50..500);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        let busy = in_flight(dir.path());
        let mut c = child.lock().unwrap();
        c.kill().unwrap(); // SIGKILL
        c.wait().unwrap();
        if busy > 0 {
            kills_with_work_in_flight += 1;
        }
        let (next, url) = start(dir.path(), &[]);
        *c = next;
        *base.write().unwrap() = url;
    }
    let mut redeliveries = 0;
    for d in drivers {
        redeliveries += d.await.unwrap();
    }
    assert!(
        settle(dir.path(), Duration::from_secs(30)).await,
        "the pipeline settles"
    );
    stop(&mut child.lock().unwrap());

    let h = read_history(dir.path());
    let dups = h.assert_exactly_once(((CUSTOMERS + 1) * 8) as i64, &standin);
    assert_eq!(h.replies_per_contact.len(), CUSTOMERS + 1);
    for (phone, n) in &h.replies_per_contact {
        assert_eq!(
            *n, reference,
            "{phone} got {n} replies; an uninterrupted purchase has {reference}"
        );
    }
    assert_eq!(h.replies_decided, reference * (CUSTOMERS as i64 + 1));
    assert_eq!(
        (h.orders, h.order_customers),
        (CUSTOMERS as i64 + 1, CUSTOMERS as i64 + 1),
        "one order per customer"
    );
    assert!(
        dups <= ROUNDS * OUTBOX_CONCURRENCY,
        "{dups} duplicates > in-flight sends at {ROUNDS} kills"
    );
    assert_redb_opens(dir.path());
    println!(
        "{ROUNDS} SIGKILLs: {} replies decided, {} accepted by the provider, {dups} resent (at-least-once window), \
         {redeliveries} webhook redeliveries, {kills_with_work_in_flight} kills with inbound or outbound work in flight; {:.1} s",
        h.replies_decided,
        standin.accepted().len(),
        started.elapsed().as_secs_f64()
    );
}
