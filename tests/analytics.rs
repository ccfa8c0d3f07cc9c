//! Analytics: events -> rollups (exact, idempotent, late events corrected), retention,
//! KPIs over HTTP (tenant-isolated, tenant time zone), event list, error log.

mod common;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use common::TestServer;
use dashoffice::analytics::alerts::IncidentKind;
use dashoffice::analytics::errors::Severity;
use dashoffice::analytics::{self, rollup, Event, EventKind};
use dashoffice::ids::TenantId;
use serde_json::{json, Value};

fn t(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn ev(tenant: TenantId, bot: &str, conv: &str, kind: EventKind, at: &str) -> Event {
    Event::new(tenant, kind)
        .bot(bot)
        .conversation(conv)
        .at(t(at))
}

fn delivery(status: &str) -> EventKind {
    EventKind::DeliveryStatus {
        status: status.into(),
    }
}

fn order(total_minor: i64, currency: &str) -> EventKind {
    EventKind::OrderCreated {
        total_minor,
        currency: currency.into(),
    }
}

/// A known day of one shop: three conversations on two bots.
fn known_events(tenant: TenantId) -> Vec<Event> {
    use EventKind::*;
    vec![
        // c1 on b1, 14:00 UTC (09:00 in Lima)
        ev(tenant, "b1", "c1", MessageIn, "2026-11-20T14:00:00Z"),
        ev(tenant, "b1", "c1", MessageIn, "2026-11-20T14:00:10Z"),
        ev(tenant, "b1", "c1", MessageOut, "2026-11-20T14:00:30Z"), // reply: 30 s
        ev(tenant, "b1", "c1", MessageOut, "2026-11-20T14:00:31Z"), // not a reply
        ev(
            tenant,
            "b1",
            "c1",
            delivery("delivered"),
            "2026-11-20T14:01:00Z",
        ),
        ev(
            tenant,
            "b1",
            "c1",
            delivery("delivered"),
            "2026-11-20T14:01:01Z",
        ),
        ev(
            tenant,
            "b1",
            "c1",
            delivery("failed"),
            "2026-11-20T14:01:02Z",
        ),
        ev(tenant, "b1", "c1", MessageIn, "2026-11-20T14:05:00Z"),
        ev(tenant, "b1", "c1", MessageOut, "2026-11-20T14:05:02Z"), // reply: 2 s
        ev(
            tenant,
            "b1",
            "c1",
            order(2500, "PEN"),
            "2026-11-20T14:06:00Z",
        ),
        // c2 on b2, 15:10 UTC
        ev(tenant, "b2", "c2", MessageIn, "2026-11-20T15:10:00Z"),
        ev(tenant, "b2", "c2", MessageOut, "2026-11-20T15:10:05Z"), // reply: 5 s
        ev(
            tenant,
            "b2",
            "c2",
            SendFailed {
                reason: "timeout".into(),
            },
            "2026-11-20T15:11:00Z",
        ),
        ev(tenant, "b2", "c2", Handoff, "2026-11-20T15:12:00Z"),
        // c3 on b1, 03:30 UTC on the 21st = 22:30 on the 20th in Lima
        ev(tenant, "b1", "c3", MessageIn, "2026-11-21T03:30:00Z"),
        ev(tenant, "b1", "c3", MessageOut, "2026-11-21T03:30:01Z"), // reply: 1 s
        ev(
            tenant,
            "b1",
            "c3",
            order(1000, "USD"),
            "2026-11-21T03:31:00Z",
        ),
    ]
}

async fn record_all(s: &TestServer, events: Vec<Event>) {
    s.state
        .db
        .write(move |c| {
            for e in &events {
                analytics::record(c, e)?;
            }
            Ok(())
        })
        .await
        .unwrap();
}

type Snapshot = BTreeMap<(String, String, String, String, String), i64>;

/// Every rollup row of every tenant: (table, tenant, bot, bucket, metric) -> value.
async fn snapshot(s: &TestServer) -> Snapshot {
    s.state
        .db
        .read(|c| {
            let mut out = Snapshot::new();
            for table in ["analytics_hourly", "analytics_daily"] {
                let mut st = c.prepare(&format!(
                    "SELECT tenant_id, bot_id, bucket, metric, value FROM {table}"
                ))?;
                let mut rows = st.query([])?;
                while let Some(r) = rows.next()? {
                    out.insert(
                        (
                            table.to_string(),
                            r.get(0)?,
                            r.get(1)?,
                            r.get(2)?,
                            r.get(3)?,
                        ),
                        r.get(4)?,
                    );
                }
            }
            Ok(out)
        })
        .await
        .unwrap()
}

fn get(snap: &Snapshot, table: &str, tenant: TenantId, bot: &str, bucket: &str, m: &str) -> i64 {
    snap.get(&(
        table.into(),
        tenant.to_string(),
        bot.into(),
        bucket.into(),
        m.into(),
    ))
    .copied()
    .unwrap_or(0)
}

fn hourly(snap: &Snapshot, tenant: TenantId, bot: &str, bucket: &str, m: &str) -> i64 {
    get(snap, "analytics_hourly", tenant, bot, bucket, m)
}

fn daily(snap: &Snapshot, tenant: TenantId, bot: &str, bucket: &str, m: &str) -> i64 {
    get(snap, "analytics_daily", tenant, bot, bucket, m)
}

const NOW: &str = "2026-11-21T12:00:00Z";

#[tokio::test]
async fn a_known_set_of_events_rolls_up_to_exact_figures_and_a_second_run_changes_nothing() {
    let s = TestServer::start().await;
    let (tenant, _) = s.owner_token("Bodega Lima").await; // America/Lima by default
    record_all(&s, known_events(tenant)).await;

    let r = rollup::run(&s.state.db, t(NOW), 30).await.unwrap();
    assert_eq!(r.new_events, 17);
    assert_eq!(r.hourly_buckets, 3, "14:00, 15:00 and 03:00 UTC");
    assert_eq!(r.daily_buckets, 1, "all on 2026-11-20 in Lima");
    let snap = snapshot(&s).await;

    let h14 = "2026-11-20T14:00:00Z";
    let all = rollup::ALL_BOTS;
    assert_eq!(hourly(&snap, tenant, all, h14, "message_in"), 3);
    assert_eq!(hourly(&snap, tenant, all, h14, "message_out"), 3);
    assert_eq!(hourly(&snap, tenant, all, h14, "delivery_status"), 3);
    assert_eq!(
        hourly(&snap, tenant, all, h14, "delivery_status.delivered"),
        2
    );
    assert_eq!(hourly(&snap, tenant, all, h14, "delivery_status.failed"), 1);
    assert_eq!(hourly(&snap, tenant, all, h14, "orders.PEN"), 1);
    assert_eq!(hourly(&snap, tenant, all, h14, "revenue_minor.PEN"), 2500);
    assert_eq!(hourly(&snap, tenant, all, h14, "conversations_active"), 1);
    assert_eq!(
        hourly(&snap, tenant, all, h14, "conversations_converted"),
        1
    );
    assert_eq!(hourly(&snap, tenant, all, h14, "bots_active"), 1);
    assert_eq!(hourly(&snap, tenant, all, h14, "response_count"), 2);
    assert_eq!(hourly(&snap, tenant, all, h14, "response_ms_sum"), 32_000);
    assert_eq!(hourly(&snap, tenant, all, h14, "response_ms_p95"), 30_000);
    assert_eq!(hourly(&snap, tenant, "b1", h14, "message_in"), 3);
    assert_eq!(hourly(&snap, tenant, "b2", h14, "message_in"), 0);
    let h15 = "2026-11-20T15:00:00Z";
    assert_eq!(hourly(&snap, tenant, "b2", h15, "send_failed"), 1);
    assert_eq!(hourly(&snap, tenant, "b2", h15, "handoff"), 1);
    assert_eq!(hourly(&snap, tenant, "b2", h15, "response_ms_sum"), 5_000);

    // The Lima day holds all three conversations, including 03:30 UTC on the 21st.
    let d = "2026-11-20";
    assert_eq!(daily(&snap, tenant, all, d, "message_in"), 5);
    assert_eq!(daily(&snap, tenant, all, d, "message_out"), 5);
    assert_eq!(daily(&snap, tenant, all, d, "conversations_active"), 3);
    assert_eq!(daily(&snap, tenant, all, d, "conversations_converted"), 2);
    assert_eq!(daily(&snap, tenant, all, d, "bots_active"), 2);
    assert_eq!(daily(&snap, tenant, all, d, "response_count"), 4);
    assert_eq!(daily(&snap, tenant, all, d, "response_ms_sum"), 38_000);
    assert_eq!(daily(&snap, tenant, all, d, "response_ms_p95"), 30_000);
    assert_eq!(daily(&snap, tenant, all, d, "revenue_minor.USD"), 1000);
    assert_eq!(daily(&snap, tenant, "b1", d, "conversations_active"), 2);
    assert_eq!(daily(&snap, tenant, all, "2026-11-21", "message_in"), 0);

    // Again: nothing new, nothing changes.
    let again = rollup::run(&s.state.db, t(NOW), 30).await.unwrap();
    assert_eq!(again.new_events, 0);
    assert_eq!(snapshot(&s).await, snap);
    // Even recomputing every bucket from scratch gives the same rows.
    rollup::reset(&s.state.db).await.unwrap();
    let full = rollup::run(&s.state.db, t(NOW), 30).await.unwrap();
    assert_eq!(full.new_events, 17);
    assert_eq!(
        snapshot(&s).await,
        snap,
        "a full recompute double-counts nothing"
    );
}

#[tokio::test]
async fn late_events_correct_their_old_buckets_only() {
    let s = TestServer::start().await;
    let (tenant, _) = s.owner_token("Bodega Lima").await;
    record_all(&s, known_events(tenant)).await;
    rollup::run(&s.state.db, t(NOW), 30).await.unwrap();
    let before = snapshot(&s).await;

    // Arrives after the rollup, stamped in the 14:00 hour of yesterday.
    record_all(
        &s,
        vec![
            ev(
                tenant,
                "b2",
                "c9",
                EventKind::MessageIn,
                "2026-11-20T14:30:00Z",
            ),
            ev(
                tenant,
                "b2",
                "c9",
                order(700, "PEN"),
                "2026-11-20T14:31:00Z",
            ),
        ],
    )
    .await;
    let r = rollup::run(&s.state.db, t(NOW), 30).await.unwrap();
    assert_eq!(r.new_events, 2);
    assert_eq!((r.hourly_buckets, r.daily_buckets), (1, 1));
    let after = snapshot(&s).await;
    let (h14, all) = ("2026-11-20T14:00:00Z", rollup::ALL_BOTS);
    assert_eq!(hourly(&after, tenant, all, h14, "message_in"), 4);
    assert_eq!(hourly(&after, tenant, all, h14, "revenue_minor.PEN"), 3200);
    assert_eq!(hourly(&after, tenant, all, h14, "conversations_active"), 2);
    assert_eq!(hourly(&after, tenant, all, h14, "bots_active"), 2);
    assert_eq!(hourly(&after, tenant, "b2", h14, "orders.PEN"), 1);
    assert_eq!(
        daily(&after, tenant, all, "2026-11-20", "message_in"),
        6,
        "the day is corrected too"
    );
    assert_eq!(
        daily(&after, tenant, all, "2026-11-20", "conversations_converted"),
        3
    );
    // Other buckets are untouched.
    for (k, v) in &before {
        if k.3 != h14 && k.3 != "2026-11-20" {
            assert_eq!(after.get(k), Some(v), "{k:?}");
        }
    }
}

async fn raw_event_times(s: &TestServer) -> Vec<String> {
    s.state
        .db
        .read(|c| {
            let mut st = c.prepare("SELECT at_ms FROM events ORDER BY at_ms")?;
            let rows = st.query_map([], |r| r.get::<_, i64>(0))?;
            Ok(rows
                .map(|r| r.map(analytics::ms_text))
                .collect::<Result<Vec<_>, _>>()?)
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn retention_removes_only_old_raw_events_and_keeps_rollups() {
    let s = TestServer::start().await;
    let (tenant, _) = s.owner_token("Bodega Lima").await;
    let old = vec![
        ev(
            tenant,
            "b1",
            "old",
            EventKind::MessageIn,
            "2026-10-10T15:00:00Z",
        ),
        ev(
            tenant,
            "b1",
            "old",
            EventKind::MessageOut,
            "2026-10-10T15:00:04Z",
        ),
    ];
    record_all(&s, old).await;
    // Rolled up back then, while still inside the horizon.
    rollup::run(&s.state.db, t("2026-10-11T00:00:00Z"), 30)
        .await
        .unwrap();
    record_all(&s, known_events(tenant)).await;
    rollup::run(&s.state.db, t(NOW), 30).await.unwrap();
    let rolled = snapshot(&s).await;
    assert_eq!(
        daily(
            &rolled,
            tenant,
            rollup::ALL_BOTS,
            "2026-10-10",
            "message_in"
        ),
        1
    );

    // An old event the rollup has not seen yet must survive retention.
    record_all(
        &s,
        vec![ev(
            tenant,
            "b1",
            "late",
            EventKind::MessageIn,
            "2026-10-12T10:00:00Z",
        )],
    )
    .await;
    let deleted = analytics::retention::run(&s.state.db, t(NOW), 30)
        .await
        .unwrap();
    assert_eq!(deleted, 2, "only the two old, rolled-up events");
    let left = raw_event_times(&s).await;
    assert_eq!(left.len(), 18);
    assert_eq!(left[0], "2026-10-12T10:00:00.000Z");
    assert!(left[1..].iter().all(|at| at.as_str() >= "2026-11-20"));

    // The unseen old event is past the horizon: the rollup passes it by (its buckets'
    // other raw events are gone) and leaves the rollups as they were.
    let r = rollup::run(&s.state.db, t(NOW), 30).await.unwrap();
    assert_eq!((r.new_events, r.frozen_buckets), (1, 2));
    assert_eq!(
        snapshot(&s).await,
        rolled,
        "rollups are kept and not recomputed"
    );
    assert_eq!(
        analytics::retention::run(&s.state.db, t(NOW), 30)
            .await
            .unwrap(),
        1
    );
    assert_eq!(raw_event_times(&s).await.len(), 17);
}

async fn json_ok(res: reqwest::Response) -> Value {
    let status = res.status();
    let body: Value = res.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test]
async fn kpis_are_tenant_isolated_and_use_the_tenant_time_zone() {
    let s = TestServer::start().await;
    let (lima, lima_token) = s.owner_token("Bodega Lima").await;
    let (kolkata, kolkata_token) = s.owner_token("Chai Kolkata").await;
    json_ok(
        s.put(
            "/api/tenant",
            &kolkata_token,
            json!({"timezone": "Asia/Kolkata"}),
        )
        .await,
    )
    .await;
    record_all(&s, known_events(lima)).await;
    // Kolkata: two inbound messages at 14:00 UTC = 19:30 local, one order in INR.
    record_all(
        &s,
        vec![
            ev(
                kolkata,
                "k1",
                "x1",
                EventKind::MessageIn,
                "2026-11-20T14:00:00Z",
            ),
            ev(
                kolkata,
                "k1",
                "x2",
                EventKind::MessageIn,
                "2026-11-20T14:10:00Z",
            ),
            ev(
                kolkata,
                "k1",
                "x2",
                order(99_00, "INR"),
                "2026-11-20T14:20:00Z",
            ),
        ],
    )
    .await;

    let q = "range=custom&from=2026-11-20T00:00:00Z&to=2026-11-22T00:00:00Z";
    let k = json_ok(
        s.get(&format!("/api/analytics/metrics?{q}"), &lima_token)
            .await,
    )
    .await;
    assert_eq!(k["timezone"], "America/Lima");
    assert_eq!(k["messages_in"], 5);
    assert_eq!(k["messages_out"], 5);
    assert_eq!(k["send_failed"], 1);
    assert_eq!(k["delivered"], 2);
    assert_eq!(k["delivery_rate"], 0.4);
    assert_eq!(k["error_rate"], 2.0 / 6.0);
    assert_eq!(k["response_time"]["count"], 4);
    assert_eq!(k["response_time"]["avg_ms"], 9500.0);
    assert_eq!(k["response_time"]["p95_ms"], 30_000);
    assert_eq!(k["active_bots"], 2);
    assert_eq!(k["active_conversations"], 3);
    assert_eq!(k["converted_conversations"], 2);
    assert_eq!(k["conversion_rate"], 2.0 / 3.0);
    assert_eq!(
        k["orders"],
        json!([
            {"currency": "PEN", "orders": 1, "revenue_minor": 2500},
            {"currency": "USD", "orders": 1, "revenue_minor": 1000}
        ])
    );
    assert_eq!(k["handoffs"], 1);
    let mut hours = vec![0; 24];
    hours[9] = 3; // 14:00-14:05 UTC
    hours[10] = 1; // 15:10 UTC
    hours[22] = 1; // 03:30 UTC next day
    assert_eq!(k["engagement_by_hour"], json!(hours));

    let k = json_ok(
        s.get(&format!("/api/analytics/metrics?{q}"), &kolkata_token)
            .await,
    )
    .await;
    assert_eq!(k["timezone"], "Asia/Kolkata");
    assert_eq!(k["messages_in"], 2);
    assert_eq!(k["active_bots"], 1);
    assert_eq!(
        k["orders"],
        json!([{"currency": "INR", "orders": 1, "revenue_minor": 9900}])
    );
    let mut hours = vec![0; 24];
    hours[19] = 2;
    assert_eq!(k["engagement_by_hour"], json!(hours));

    // One bot only.
    let k = json_ok(
        s.get(&format!("/api/analytics/metrics?{q}&bot=b2"), &lima_token)
            .await,
    )
    .await;
    assert_eq!(
        (k["messages_in"].clone(), k["handoffs"].clone()),
        (json!(1), json!(1))
    );
    // Another tenant's bot id shows nothing.
    let k = json_ok(
        s.get(&format!("/api/analytics/metrics?{q}&bot=k1"), &lima_token)
            .await,
    )
    .await;
    assert_eq!(k["messages_in"], 0);

    // A bad range names its field.
    let res = s
        .get(
            "/api/analytics/metrics?range=custom&from=2026-11-20T00:00:00Z",
            &lima_token,
        )
        .await;
    let body = common::assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "to");
    let res = s.get("/api/analytics/metrics?range=1y", &lima_token).await;
    common::assert_problem(res, 422, "validation_failed").await;
    // Preset ranges end now (the known events are days old).
    let k = json_ok(s.get("/api/analytics/metrics?range=24h", &lima_token).await).await;
    assert_eq!(k["messages_in"], 0);
}

#[tokio::test]
async fn timeseries_read_rollups_in_utc_hours_and_local_days() {
    let s = TestServer::start().await;
    let (lima, token) = s.owner_token("Bodega Lima").await;
    let (other, _) = s.owner_token("Otra").await;
    record_all(&s, known_events(lima)).await;
    record_all(&s, known_events(other)).await;
    rollup::run(&s.state.db, t(NOW), 30).await.unwrap();

    let q = "range=custom&from=2026-11-20T13:00:00Z&to=2026-11-20T16:00:00Z";
    let series = json_ok(
        s.get(
            &format!("/api/analytics/timeseries?metric=message_in&bucket=hour&{q}"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(
        series["points"],
        json!([
            {"bucket": "2026-11-20T13:00:00Z", "value": 0.0},
            {"bucket": "2026-11-20T14:00:00Z", "value": 3.0},
            {"bucket": "2026-11-20T15:00:00Z", "value": 1.0}
        ])
    );
    let q = "range=custom&from=2026-11-20T05:00:00Z&to=2026-11-22T05:00:00Z";
    let series = json_ok(
        s.get(
            &format!("/api/analytics/timeseries?metric=response_ms_avg&bucket=day&{q}"),
            &token,
        )
        .await,
    )
    .await;
    assert_eq!(
        series["points"],
        json!([
            {"bucket": "2026-11-20", "value": 9500.0},
            {"bucket": "2026-11-21", "value": 0.0}
        ])
    );
    let res = s
        .get("/api/analytics/timeseries?metric=drop%20table", &token)
        .await;
    common::assert_problem(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn the_event_list_pages_with_a_cursor_and_filters() {
    let s = TestServer::start().await;
    let (lima, token) = s.owner_token("Bodega Lima").await;
    let (other, other_token) = s.owner_token("Otra").await;
    record_all(&s, known_events(lima)).await;
    record_all(
        &s,
        vec![ev(
            other,
            "b1",
            "c1",
            EventKind::MessageIn,
            "2026-11-20T14:00:00Z",
        )],
    )
    .await;

    let mut seen = vec![];
    let mut path = "/api/analytics/events?limit=5".to_string();
    loop {
        let page = json_ok(s.get(&path, &token).await).await;
        for e in page["items"].as_array().unwrap() {
            seen.push(e["id"].as_i64().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => path = format!("/api/analytics/events?limit=5&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 17);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );

    let page = json_ok(
        s.get("/api/analytics/events?kind=order_created", &token)
            .await,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["data"]["currency"], "USD");
    assert_eq!(items[0]["data"]["total_minor"], 1000);
    let page = json_ok(
        s.get(
            "/api/analytics/events?bot=b1&kind=message_out&from=2026-11-20T14:00:31Z&to=2026-11-21T00:00:00Z",
            &token,
        )
        .await,
    )
    .await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["response_ms"], 2000);
    assert_eq!(items[1]["response_ms"], Value::Null);

    let page = json_ok(s.get("/api/analytics/events", &other_token).await).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "tenant-isolated"
    );
    let res = s.get("/api/analytics/events?kind=nope", &token).await;
    common::assert_problem(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn a_forced_500_lands_in_error_logs_with_its_request_id() {
    let s = TestServer::start().await;
    let (_, token) = s.owner_token("Bodega Lima").await;
    let (_, other_token) = s.owner_token("Otra").await;
    // Make the database fail underneath a real route: the events table goes away.
    s.state
        .db
        .write(|c| {
            c.execute_batch("ALTER TABLE events RENAME TO events_gone")?;
            Ok(())
        })
        .await
        .unwrap();
    let res = s.get("/api/analytics/events", &token).await;
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_string();
    let body = common::assert_problem(res, 500, "internal").await;
    assert!(
        !body.to_string().contains("events"),
        "internals stay in the log: {body}"
    );

    // The log row is written just after the response; wait for it.
    let mut page = Value::Null;
    for _ in 0..50 {
        page = json_ok(s.get("/api/admin/errors", &token).await).await;
        if page["unseen_count"].as_i64() == Some(1) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(page["unseen_count"], 1, "{page}");
    let e = &page["items"][0];
    assert_eq!(e["request_id"], request_id.as_str());
    assert_eq!(e["service"], "http");
    assert_eq!(e["module"], "/api/analytics/events");
    assert!(e["message"].as_str().unwrap().contains("events"), "{e}");

    // Another tenant does not see it; marking it seen clears the counter.
    let theirs = json_ok(s.get("/api/admin/errors", &other_token).await).await;
    assert_eq!(theirs["unseen_count"], 0);
    assert_eq!(theirs["items"], json!([]));
    let seen = json_ok(s.post("/api/admin/errors/seen", &token, json!({})).await).await;
    assert_eq!(
        (seen["marked"].clone(), seen["unseen_count"].clone()),
        (json!(1), json!(0))
    );
    let page = json_ok(s.get("/api/admin/errors?unseen=true", &token).await).await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn job_errors_are_logged_and_a_critical_one_opens_one_incident() {
    let s = TestServer::start().await;
    let (tenant, token) = s.owner_token("Bodega Lima").await;
    let viewer_pw = s
        .seed_user(tenant, "viewer@example.com", dashoffice::auth::Role::Viewer)
        .await;
    for _ in 0..3 {
        s.state
            .db
            .write(move |c| {
                analytics::errors::record(
                    c,
                    Some(tenant),
                    "worker",
                    "outbox",
                    Severity::Critical,
                    "disk full",
                    None,
                )?;
                Ok(())
            })
            .await
            .unwrap();
    }
    let page = json_ok(s.get("/api/admin/errors", &token).await).await;
    assert_eq!(page["unseen_count"], 3);
    let inc = json_ok(s.get("/api/admin/incidents", &token).await).await;
    let items = inc["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], IncidentKind::CriticalError.as_str());
    assert_eq!(items[0]["occurrences"], 3);
    let id = items[0]["id"].as_i64().unwrap();

    // Viewers cannot see the admin pages.
    let viewer = s.login("viewer@example.com", &viewer_pw).await;
    let viewer = viewer["access_token"].as_str().unwrap();
    common::assert_problem(s.get("/api/admin/errors", viewer).await, 403, "forbidden").await;

    let done = json_ok(
        s.post(
            &format!("/api/admin/incidents/{id}/resolve"),
            &token,
            json!({}),
        )
        .await,
    )
    .await;
    assert_eq!(done["resolved"], true);
    let inc = json_ok(s.get("/api/admin/incidents", &token).await).await;
    assert_eq!(inc["items"], json!([]));
    let res = s
        .post(
            &format!("/api/admin/incidents/{id}/resolve"),
            &token,
            json!({}),
        )
        .await;
    common::assert_problem(res, 404, "not_found").await;
}

#[tokio::test]
async fn recording_in_a_failed_transaction_leaves_no_event() {
    let s = TestServer::start().await;
    let (tenant, _) = s.owner_token("Bodega Lima").await;
    let res: Result<(), _> = s
        .state
        .db
        .write(move |c| {
            analytics::record(c, &Event::new(tenant, EventKind::MessageIn))?;
            Err(dashoffice::store::DbError::Other("the order failed".into()))
        })
        .await;
    assert!(res.is_err());
    assert!(raw_event_times(&s).await.is_empty());
}

#[tokio::test]
async fn the_rollup_worker_runs_on_its_own_and_its_failures_land_in_error_logs() {
    let s = TestServer::start_with(|c| c.analytics.rollup_interval_secs = 1).await;
    let (tenant, _) = s.owner_token("Bodega Lima").await;
    let at = Utc::now() - chrono::Duration::hours(1);
    record_all(
        &s,
        vec![Event::new(tenant, EventKind::MessageIn).bot("b1").at(at)],
    )
    .await;
    let mut rolled = false;
    for _ in 0..60 {
        if !snapshot(&s).await.is_empty() {
            rolled = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(rolled, "the worker rolled the event up");

    // Break the table under the worker: its next pass fails and is logged.
    s.state
        .db
        .write(|c| {
            c.execute_batch("ALTER TABLE events RENAME TO events_gone")?;
            Ok(())
        })
        .await
        .unwrap();
    let mut logged = None;
    for _ in 0..60 {
        logged = s
            .state
            .db
            .read(|c| {
                use rusqlite::OptionalExtension;
                Ok(c.query_row(
                    "SELECT message FROM error_logs WHERE service = 'worker' AND module = 'analytics-rollup'",
                    [],
                    |r| r.get::<_, String>(0),
                )
                .optional()?)
            })
            .await
            .unwrap();
        if logged.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let message = logged.expect("the failed job is in error_logs");
    assert!(message.contains("events"), "{message}");
}
