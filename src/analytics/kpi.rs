//! KPIs over a time range, computed from raw events so they are exact (distinct
//! conversations, p95, the tenant's local hour of day) and include events the rollup has
//! not reached yet. Ranges reaching past retention only see the events still kept; charts
//! over long spans use the rollups ([`super::rollup::timeseries`]).

use std::collections::HashMap;

use chrono::{DateTime, Duration, Timelike, Utc};
use rusqlite::{params, Connection};
use serde::Serialize;

use super::aggregate::{EventFacts, Figures, FACT_COLUMNS};
use crate::ids::TenantId;
use crate::store::DbError;

/// Longest span a custom range may cover.
pub const MAX_SPAN_DAYS: i64 = 400;

/// A field of the range that does not make sense.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeError {
    pub field: &'static str,
    pub message: String,
}

/// `range=24h|7d|30d` ends now; `range=custom` needs `from` and `to` (RFC 3339).
/// Returns [from, to) in Unix ms.
pub fn parse_range(
    range: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(i64, i64), RangeError> {
    let bad = |field, message: &str| RangeError {
        field,
        message: message.to_string(),
    };
    let back = match range.unwrap_or("24h") {
        "24h" => Some(Duration::hours(24)),
        "7d" => Some(Duration::days(7)),
        "30d" => Some(Duration::days(30)),
        "custom" => None,
        _ => return Err(bad("range", "must be 24h, 7d, 30d or custom")),
    };
    if let Some(back) = back {
        if from.is_some() || to.is_some() {
            return Err(bad("range", "from and to go with range=custom"));
        }
        return Ok(((now - back).timestamp_millis(), now.timestamp_millis()));
    }
    let parse = |field: &'static str, v: Option<&str>| -> Result<i64, RangeError> {
        let v = v.ok_or_else(|| bad(field, "required with range=custom"))?;
        DateTime::parse_from_rfc3339(v)
            .map(|t| t.timestamp_millis())
            .map_err(|_| bad(field, "must be an RFC 3339 time like 2026-11-24T00:00:00Z"))
    };
    let (f, t) = (parse("from", from)?, parse("to", to)?);
    if t <= f {
        return Err(bad("to", "must be after from"));
    }
    if t - f > MAX_SPAN_DAYS * 86_400_000 {
        return Err(bad("to", "the range may span at most 400 days"));
    }
    Ok((f, t))
}

#[derive(Debug, Clone, Serialize)]
pub struct ResponseTime {
    pub count: i64,
    pub avg_ms: Option<f64>,
    pub p95_ms: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CurrencyFigures {
    pub currency: String,
    pub orders: i64,
    pub revenue_minor: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Kpis {
    pub from: String,
    pub to: String,
    pub bot: Option<String>,
    pub timezone: String,
    pub messages_in: i64,
    pub messages_out: i64,
    pub send_failed: i64,
    pub delivered: i64,
    pub delivery_failed: i64,
    /// delivered / messages out.
    pub delivery_rate: Option<f64>,
    /// (send failures + failed deliveries) / (messages out + send failures).
    pub error_rate: Option<f64>,
    pub response_time: ResponseTime,
    pub active_bots: i64,
    pub active_conversations: i64,
    pub converted_conversations: i64,
    /// Conversations with an order / active conversations.
    pub conversion_rate: Option<f64>,
    pub orders: Vec<CurrencyFigures>,
    pub orders_cancelled: i64,
    pub flows_started: i64,
    pub flows_completed: i64,
    pub handoffs: i64,
    /// Inbound messages per hour of day (0..=23) in the tenant's time zone.
    pub engagement_by_hour: Vec<i64>,
}

fn ratio(num: i64, den: i64) -> Option<f64> {
    (den > 0).then(|| num as f64 / den as f64)
}

/// The KPIs of `tenant` (optionally one bot) over [from, to).
pub fn metrics(
    c: &Connection,
    tenant: TenantId,
    bot: Option<&str>,
    from_ms: i64,
    to_ms: i64,
) -> Result<Kpis, DbError> {
    let tz = super::tenant_tz(c, tenant)?;
    let mut fig = Figures::default();
    let mut by_hour = vec![0i64; 24];
    let mut hour_of_quarter: HashMap<i64, usize> = HashMap::new();
    let mut st = c.prepare_cached(&format!(
        "SELECT {FACT_COLUMNS} FROM events
         WHERE tenant_id = ?1 AND at_ms >= ?2 AND at_ms < ?3 AND (?4 IS NULL OR bot_id = ?4)"
    ))?;
    let mut rows = st.query(params![tenant, from_ms, to_ms, bot])?;
    while let Some(r) = rows.next()? {
        let f = EventFacts::from_row(r)?;
        if f.kind == "message_in" {
            // UTC offsets are multiples of 15 minutes: the local hour is fixed per quarter.
            let q = f.at_ms.div_euclid(900_000);
            let h = *hour_of_quarter.entry(q).or_insert_with(|| {
                DateTime::<Utc>::from_timestamp_millis(f.at_ms)
                    .map(|t| t.with_timezone(&tz).hour() as usize)
                    .unwrap_or(0)
            });
            if let Some(slot) = by_hour.get_mut(h) {
                *slot += 1;
            }
        }
        fig.add(&f);
    }
    let (n, sum, p95) = fig.response();
    let out = fig.count("message_out");
    let failed = fig.count("send_failed");
    let delivered = fig.count("delivery_status.delivered");
    let delivery_failed = fig.count("delivery_status.failed");
    Ok(Kpis {
        from: super::ms_text(from_ms),
        to: super::ms_text(to_ms),
        bot: bot.map(str::to_string),
        timezone: tz.name().to_string(),
        messages_in: fig.count("message_in"),
        messages_out: out,
        send_failed: failed,
        delivered,
        delivery_failed,
        delivery_rate: ratio(delivered, out).map(|r| r.min(1.0)),
        error_rate: ratio(failed + delivery_failed, out + failed),
        response_time: ResponseTime {
            count: n,
            avg_ms: ratio(sum, n),
            p95_ms: p95,
        },
        active_bots: fig.active_bots(),
        active_conversations: fig.active_conversations(),
        converted_conversations: fig.converted_conversations(),
        conversion_rate: ratio(fig.converted_conversations(), fig.active_conversations()),
        orders: fig
            .orders_by_currency()
            .into_iter()
            .map(|(currency, orders, revenue_minor)| CurrencyFigures {
                currency,
                orders,
                revenue_minor,
            })
            .collect(),
        orders_cancelled: fig.count("order_cancelled"),
        flows_started: fig.count("flow_started"),
        flows_completed: fig.count("flow_completed"),
        handoffs: fig.count("handoff"),
        engagement_by_hour: by_hour,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_and_bad_ones_name_the_field() {
        let now = Utc::now();
        let (f, t) = parse_range(Some("7d"), None, None, now).unwrap();
        assert_eq!(t - f, 7 * 86_400_000);
        assert_eq!(
            parse_range(Some("1y"), None, None, now).unwrap_err().field,
            "range"
        );
        assert_eq!(
            parse_range(Some("custom"), Some("2026-01-01T00:00:00Z"), None, now)
                .unwrap_err()
                .field,
            "to"
        );
        assert_eq!(
            parse_range(
                Some("custom"),
                Some("yesterday"),
                Some("2026-01-01T00:00:00Z"),
                now
            )
            .unwrap_err()
            .field,
            "from"
        );
        let (f, t) = parse_range(
            Some("custom"),
            Some("2026-01-01T00:00:00Z"),
            Some("2026-01-02T00:00:00-05:00"),
            now,
        )
        .unwrap();
        assert_eq!(t - f, 29 * 3_600_000);
    }
}
