//! `/api/analytics`: KPIs, chart series and the raw event list, for any role of the tenant.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::ApiQuery;
use crate::analytics::events::{self, EventFilter, EventKind, EventRow};
use crate::analytics::kpi::{self, Kpis, RangeError};
use crate::analytics::rollup::{self, Grain, Point};
use crate::app::AppState;
use crate::auth::Auth;
use crate::error::{AppError, AppResult};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/analytics/metrics", get(metrics))
        .route("/analytics/timeseries", get(timeseries))
        .route("/analytics/events", get(list_events))
}

fn range_error(e: RangeError) -> AppError {
    AppError::field(e.field, e.message)
}

fn range(
    range: Option<&str>,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<(i64, i64), AppError> {
    kpi::parse_range(range, from, to, chrono::Utc::now()).map_err(range_error)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MetricsQuery {
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    bot: Option<String>,
}

async fn metrics(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<MetricsQuery>,
) -> AppResult<Json<Kpis>> {
    let (from, to) = range(q.range.as_deref(), q.from.as_deref(), q.to.as_deref())?;
    let tenant = auth.tenant;
    let kpis = state
        .db
        .read(move |c| kpi::metrics(c, tenant, q.bot.as_deref(), from, to))
        .await?;
    Ok(Json(kpis))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SeriesQuery {
    metric: String,
    bucket: Option<Grain>,
    range: Option<String>,
    from: Option<String>,
    to: Option<String>,
    bot: Option<String>,
}

#[derive(Serialize)]
struct Series {
    metric: String,
    bucket: Grain,
    bot: Option<String>,
    points: Vec<Point>,
}

async fn timeseries(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> AppResult<Json<Series>> {
    let metric_ok = !q.metric.is_empty()
        && q.metric.len() <= 64
        && q.metric
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.');
    if !metric_ok {
        return Err(AppError::field(
            "metric",
            "a rollup metric such as message_in, message_out, revenue_minor.PEN or response_ms_avg",
        ));
    }
    let (from, to) = range(q.range.as_deref(), q.from.as_deref(), q.to.as_deref())?;
    let grain = q.bucket.unwrap_or(Grain::Hour);
    let tenant = auth.tenant;
    let (metric, bot) = (q.metric.clone(), q.bot.clone());
    let points = state
        .db
        .read(move |c| rollup::timeseries(c, tenant, &metric, grain, bot.as_deref(), from, to))
        .await?;
    Ok(Json(Series {
        metric: q.metric,
        bucket: grain,
        bot: q.bot,
        points,
    }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventsQuery {
    kind: Option<String>,
    bot: Option<String>,
    from: Option<String>,
    to: Option<String>,
    cursor: Option<i64>,
    limit: Option<u32>,
}

#[derive(Serialize)]
struct EventPage {
    items: Vec<EventRow>,
    next_cursor: Option<String>,
}

fn time_ms(field: &'static str, v: Option<&str>) -> Result<Option<i64>, AppError> {
    v.map(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.timestamp_millis())
            .map_err(|_| AppError::field(field, "must be an RFC 3339 time"))
    })
    .transpose()
}

async fn list_events(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> AppResult<Json<EventPage>> {
    if let Some(k) = &q.kind {
        if !EventKind::NAMES.contains(&k.as_str()) {
            return Err(AppError::field(
                "kind",
                format!("must be one of {}", EventKind::NAMES.join(", ")),
            ));
        }
    }
    let filter = EventFilter {
        kind: q.kind,
        bot: q.bot,
        from_ms: time_ms("from", q.from.as_deref())?,
        to_ms: time_ms("to", q.to.as_deref())?,
        before: q.cursor,
        limit: q.limit.unwrap_or(50),
    };
    let tenant = auth.tenant;
    let (items, next) = state
        .db
        .read(move |c| events::list(c, tenant, &filter))
        .await?;
    Ok(Json(EventPage {
        items,
        next_cursor: next.map(|n| n.to_string()),
    }))
}
