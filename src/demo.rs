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
    Ok(DemoLogin {
        email: DEMO_EMAIL.into(),
        password: pw,
    })
}
