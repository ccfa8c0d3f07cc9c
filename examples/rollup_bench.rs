//! Rollup benchmark (not a test): 1,000,000 events over 30 days, 10 tenants, 5 bots each.
//! Reports the full rollup time against baselines over the same table in the same run.
//!
//! `cargo run --release --example rollup_bench [events]`
//!
//! Measured 2026-11-24 on a shared 2-core box (load ~5), optimised build without LTO:
//! record 1M events 11.3 s; COUNT(*) 92 ms; GROUP BY tenant,bot,hour,kind 1.77 s;
//! full rollup 7.3 s (scan 3.5 s on a reader + 3.8 s of chunked writes, 545k rows) =
//! 80x COUNT(*), 4.1x the GROUP BY; no-op pass 0.1 s; 1,000 late events spread over the
//! month 6.0 s (they dirty nearly every day, and days are recomputed whole).

use std::time::Instant;

use chrono::{Duration, TimeZone, Utc};
use dashoffice::analytics::{self, rollup, Event, EventKind};
use dashoffice::store::Db;

const TZS: [&str; 5] = [
    "America/Lima",
    "America/Mexico_City",
    "Europe/Madrid",
    "Asia/Kolkata",
    "UTC",
];

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let total: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let db = Db::open(&dir.path().join("bench.sqlite"), "NORMAL", 4)?;
    let tenants = db
        .write(|c| {
            let mut out = vec![];
            for i in 0..10 {
                let t = dashoffice::auth::store::create_tenant(c, &format!("shop {i}"))?;
                c.execute(
                    "UPDATE tenants SET timezone = ?1 WHERE id = ?2",
                    rusqlite::params![TZS[i % TZS.len()], t.id],
                )?;
                out.push(t.id);
            }
            Ok(out)
        })
        .await?;

    // Conversations of 8 events: in, reply, delivered, in, reply, read, flow start, then
    // an order (1 in 10) or the flow completing.
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 12, 0, 0).unwrap();
    let start = now - Duration::days(30);
    let mut seed: u64 = 42;
    let mut rnd = move |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    let convs = total / 8;
    let started = Instant::now();
    let mut batch: Vec<Event> = Vec::with_capacity(80_000);
    for i in 0..convs {
        let tenant = tenants[i % tenants.len()];
        let bot = format!("bot-{}", (i / 10) % 5);
        let conv = format!("conv-{i}");
        let t0 = start + Duration::seconds(rnd(30 * 86_400 - 600) as i64);
        let r1 = Duration::milliseconds(500 + rnd(20_000) as i64);
        let r2 = Duration::milliseconds(500 + rnd(20_000) as i64);
        let e = |k: EventKind, at| Event::new(tenant, k).bot(&bot).conversation(&conv).at(at);
        let status = |s: &str| EventKind::DeliveryStatus { status: s.into() };
        batch.push(e(EventKind::MessageIn, t0));
        batch.push(e(
            EventKind::FlowStarted {
                flow: "menu".into(),
            },
            t0,
        ));
        batch.push(e(EventKind::MessageOut, t0 + r1));
        batch.push(e(status("delivered"), t0 + r1 + Duration::seconds(1)));
        let t1 = t0 + Duration::seconds(60);
        batch.push(e(EventKind::MessageIn, t1));
        batch.push(e(EventKind::MessageOut, t1 + r2));
        batch.push(e(status("read"), t1 + r2 + Duration::seconds(5)));
        batch.push(if rnd(10) == 0 {
            e(
                EventKind::OrderCreated {
                    total_minor: 1000 + rnd(20_000) as i64,
                    currency: "PEN".into(),
                },
                t1 + Duration::seconds(90),
            )
        } else {
            e(
                EventKind::FlowCompleted {
                    flow: "menu".into(),
                },
                t1 + Duration::seconds(90),
            )
        });
        if batch.len() >= 80_000 || i + 1 == convs {
            let events = std::mem::take(&mut batch);
            db.write(move |c| {
                for ev in &events {
                    analytics::record(c, ev)?;
                }
                Ok(())
            })
            .await?;
        }
    }
    let insert = started.elapsed();
    let n: i64 = db
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?))
        .await?;
    println!(
        "events: {n}, recorded in {:.2} s ({:.0}/s, via analytics::record)",
        insert.as_secs_f64(),
        n as f64 / insert.as_secs_f64()
    );

    let t = Instant::now();
    let _: i64 = db
        .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))?))
        .await?;
    let count = t.elapsed();
    let t = Instant::now();
    let groups: i64 = db
        .read(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM (SELECT tenant_id, bot_id, at_ms / 3600000, kind, COUNT(*)
                 FROM events GROUP BY 1, 2, 3, 4)",
                [],
                |r| r.get(0),
            )?)
        })
        .await?;
    let group_by = t.elapsed();

    let t = Instant::now();
    let r = rollup::run(&db, now, 30).await?;
    let full = t.elapsed();
    let t = Instant::now();
    let again = rollup::run(&db, now, 30).await?;
    let noop = t.elapsed();

    // 1,000 late events scattered over the month.
    let late: Vec<Event> = (0..1000)
        .map(|i| {
            Event::new(tenants[i % tenants.len()], EventKind::MessageIn)
                .bot("bot-0")
                .conversation(format!("late-{i}"))
                .at(start + Duration::seconds(86_400 + rnd(28 * 86_400) as i64))
        })
        .collect();
    db.write(move |c| {
        for ev in &late {
            analytics::record(c, ev)?;
        }
        Ok(())
    })
    .await?;
    let t = Instant::now();
    let lr = rollup::run(&db, now, 30).await?;
    let late_t = t.elapsed();

    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    println!("baseline COUNT(*):                  {:>9.1} ms", ms(count));
    println!(
        "baseline GROUP BY tenant,bot,hour,kind: {:>5.1} ms ({groups} groups)",
        ms(group_by)
    );
    println!(
        "full rollup (all {} events):   {:>9.1} ms  = {:.0}x COUNT(*), {:.1}x GROUP BY; {} hourly + {} daily buckets, {} rows",
        r.new_events,
        ms(full),
        ms(full) / ms(count).max(0.001),
        ms(full) / ms(group_by).max(0.001),
        r.hourly_buckets,
        r.daily_buckets,
        r.rows_written
    );
    println!(
        "  of which scanning on a reader {} ms, writing in chunks {} ms",
        r.compute_ms, r.write_ms
    );
    println!(
        "second rollup (nothing new):        {:>9.1} ms (new events {})",
        ms(noop),
        again.new_events
    );
    println!(
        "rollup after 1,000 late events:     {:>9.1} ms ({} hourly + {} daily buckets recomputed)",
        ms(late_t),
        lr.hourly_buckets,
        lr.daily_buckets
    );
    Ok(())
}
