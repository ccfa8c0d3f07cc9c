//! `/api/bots/{bot}/flows`: drafts validated on save, publish, versions, rollback; and the
//! bot's sandbox (`/api/bots/{bot}/sandbox`), which runs the real pipeline for a test contact.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::ApiJson;
use crate::app::AppState;
use crate::audit;
use crate::auth::{Admin, Auth, Require, Viewer};
use crate::error::{AppError, AppResult, FieldError};
use crate::flows::{self, StoredFlow};
use crate::ids::BotId;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/bots/{bot}/flows", get(list).post(create))
        .route(
            "/bots/{bot}/flows/{flow}",
            get(show).put(update).delete(remove),
        )
        .route("/bots/{bot}/flows/{flow}/publish", post(publish))
        .route("/bots/{bot}/flows/{flow}/versions", get(versions))
        .route("/bots/{bot}/flows/{flow}/rollback", post(rollback))
}

/// The bot must belong to the caller's tenant.
async fn bot_of(state: &AppState, auth: &Auth, bot: &str) -> AppResult<BotId> {
    let id = super::bots::parse_bot_id(bot)?;
    Ok(super::bots::load(state, auth.tenant, id).await?.id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlowBody {
    name: String,
    definition: Value,
    #[serde(default)]
    is_default: Option<bool>,
}

/// Parses and validates a definition; every problem names the node and field.
fn check(name: &str, definition: &Value) -> AppResult<()> {
    let mut errors = vec![];
    if name.trim().is_empty() || name.len() > 100 {
        errors.push(FieldError::new("name", "must be 1 to 100 characters"));
    }
    if !definition.is_object() {
        errors.push(FieldError::new(
            "definition",
            "must be an object with start and nodes",
        ));
        return Err(AppError::Validation(errors));
    }
    let flow = match flows::to_flow("draft", name, 0, definition) {
        Ok(f) => f,
        Err(e) => {
            errors.push(FieldError::new("definition", e.to_string()));
            return Err(AppError::Validation(errors));
        }
    };
    let problems = crate::engine::validate(&flow);
    if problems.is_empty() && errors.is_empty() {
        return Ok(());
    }
    for p in problems {
        let field = if p.node.is_empty() {
            format!("definition.{}", p.field)
        } else {
            format!("definition.nodes.{}.{}", p.node, p.field)
        };
        errors.push(FieldError::new(
            field,
            format!("[{}] {}", p.code, p.message),
        ));
    }
    Err(AppError::Validation(errors))
}

async fn list(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path(bot): Path<String>,
) -> AppResult<Json<Vec<StoredFlow>>> {
    let bot = bot_of(&state, &auth, &bot).await?;
    let tenant = auth.tenant;
    Ok(Json(
        state.db.read(move |c| flows::list(c, tenant, bot)).await?,
    ))
}

async fn load(state: &AppState, auth: &Auth, bot: BotId, flow: &str) -> AppResult<StoredFlow> {
    let (tenant, flow) = (auth.tenant, flow.to_string());
    state
        .db
        .read(move |c| flows::get(c, tenant, bot, &flow))
        .await?
        .ok_or(AppError::NotFound("flow"))
}

async fn show(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path((bot, flow)): Path<(String, String)>,
) -> AppResult<Json<StoredFlow>> {
    let bot = bot_of(&state, &auth, &bot).await?;
    Ok(Json(load(&state, &auth, bot, &flow).await?))
}

async fn create(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path(bot): Path<String>,
    ApiJson(body): ApiJson<FlowBody>,
) -> AppResult<(StatusCode, Json<StoredFlow>)> {
    let bot = bot_of(&state, &auth, &bot).await?;
    check(&body.name, &body.definition)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let flow = state
        .db
        .write(move |c| {
            let f = flows::create(
                c,
                tenant,
                bot,
                body.name.trim(),
                &body.definition,
                body.is_default.unwrap_or(false),
            )?;
            audit::record(
                c,
                tenant,
                &actor,
                "create",
                "flow",
                Some(&f.id),
                json!({"after": {"name": f.name}}),
            )?;
            Ok(f)
        })
        .await?;
    state.forget_program(bot);
    Ok((StatusCode::CREATED, Json(flow)))
}

async fn update(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path((bot, flow)): Path<(String, String)>,
    ApiJson(body): ApiJson<FlowBody>,
) -> AppResult<Json<StoredFlow>> {
    let bot = bot_of(&state, &auth, &bot).await?;
    check(&body.name, &body.definition)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let updated = state
        .db
        .write(move |c| {
            let f = flows::update(
                c,
                tenant,
                bot,
                &flow,
                body.name.trim(),
                &body.definition,
                body.is_default,
            )?;
            if let Some(f) = &f {
                audit::record(
                    c,
                    tenant,
                    &actor,
                    "update",
                    "flow",
                    Some(&f.id),
                    json!({"after": {"name": f.name}}),
                )?;
            }
            Ok(f)
        })
        .await?
        .ok_or(AppError::NotFound("flow"))?;
    state.forget_program(bot);
    Ok(Json(updated))
}

async fn remove(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path((bot, flow)): Path<(String, String)>,
) -> AppResult<StatusCode> {
    let bot = bot_of(&state, &auth, &bot).await?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let done = state
        .db
        .write(move |c| {
            let done = flows::delete(c, tenant, bot, &flow)?;
            if done {
                audit::record(c, tenant, &actor, "delete", "flow", Some(&flow), json!({}))?;
            }
            Ok(done)
        })
        .await?;
    state.forget_program(bot);
    if done {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::NotFound("flow"))
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct PublishBody {
    note: Option<String>,
}

async fn publish(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path((bot, flow)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> AppResult<Json<Value>> {
    let bot = bot_of(&state, &auth, &bot).await?;
    let body: PublishBody = if body.iter().all(u8::is_ascii_whitespace) {
        PublishBody::default()
    } else {
        super::json::parse(&body)?
    };
    let stored = load(&state, &auth, bot, &flow).await?;
    check(&stored.name, &stored.draft)?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let version = state
        .db
        .write(move |c| {
            let v = flows::publish(c, &stored, &stored.draft, &actor, body.note.as_deref())?;
            audit::record(
                c,
                tenant,
                &actor,
                "publish",
                "flow",
                Some(&stored.id),
                json!({"version": v}),
            )?;
            Ok(v)
        })
        .await?;
    state.forget_program(bot);
    Ok(Json(json!({"flow_id": flow, "version": version})))
}

async fn versions(
    State(state): State<AppState>,
    Require(auth, ..): Require<Viewer>,
    Path((bot, flow)): Path<(String, String)>,
) -> AppResult<Json<Vec<flows::VersionInfo>>> {
    let bot = bot_of(&state, &auth, &bot).await?;
    let f = load(&state, &auth, bot, &flow).await?;
    Ok(Json(
        state.db.read(move |c| flows::versions(c, &f.id)).await?,
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RollbackBody {
    version: u32,
}

/// Republishes an older version as the newest one (versions stay immutable and increasing).
async fn rollback(
    State(state): State<AppState>,
    Require(auth, ..): Require<Admin>,
    Path((bot, flow)): Path<(String, String)>,
    ApiJson(body): ApiJson<RollbackBody>,
) -> AppResult<Json<Value>> {
    let bot = bot_of(&state, &auth, &bot).await?;
    let stored = load(&state, &auth, bot, &flow).await?;
    let (tenant, actor) = (auth.tenant, auth.actor());
    let result = state
        .db
        .write(move |c| {
            let Some(def) = flows::version_definition(c, &stored.id, body.version)? else {
                return Ok(None);
            };
            let note = format!("rollback to version {}", body.version);
            let v = flows::publish(c, &stored, &def, &actor, Some(&note))?;
            flows::update(c, tenant, bot, &stored.id, &stored.name, &def, None)?;
            audit::record(
                c,
                tenant,
                &actor,
                "rollback",
                "flow",
                Some(&stored.id),
                json!({"to": body.version, "version": v}),
            )?;
            Ok(Some(v))
        })
        .await?;
    let version =
        result.ok_or_else(|| AppError::field("version", "no such version of this flow"))?;
    state.forget_program(bot);
    Ok(Json(
        json!({"flow_id": flow, "version": version, "from": body.version}),
    ))
}
