//! Rollups: raw events -> `analytics_hourly` (UTC hours) and `analytics_daily` (dates in the
//! tenant's time zone, because "today's sales" means the shop's today).
//!
//! Each pass looks at the events inserted since the last pass (event id > watermark), finds
//! the (tenant, hour) and (tenant, local day) buckets they fall in, and recomputes those
//! buckets *whole* from raw events, replacing their rows. So a second pass changes nothing,
//! and a late event (old timestamp, new id) makes its old buckets be recomputed.
//!
//! The heavy part (scanning events) runs on a read connection inside one read transaction
//! (a consistent snapshot), so the shared writer is only held for the short replace step.
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
}

struct TenantRollup {
    tenant: TenantId,
    hours: Vec<String>,
    days: Vec<String>,
    hourly: Vec<(String, String, String, i64)>,
    daily: Vec<(String, String, String, i64)>,
}

struct Plan {
    from_watermark: i64,
    to_watermark: i64,
    new_events: i64,
    frozen: usize,
    tenants: Vec<TenantRollup>,
}

/// The earliest bucket start the rollup may still recompute at `now`.
pub fn horizon_ms(now: DateTime<Utc>, retention_days: u32) -> i64 {
    now.timestamp_millis() - i64::from(retention_days) * DAY_MS + DAY_MS
}

/// One rollup pass. Safe to run any number of times and concurrently (a pass that lost the
/// race to another one writes nothing).
pub async fn run(
    db: &Db,
    now: DateTime<Utc>,
    retention_days: u32,
) -> Result<RollupReport, DbError> {
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
    let mut report = RollupReport {
        new_events: plan.new_events,
        hourly_buckets: plan.tenants.iter().map(|t| t.hours.len()).sum(),
        daily_buckets: plan.tenants.iter().map(|t| t.days.len()).sum(),
        rows_written: plan
            .tenants
            .iter()
            .map(|t| t.hourly.len() + t.daily.len())
            .sum(),
        frozen_buckets: plan.frozen,
        watermark: plan.to_watermark,
    };
    let applied = db.write(move |c| apply(c, &plan)).await?;
    if !applied {
        report = RollupReport {
            watermark: db.read(watermark).await?,
            ..RollupReport::default()
        };
    }
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
    let mut tenants = vec![];
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
        let rows_of = |key: String, bot: String, f: Figures| {
            let all = bot == ALL_BOTS;
            f.metrics(all)
                .into_iter()
                .map(move |(m, v)| (bot.clone(), key.clone(), m, v))
        };
        tenants.push(TenantRollup {
            tenant,
            hours: live_hours.iter().map(|h| hour_text(*h)).collect(),
            days: days.keys().map(|d| d.to_string()).collect(),
            hourly: hourly
                .into_iter()
                .flat_map(|((h, bot), f)| rows_of(hour_text(h), bot, f))
                .collect(),
            daily: daily
                .into_iter()
                .flat_map(|((d, bot), f)| rows_of(d.to_string(), bot, f))
                .collect(),
        });
    }
    Ok(Some(Plan {
        from_watermark: from_wm,
        to_watermark: max_id,
        new_events,
        frozen,
        tenants,
    }))
}

fn add<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Figures>, key: K, f: &EventFacts) {
    map.entry(key).or_default().add(f);
}

/// Replaces the planned buckets; false when another pass moved the watermark meanwhile.
fn apply(c: &Connection, plan: &Plan) -> Result<bool, DbError> {
    if watermark(c)? != plan.from_watermark {
        return Ok(false);
    }
    for (table, pick) in [("analytics_hourly", true), ("analytics_daily", false)] {
        let mut del = c.prepare_cached(&format!(
            "DELETE FROM {table} WHERE tenant_id = ?1 AND bucket = ?2"
        ))?;
        let mut ins = c.prepare_cached(&format!(
            "INSERT INTO {table} (tenant_id, bot_id, bucket, metric, value) VALUES (?1, ?2, ?3, ?4, ?5)"
        ))?;
        for t in &plan.tenants {
            let (buckets, rows) = if pick {
                (&t.hours, &t.hourly)
            } else {
                (&t.days, &t.daily)
            };
            for b in buckets {
                del.execute(params![t.tenant, b])?;
            }
            for (bot, bucket, metric, value) in rows {
                ins.execute(params![t.tenant, bot, bucket, metric, value])?;
            }
        }
    }
    c.execute(
        "UPDATE analytics_state SET value = ?1 WHERE key = 'rollup_watermark'",
        [plan.to_watermark],
    )?;
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
