//! The floor: the least a webhook endpoint can do and still be honest about durability.
//! A bare axum handler checks the Cloud signature, takes the message id from the JSON and
//! stores the same kind of row (bot, provider id, content; UNIQUE) in SQLite with the
//! same pragmas as the appliance (WAL, the same `synchronous`), then answers 200.
//!
//! Two variants: one row per transaction on a mutex-guarded connection (the naive server
//! DESIGN §5 speaks of), and the appliance's own group-commit writer ([`crate::store::Db`]).

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use rusqlite::{params, Connection};

use crate::store::Db;

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS webhook_rows (
    id INTEGER PRIMARY KEY, bot_id TEXT NOT NULL, provider_message_id TEXT NOT NULL,
    content TEXT NOT NULL, created_at TEXT NOT NULL, UNIQUE (bot_id, provider_message_id))";

enum Store {
    PerRow(Mutex<Connection>),
    Group(Db),
}

struct Floor {
    secret: String,
    store: Store,
}

/// A running floor server; stops when dropped.
pub struct FloorServer {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for FloorServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts the floor on 127.0.0.1:0 with its database at `path`.
pub async fn start(
    path: &Path,
    synchronous: &str,
    group_commit: bool,
    app_secret: &str,
) -> anyhow::Result<FloorServer> {
    let store = if group_commit {
        let db = Db::open(path, synchronous, 2)?;
        db.write(|c| {
            c.execute_batch(SCHEMA)?;
            Ok(())
        })
        .await?;
        Store::Group(db)
    } else {
        let c = Connection::open(path)?;
        c.pragma_update(None, "journal_mode", "WAL")?;
        c.pragma_update(None, "synchronous", synchronous)?;
        c.pragma_update(None, "foreign_keys", "ON")?;
        c.busy_timeout(std::time::Duration::from_secs(5))?;
        c.execute_batch(SCHEMA)?;
        Store::PerRow(Mutex::new(c))
    };
    let floor = Arc::new(Floor {
        secret: app_secret.to_string(),
        store,
    });
    let app = Router::new()
        .route("/webhooks/cloud/{bot}", post(webhook))
        .with_state(floor);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(FloorServer { addr, task })
}

fn insert(c: &Connection, bot: &str, id: &str, content: &str) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO webhook_rows (bot_id, provider_message_id, content, created_at)
         VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING",
    )?
    .execute(params![bot, id, content, crate::ids::now_text()])?;
    Ok(())
}

async fn webhook(
    State(f): State<Arc<Floor>>,
    axum::extract::Path(bot): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let sig = headers
        .get("x-hub-signature-256")
        .and_then(|v| v.to_str().ok());
    if crate::channels::signature::verify_sha256_header(sig, f.secret.as_bytes(), &body).is_err() {
        return StatusCode::UNAUTHORIZED;
    }
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    let m = &v["entry"][0]["changes"][0]["value"]["messages"][0];
    let (Some(id), content) = (m["id"].as_str().map(str::to_string), m.to_string()) else {
        return StatusCode::BAD_REQUEST;
    };
    let ok = match &f.store {
        Store::PerRow(conn) => {
            let f = f.clone();
            tokio::task::spawn_blocking(move || {
                let Store::PerRow(conn) = &f.store else {
                    return false;
                };
                let mut c = conn.lock().unwrap_or_else(|p| p.into_inner());
                let tx = match c.transaction() {
                    Ok(t) => t,
                    Err(_) => return false,
                };
                insert(&tx, &bot, &id, &content).is_ok() && tx.commit().is_ok()
            })
            .await
            .unwrap_or(false)
                && !conn.is_poisoned()
        }
        Store::Group(db) => db
            .write(move |c| Ok(insert(c, &bot, &id, &content)?))
            .await
            .is_ok(),
    };
    if ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}
