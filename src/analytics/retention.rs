//! Retention: raw events older than N days are deleted; rollups stay. Only events the
//! rollup has already seen (id <= watermark) are deleted, so a stalled rollup loses nothing.
//! Deletes go in batches so the shared writer is never held for long.

use chrono::{DateTime, Utc};
use rusqlite::params;

use crate::store::{Db, DbError};

const BATCH: i64 = 5_000;

/// Deletes raw events with a timestamp before `now - days`. Returns how many went.
pub async fn run(db: &Db, now: DateTime<Utc>, days: u32) -> Result<u64, DbError> {
    let cutoff = now.timestamp_millis() - i64::from(days) * 86_400_000;
    let mut total = 0u64;
    // Walk the ids upwards once: events are appended roughly in time order.
    let mut after = 0i64;
    loop {
        let (n, last) = db
            .write(move |c| {
                let wm = super::rollup::watermark(c)?;
                let ids: Vec<i64> = c
                    .prepare_cached(
                        "SELECT id FROM events WHERE id > ?1 AND id <= ?2 AND at_ms < ?3
                         ORDER BY id LIMIT ?4",
                    )?
                    .query_map(params![after, wm, cutoff, BATCH], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let mut del = c.prepare_cached("DELETE FROM events WHERE id = ?1")?;
                for id in &ids {
                    del.execute([id])?;
                }
                Ok((ids.len() as u64, ids.last().copied()))
            })
            .await?;
        total += n;
        match last {
            Some(id) if n == BATCH as u64 => after = id,
            _ => break,
        }
    }
    if total > 0 {
        tracing::info!(deleted = total, days, "deleted raw events past retention");
    }
    metrics::counter!(super::metric_names::RETENTION_DELETED_TOTAL).increment(total);
    Ok(total)
}
