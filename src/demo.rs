//! `serve --demo`: a demo tenant whose owner gets a fresh random password at every start.

use crate::app::AppState;
use crate::auth::store as users;
use crate::auth::{password, Role};

pub const DEMO_EMAIL: &str = "admin@demo.local";
pub const DEMO_TENANT: &str = "Tienda Demo";

pub struct DemoLogin {
    pub email: String,
    pub password: String,
}

/// Creates the demo tenant and owner (or resets the owner's password) and its sample data.
pub async fn install(state: &AppState) -> anyhow::Result<DemoLogin> {
    let pw = password::generate();
    let hash = password::hash(pw.clone())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let tenant = state
        .db
        .write(move |c| match users::user_by_email(c, DEMO_EMAIL)? {
            Some(u) => {
                users::update_user(
                    c,
                    u.tenant_id,
                    u.id,
                    &users::UserPatch {
                        name: None,
                        role: Some(Role::Owner),
                        active: Some(true),
                        password_hash: Some(hash),
                    },
                )?;
                Ok(u.tenant_id)
            }
            None => {
                let t = users::create_tenant(c, DEMO_TENANT)?;
                users::create_user(
                    c,
                    t.id,
                    &users::NewUser {
                        email: DEMO_EMAIL,
                        name: "Demo Admin",
                        role: Role::Owner,
                        password_hash: &hash,
                    },
                )?;
                Ok(t.id)
            }
        })
        .await?;
    crate::shop::write(&state.db, move |c| crate::shop::demo::install(c, tenant))
        .await
        .map_err(|e| anyhow::anyhow!("demo catalogue: {e}"))?;
    install_bot(state, tenant).await?;
    Ok(DemoLogin {
        email: DEMO_EMAIL.into(),
        password: pw,
    })
}

pub const DEMO_BOT: &str = "Asistente de tienda";

/// A demo bot on the sandbox channel running the published Spanish demo flow, once.
async fn install_bot(state: &AppState, tenant: crate::ids::TenantId) -> anyhow::Result<()> {
    let key = state.seal_key;
    let bot = state
        .db
        .write(move |c| {
            if !crate::bots::list(c, &key, tenant)?.is_empty() {
                return Ok(None);
            }
            let bot = crate::bots::create(
                c,
                &key,
                tenant,
                &crate::bots::NewBot {
                    name: DEMO_BOT.into(),
                    phone: String::new(),
                    active: true,
                    settings: serde_json::json!({}),
                    channels: vec![crate::channels::ChannelConfig::Sandbox(Default::default())],
                },
            )?;
            let mut definition: serde_json::Value =
                serde_json::from_str(crate::engine::demo::DEMO_FLOW_JSON)
                    .map_err(|e| crate::store::DbError::Other(e.to_string()))?;
            if let serde_json::Value::Object(m) = &mut definition {
                m.remove("id");
                m.remove("version");
                m.remove("name");
            }
            let flow = crate::flows::create(c, tenant, bot.id, DEMO_BOT, &definition, true)?;
            crate::flows::publish(c, &flow, &definition, "demo", Some("demo flow"))?;
            Ok(Some(bot.id))
        })
        .await?;
    if let Some(id) = bot {
        state.forget_program(id);
    }
    Ok(())
}
