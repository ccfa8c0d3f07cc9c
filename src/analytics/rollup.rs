//! Rollups: raw events -> `analytics_hourly` (UTC hours) and `analytics_daily` (dates in the
//! tenant's time zone, because "today's sales" means the shop's today).
//!
//! Each pass looks at the events inserted since the last pass (event id > watermark), finds
//! the (tenant, hour) and (tenant, local day) buckets they fall in, and recomputes those
//! buckets *whole* from raw events, replacing their rows. So a second pass changes nothing,
//! and a late event (old timestamp, new id) makes its old buckets be recomputed.
//!
//! The heavy part (scanning events) runs on a read connection inside one read transaction
//! (a consistent snapshot); the replacement rows go to the shared writer in chunks of whole
//! buckets (~50k rows each), so other writers wait at most one short chunk. The watermark
//! moves only after the last chunk: a crash mid-pass just means the next pass redoes it.
//! Buckets that start before the retention horizon are never recomputed: their raw events
//! may already be gone, and recomputing them would lose figures.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection};

use super::aggregate::{EventFacts, Figures, FACT_COLUMNS};
use crate::ids::TenantId;
use crate::store::{Db, DbError};

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
/// Every UTC offset in use is a multiple of 15 minutes, so the local date is constant
/// within each UTC quarter hour.
const QUARTER_MS: i64 = 900_000;
/// Bot key of the all-bots rows.
pub const ALL_BOTS: &str = "*";

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RollupReport {
    pub new_events: i64,
    pub hourly_buckets: usize,
    pub daily_buckets: usize,
    pub rows_written: usize,
    /// Buckets with new events that were older than the retention horizon.
    pub frozen_buckets: usize,
    pub watermark: i64,
    /// Time scanning events (on a reader) and writing rows (on the writer).
    pub compute_ms: u64,
    pub write_ms: u64,
}

/// Rows replacing some whole buckets of one table, written in one write closure. A pass is
/// split into chunks of about [`CHUNK_ROWS`] rows so the shared writer is never held long;
/// a crash between chunks leaves the watermark behind, and the next pass redoes them all.
struct Chunk {
    table: &'static str,
    tenant: TenantId,
    buckets: Vec<String>,
    /// (bot, bucket, metric, value)
    rows: Vec<(String, String, String, i64)>,
}

const CHUNK_ROWS: usize = 50_000;

struct Plan {
    from_watermark: i64,
    to_watermark: i64,
    new_events: i64,
    frozen: usize,
    hourly_buckets: usize,
    daily_buckets: usize,
    chunks: Vec<Chunk>,
}

/// Passes of one process run one at a time: two interleaved passes could let the older
/// snapshot's chunk land last.
static PASS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The earliest bucket start the rollup may still recompute at `now`.
pub fn horizon_ms(now: DateTime<Utc>, retention_days: u32) -> i64 {
    now.timestamp_millis() - i64::from(retention_days) * DAY_MS + DAY_MS
}

/// One rollup pass. Safe to run any number of times; passes are serialised.
pub async fn run(
    db: &Db,
    now: DateTime<Utc>,
    retention_days: u32,
) -> Result<RollupReport, DbError> {
    let _one_at_a_time = PASS.lock().await;
    let started = Instant::now();
    let horizon = horizon_ms(now, retention_days);
    let plan = db
        .read(move |c| {
            c.execute_batch("BEGIN")?;
            let plan = compute(c, horizon);
            let _ = c.execute_batch("COMMIT");
            plan
        })
        .await?;
    let Some(plan) = plan else {
        let watermark = db.read(watermark).await?;
        return Ok(RollupReport {
            watermark,
            ..RollupReport::default()
        });
    };
    let compute_ms = started.elapsed().as_millis() as u64;
    let mut report = RollupReport {
        new_events: plan.new_events,
        hourly_buckets: plan.hourly_buckets,
        daily_buckets: plan.daily_buckets,
        rows_written: plan.chunks.iter().map(|c| c.rows.len()).sum(),
        frozen_buckets: plan.frozen,
        watermark: plan.to_watermark,
        compute_ms,
        write_ms: 0,
    };
    let (from_wm, to_wm) = (plan.from_watermark, plan.to_watermark);
    for chunk in plan.chunks {
        let applied = db.write(move |c| apply(c, from_wm, &chunk)).await?;
        if !applied {
            return Err(DbError::Other(
                "the rollup watermark moved during a pass".into(),
            ));
        }
    }
    db.write(move |c| {
        c.execute(
            "UPDATE analytics_state SET value = ?1 WHERE key = 'rollup_watermark'",
            [to_wm],
        )?;
        Ok(())
    })
    .await?;
    report.write_ms = started.elapsed().as_millis() as u64 - compute_ms;
    metrics::histogram!(super::metric_names::ROLLUP_DURATION_SECONDS)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!(super::metric_names::ROLLUP_EVENTS_TOTAL).increment(report.new_events as u64);
    if report.frozen_buckets > 0 {
        tracing::warn!(
            buckets = report.frozen_buckets,
            "late events older than the retention horizon were not rolled up"
        );
    }
    Ok(report)
}

/// Forgets the watermark so the next pass recomputes every bucket still inside the horizon.
pub async fn reset(db: &Db) -> Result<(), DbError> {
    db.write(|c| {
        c.execute(
            "UPDATE analytics_state SET value = 0 WHERE key = 'rollup_watermark'",
            [],
        )?;
        Ok(())
    })
    .await
}

pub fn watermark(c: &Connection) -> Result<i64, DbError> {
    Ok(c.query_row(
        "SELECT value FROM analytics_state WHERE key = 'rollup_watermark'",
        [],
        |r| r.get(0),
    )?)
}

pub fn hour_text(hour: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(hour * HOUR_MS)
        .map(|t| t.format("%Y-%m-%dT%H:00:00Z").to_string())
        .unwrap_or_default()
}

/// UTC [start, end) in ms of a local date.
pub fn day_range(tz: Tz, day: NaiveDate) -> (i64, i64) {
    let start_of = |d: NaiveDate| -> i64 {
        let midnight = d.and_hms_opt(0, 0, 0).unwrap_or_default();
        match tz.from_local_datetime(&midnight) {
            chrono::LocalResult::Single(t) => t.timestamp_millis(),
            chrono::LocalResult::Ambiguous(a, _) => a.timestamp_millis(),
            // Midnight skipped by a DST jump: the day starts when the clock resumes.
            chrono::LocalResult::None => {
                let one = d.and_hms_opt(1, 0, 0).unwrap_or_default();
                tz.from_local_datetime(&one)
                    .earliest()
                    .map(|t| t.timestamp_millis())
                    .unwrap_or_else(|| midnight.and_utc().timestamp_millis())
            }
        }
    };
    let next = day.succ_opt().unwrap_or(day);
    (start_of(day), start_of(next))
}

pub fn local_day(tz: Tz, at_ms: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(at_ms)
        .map(|t| t.with_timezone(&tz).date_naive())
        .unwrap_or_default()
}

fn compute(c: &Connection, horizon: i64) -> Result<Option<Plan>, DbError> {
    let from_wm = watermark(c)?;
    let max_id: i64 = c.query_row("SELECT COALESCE(MAX(id), 0) FROM events", [], |r| r.get(0))?;
    if max_id <= from_wm {
        return Ok(None);
    }
    let mut dirty: BTreeMap<TenantId, BTreeSet<i64>> = BTreeMap::new();
    let mut new_events = 0i64;
    {
        let mut st = c.prepare(
            "SELECT tenant_id, at_ms / 3600000, COUNT(*) FROM events
             WHERE id > ?1 AND id <= ?2 GROUP BY 1, 2",
        )?;
        let mut rows = st.query(params![from_wm, max_id])?;
        while let Some(r) = rows.next()? {
            let t: TenantId = r.get(0)?;
            dirty.entry(t).or_default().insert(r.get(1)?);
            new_events += r.get::<_, i64>(2)?;
        }
    }
    let mut frozen = 0usize;
    let (mut hourly_buckets, mut daily_buckets) = (0, 0);
    let mut chunks = vec![];
    for (tenant, hours) in dirty {
        let tz = super::tenant_tz(c, tenant)?;
        let mut live_hours = BTreeSet::new();
        let mut days = BTreeSet::new();
        for h in hours {
            let (start, end) = (h * HOUR_MS, (h + 1) * HOUR_MS);
            if start >= horizon {
                live_hours.insert(h);
            } else {
                frozen += 1;
            }
            for d in [local_day(tz, start), local_day(tz, end - 1)] {
                days.insert(d);
            }
        }
        let days: BTreeMap<NaiveDate, (i64, i64)> = days
            .into_iter()
            .map(|d| (d, day_range(tz, d)))
            .filter(|(_, (start, _))| {
                let live = *start >= horizon;
                if !live {
                    frozen += 1;
                }
                live
            })
            .collect();
        // Scan each merged interval once, filling hourly and daily figures together.
        let mut intervals: Vec<(i64, i64)> = live_hours
            .iter()
            .map(|h| (h * HOUR_MS, (h + 1) * HOUR_MS))
            .chain(days.values().copied())
            .collect();
        intervals.sort_unstable();
        let mut merged: Vec<(i64, i64)> = vec![];
        for (s, e) in intervals {
            match merged.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => merged.push((s, e)),
            }
        }
        let mut hourly: HashMap<(i64, String), Figures> = HashMap::new();
        let mut daily: HashMap<(NaiveDate, String), Figures> = HashMap::new();
        let mut day_of_quarter: HashMap<i64, NaiveDate> = HashMap::new();
        let mut st = c.prepare_cached(&format!(
            "SELECT {FACT_COLUMNS} FROM events
             WHERE tenant_id = ?1 AND at_ms >= ?2 AND at_ms < ?3 AND id <= ?4"
        ))?;
        for (s, e) in merged {
            let mut rows = st.query(params![tenant, s, e, max_id])?;
            while let Some(r) = rows.next()? {
                let f = EventFacts::from_row(r)?;
                let bot = f.bot_id.clone().unwrap_or_default();
                let h = f.at_ms.div_euclid(HOUR_MS);
                if live_hours.contains(&h) {
                    add(&mut hourly, (h, bot.clone()), &f);
                    add(&mut hourly, (h, ALL_BOTS.to_string()), &f);
                }
                let q = f.at_ms.div_euclid(QUARTER_MS);
                let day = *day_of_quarter
                    .entry(q)
                    .or_insert_with(|| local_day(tz, f.at_ms));
                if days.contains_key(&day) {
                    add(&mut daily, (day, bot), &f);
                    add(&mut daily, (day, ALL_BOTS.to_string()), &f);
                }
            }
        }
        hourly_buckets += live_hours.len();
        daily_buckets += days.len();
        // Every dirty bucket is replaced, even one left with no rows.
        let mut by_bucket: BTreeMap<String, Vec<(String, String, i64)>> = BTreeMap::new();
        for h in &live_hours {
            by_bucket.insert(hour_text(*h), vec![]);
        }
        for ((h, bot), f) in hourly {
            let rows = by_bucket.entry(hour_text(h)).or_default();
            let all = bot == ALL_BOTS;
            rows.extend(f.metrics(all).into_iter().map(|(m, v)| (bot.clone(), m, v)));
        }
        chunk_up(&mut chunks, "analytics_hourly", tenant, by_bucket);
        let mut by_bucket: BTreeMap<String, Vec<(String, String, i64)>> = BTreeMap::new();
        for d in days.keys() {
            by_bucket.insert(d.to_string(), vec![]);
        }
        for ((d, bot), f) in daily {
            let rows = by_bucket.entry(d.to_string()).or_default();
            let all = bot == ALL_BOTS;
            rows.extend(f.metrics(all).into_iter().map(|(m, v)| (bot.clone(), m, v)));
        }
        chunk_up(&mut chunks, "analytics_daily", tenant, by_bucket);
    }
    Ok(Some(Plan {
        from_watermark: from_wm,
        to_watermark: max_id,
        new_events,
        frozen,
        hourly_buckets,
        daily_buckets,
        chunks,
    }))
}

/// Groups whole buckets into chunks of about [`CHUNK_ROWS`] rows.
fn chunk_up(
    chunks: &mut Vec<Chunk>,
    table: &'static str,
    tenant: TenantId,
    by_bucket: BTreeMap<String, Vec<(String, String, i64)>>,
) {
    let mut cur: Option<Chunk> = None;
    for (bucket, rows) in by_bucket {
        let c = cur.get_or_insert_with(|| Chunk {
            table,
            tenant,
            buckets: vec![],
            rows: vec![],
        });
        c.rows.extend(
            rows.into_iter()
                .map(|(bot, m, v)| (bot, bucket.clone(), m, v)),
        );
        c.buckets.push(bucket);
        if c.rows.len() >= CHUNK_ROWS {
            chunks.extend(cur.take().map(sorted));
        }
    }
    chunks.extend(cur.map(sorted));
}

fn add<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Figures>, key: K, f: &EventFacts) {
    map.entry(key).or_default().add(f);
}

/// Rows in primary-key order (metric, bot, bucket): neighbouring inserts share pages.
fn sorted(mut c: Chunk) -> Chunk {
    c.rows
        .sort_unstable_by(|a, b| (&a.2, &a.0, &a.1).cmp(&(&b.2, &b.0, &b.1)));
    c
}

/// Replaces the chunk's buckets; false when the watermark is not the one planned from.
fn apply(c: &Connection, from_watermark: i64, chunk: &Chunk) -> Result<bool, DbError> {
    if watermark(c)? != from_watermark {
        return Ok(false);
    }
    let table = chunk.table;
    let mut del = c.prepare_cached(&format!(
        "DELETE FROM {table} WHERE tenant_id = ?1 AND bucket = ?2"
    ))?;
    for b in &chunk.buckets {
        del.execute(params![chunk.tenant, b])?;
    }
    let mut ins = c.prepare_cached(&format!(
        "INSERT INTO {table} (tenant_id, bot_id, bucket, metric, value) VALUES (?1, ?2, ?3, ?4, ?5)"
    ))?;
    for (bot, bucket, metric, value) in &chunk.rows {
        ins.execute(params![chunk.tenant, bot, bucket, metric, value])?;
    }
    Ok(true)
}

/// Hour or day buckets, for charts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Grain {
    Hour,
    Day,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Point {
    pub bucket: String,
    pub value: f64,
}

/// A metric per bucket over [from, to), zero-filled. `bot` None = all bots. Hour buckets
/// are UTC hour starts; day buckets are the tenant's local dates. `response_ms_avg` is
/// derived as sum / count per bucket.
pub fn timeseries(
    c: &Connection,
    tenant: TenantId,
    metric: &str,
    grain: Grain,
    bot: Option<&str>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Vec<Point>, DbError> {
    let bot = bot.unwrap_or(ALL_BOTS);
    let keys: Vec<String> = match grain {
        Grain::Hour => (from_ms.div_euclid(HOUR_MS)..=(to_ms - 1).div_euclid(HOUR_MS))
            .map(hour_text)
            .collect(),
        Grain::Day => {
            let tz = super::tenant_tz(c, tenant)?;
            let (first, last) = (local_day(tz, from_ms), local_day(tz, to_ms - 1));
            first
                .iter_days()
                .take_while(|d| *d <= last)
                .map(|d| d.to_string())
                .collect()
        }
    };
    let (Some(lo), Some(hi)) = (keys.first().cloned(), keys.last().cloned()) else {
        return Ok(vec![]);
    };
    let table = match grain {
        Grain::Hour => "analytics_hourly",
        Grain::Day => "analytics_daily",
    };
    let fetch = |m: &str| -> Result<HashMap<String, i64>, DbError> {
        let mut st = c.prepare_cached(&format!(
            "SELECT bucket, value FROM {table}
             WHERE tenant_id = ?1 AND metric = ?2 AND bot_id = ?3 AND bucket >= ?4 AND bucket <= ?5"
        ))?;
        let rows = st.query_map(params![tenant, m, bot, lo, hi], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    };
    let values: HashMap<String, f64> = if metric == "response_ms_avg" {
        let (sum, n) = (fetch("response_ms_sum")?, fetch("response_count")?);
        n.into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(b, n)| {
                let s = sum.get(&b).copied().unwrap_or(0);
                (b, s as f64 / n as f64)
            })
            .collect()
    } else {
        fetch(metric)?
            .into_iter()
            .map(|(b, v)| (b, v as f64))
            .collect()
    };
    Ok(keys
        .into_iter()
        .map(|k| Point {
            value: values.get(&k).copied().unwrap_or(0.0),
            bucket: k,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_follow_the_tenant_zone() {
        let lima: Tz = "America/Lima".parse().unwrap();
        // 2026-03-10 03:00 UTC is still the 9th in Lima (UTC-5).
        let t = Utc.with_ymd_and_hms(2026, 3, 10, 3, 0, 0).unwrap();
        assert_eq!(
            local_day(lima, t.timestamp_millis()).to_string(),
            "2026-03-09"
        );
        let (s, e) = day_range(lima, NaiveDate::from_ymd_opt(2026, 3, 9).unwrap());
        assert_eq!(e - s, DAY_MS);
        assert_eq!(ms_to_hour(s), "2026-03-09T05:00:00Z");
    }

    fn ms_to_hour(ms: i64) -> String {
        hour_text(ms / HOUR_MS)
    }
}
