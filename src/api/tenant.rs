//! `/api/tenant`: the shop's own settings (time zone, currency, country, locale, ...).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

use super::{ApiJson, Check};
use crate::app::AppState;
use crate::audit;
use crate::auth::store::{self as store, Tenant};
use crate::auth::{Admin, Auth, Require};
use crate::error::{AppError, AppResult};

pub fn routes() -> Router<AppState> {
    Router::new().route("/tenant", get(show).put(update))
}

async fn show(State(state): State<AppState>, auth: Auth) -> AppResult<Json<Tenant>> {
    let tenant = auth.tenant;
    state
        .db
        .read(move |c| store::tenant(c, tenant))
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("tenant"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateTenant {
    name: Option<String>,
    timezone: Option<String>,
    currency: Option<String>,
    country: Option<String>,
    locale: Option<String>,
    settings: Option<serde_json::Value>,
}

async fn update(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    ApiJson(body): ApiJson<UpdateTenant>,
) -> AppResult<Json<Tenant>> {
    let mut check = Check::new();
    if let Some(n) = &body.name {
        check.ensure(
            !n.trim().is_empty() && n.len() <= 200,
            "name",
            "must be 1 to 200 characters",
        );
    }
    if let Some(tz) = &body.timezone {
        check.ensure(
            tz.parse::<chrono_tz::Tz>().is_ok(),
            "timezone",
            "must be an IANA time zone such as America/Lima",
        );
    }
    if let Some(c) = &body.currency {
        check.ensure(
            crate::money::is_currency(c),
            "currency",
            "must be an ISO 4217 code such as PEN",
        );
    }
    if let Some(c) = &body.country {
        check.ensure(
            c.len() == 2 && c.chars().all(|ch| ch.is_ascii_uppercase()),
            "country",
            "must be an ISO 3166 alpha-2 code such as PE",
        );
    }
    if let Some(l) = &body.locale {
        check.ensure(
            l.len() >= 2 && l.len() <= 10,
            "locale",
            "must be a locale such as es-PE",
        );
    }
    if let Some(s) = &body.settings {
        check.ensure(s.is_object(), "settings", "must be an object");
    }
    check.finish()?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    state
        .db
        .write(move |c| {
            let Some(before) = store::tenant(c, tenant)? else {
                return Ok(None);
            };
            let mut t = before.clone();
            if let Some(v) = body.name {
                t.name = v.trim().to_string();
            }
            if let Some(v) = body.timezone {
                t.timezone = v;
            }
            if let Some(v) = body.currency {
                t.currency = v;
            }
            if let Some(v) = body.country {
                t.country = v;
            }
            if let Some(v) = body.locale {
                t.locale = v;
            }
            if let Some(serde_json::Value::Object(m)) = body.settings {
                let mut merged = t.settings.as_object().cloned().unwrap_or_default();
                merged.extend(m);
                t.settings = serde_json::Value::Object(merged);
            }
            store::update_tenant(c, &t)?;
            audit::record(
                c,
                tenant,
                &actor,
                "update",
                "tenant",
                Some(&tenant.to_string()),
                serde_json::json!({"before": before, "after": t}),
            )?;
            store::tenant(c, tenant)
        })
        .await?
        .map(Json)
        .ok_or(AppError::NotFound("tenant"))
}
