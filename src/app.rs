//! The one builder: config -> stores -> state -> router -> workers. `main` and the tests
//! both call [`build`].

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::auth::limits::Limits;
use crate::auth::tokens::Keys;
use crate::config::Config;
use crate::ids::ApiKeyId;
use crate::store::{DataDir, Db, StateStore};

/// Shared by every handler and worker. Cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

pub struct Inner {
    pub config: Config,
    pub db: Db,
    pub state: StateStore,
    pub keys: Keys,
    pub limits: Limits,
    pub data_dir: PathBuf,
    pub media_dir: PathBuf,
    /// Key for provider secrets at rest.
    pub seal_key: [u8; 32],
    /// Key for signed media URLs (derived from the data-dir key).
    pub media_key: [u8; 32],
    pub started: Instant,
    pub metrics: PrometheusHandle,
    pub http: reqwest::Client,
    /// Live channels per bot.
    pub registry: crate::bots::registry::Registry,
    pub outbox: crate::outbox::worker::OutboxRuntime,
    /// Bot programs (published flows + settings) by bot, built on first use.
    pub programs: RwLock<HashMap<crate::ids::BotId, Option<Arc<crate::engine::BotProgram>>>>,
    /// Live inbox events for SSE.
    pub live: crate::live::Hub,
    /// Signalled when inbound items were stored without saying where: rescan.
    pub inbound_wake: tokio::sync::Notify,
    pub draining: crate::conversations::processor::Draining,
    revoked_sessions: RwLock<HashSet<String>>,
    key_touches: Mutex<HashMap<ApiKeyId, Instant>>,
    shutdown: watch::Sender<bool>,
}

impl Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl AppState {
    pub fn is_session_revoked(&self, sid: &str) -> bool {
        self.revoked_sessions
            .read()
            .map(|s| s.contains(sid))
            .unwrap_or(false)
    }

    pub fn revoke_sessions(&self, sids: impl IntoIterator<Item = String>) {
        if let Ok(mut s) = self.revoked_sessions.write() {
            s.extend(sids);
        }
    }

    /// Records API-key use at most once a minute per key, off the request path.
    pub fn touch_api_key(&self, id: ApiKeyId) {
        let due = {
            let mut m = self.key_touches.lock().unwrap_or_else(|p| p.into_inner());
            let due = m
                .get(&id)
                .is_none_or(|t| t.elapsed() > Duration::from_secs(60));
            if due {
                m.insert(id, Instant::now());
            }
            due
        };
        if due {
            let db = self.db.clone();
            tokio::spawn(async move {
                let _ = db
                    .write(move |c| crate::auth::store::touch_api_key(c, id))
                    .await;
            });
        }
    }

    /// The bot with its live channels, loaded from the database on first use.
    pub async fn live_bot(
        &self,
        id: crate::ids::BotId,
    ) -> Result<Option<Arc<crate::bots::registry::LiveBot>>, crate::store::DbError> {
        if let Some(l) = self.registry.cached(id) {
            return Ok(Some(l));
        }
        let key = self.seal_key;
        let bot = self
            .db
            .read(move |c| crate::bots::get_for_routing(c, &key, id))
            .await?;
        Ok(bot.map(|b| self.registry.install(b)))
    }

    /// The bot's program if it was loaded already: `Some(None)` is a bot without one.
    pub fn cached_program(
        &self,
        bot: crate::ids::BotId,
    ) -> Option<Option<Arc<crate::engine::BotProgram>>> {
        self.programs.read().ok()?.get(&bot).cloned()
    }

    /// The bot's program, loaded from its published flows on first use.
    pub async fn program(
        &self,
        bot: &crate::bots::Bot,
    ) -> Result<Option<Arc<crate::engine::BotProgram>>, crate::store::DbError> {
        if let Some(p) = self.cached_program(bot.id) {
            return Ok(p);
        }
        let (id, settings) = (bot.id, bot.settings.clone());
        let program = self
            .db
            .read(move |c| crate::flows::program(c, id, &settings))
            .await?
            .map(Arc::new);
        if let Ok(mut m) = self.programs.write() {
            m.insert(bot.id, program.clone());
        }
        Ok(program)
    }

    /// Drops the cached program (a flow was published or the bot changed).
    pub fn forget_program(&self, bot: crate::ids::BotId) {
        if let Ok(mut m) = self.programs.write() {
            m.remove(&bot);
        }
    }

    /// New inbound messages were stored: wake whoever processes conversations.
    pub fn on_inbound(&self, stored: &[(crate::ids::ConversationId, i64)]) {
        if stored.is_empty() {
            self.inbound_wake.notify_one();
        }
        for (conv, _) in stored {
            crate::conversations::processor::kick(self, *conv);
        }
    }

    /// A receiver that turns true when the server is shutting down; workers watch it.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }
}

/// A built appliance: state, router and background workers, holding the data-dir lock.
pub struct App {
    pub state: AppState,
    router: Router,
    workers: Vec<(&'static str, JoinHandle<()>)>,
    _data_dir: DataDir,
}

pub async fn build(config: Config) -> anyhow::Result<App> {
    // Before the stores: their threads register metrics once, and a handle taken before
    // the recorder exists records nothing.
    let metrics = crate::telemetry::metrics_handle();
    let data_dir = DataDir::open(&config.data_dir)?;
    let db_path = data_dir.sqlite_path();
    let (sync, pool) = (config.sqlite_synchronous.clone(), config.read_pool_size);
    let db = tokio::task::spawn_blocking(move || Db::open(&db_path, &sync, pool))
        .await?
        .context("opening the SQLite database")?;
    let state_path = data_dir.state_path();
    let state = tokio::task::spawn_blocking(move || StateStore::open(&state_path))
        .await?
        .context("opening the redb state store")?;

    // Access tokens of sessions revoked within their lifetime must stay refused after a restart.
    let since = crate::ids::time_text(
        chrono::Utc::now() - chrono::Duration::seconds(config.access_token_ttl_secs as i64 + 60),
    );
    let revoked = db
        .read(move |c| crate::auth::store::revoked_families_since(c, &since))
        .await?;

    let http = reqwest::Client::builder()
        .timeout(Duration::from_millis(config.outbox.send_timeout_ms))
        .connect_timeout(Duration::from_secs(5))
        .user_agent(concat!("dashoffice/", env!("CARGO_PKG_VERSION")))
        .build()?;

    let (shutdown, _) = watch::channel(false);
    let inner = Inner {
        keys: Keys::new(data_dir.jwt_key(), config.access_token_ttl_secs),
        limits: Limits::new(
            config.api_rate_limit_per_min,
            config.login_max_failures,
            config.login_window_secs,
        ),
        data_dir: data_dir.root().to_path_buf(),
        media_dir: data_dir.media_dir(),
        seal_key: data_dir.seal_key(),
        media_key: {
            use sha2::Digest;
            sha2::Sha256::new()
                .chain_update(data_dir.jwt_key())
                .chain_update(b"media-urls")
                .finalize()
                .into()
        },
        started: Instant::now(),
        metrics,
        registry: crate::bots::registry::Registry::new(
            crate::channels::ChannelEnv::new(http.clone(), data_dir.media_dir())
                .with_timeout(Duration::from_millis(config.outbox.send_timeout_ms)),
        ),
        outbox: crate::outbox::worker::OutboxRuntime::new(&config.outbox),
        inbound_wake: tokio::sync::Notify::new(),
        draining: Default::default(),
        live: crate::live::Hub::default(),
        programs: RwLock::new(HashMap::new()),
        http,
        revoked_sessions: RwLock::new(revoked.into_iter().collect()),
        key_touches: Mutex::new(HashMap::new()),
        shutdown,
        config,
        db,
        state,
    };
    let state = AppState(Arc::new(inner));
    let router = crate::api::router(state.clone());
    let workers = crate::workers::start(&state);
    Ok(App {
        state,
        router,
        workers,
        _data_dir: data_dir,
    })
}

impl App {
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves until `shutdown` resolves; in-flight requests finish, workers stop, stores close.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let App {
            state,
            router,
            workers,
            _data_dir,
        } = self;
        let service = router.into_make_service_with_connect_info::<SocketAddr>();
        axum::serve(listener, service)
            .with_graceful_shutdown(shutdown)
            .await
            .context("HTTP server failed")?;
        let _ = state.shutdown.send(true);
        for (name, handle) in workers {
            match tokio::time::timeout(Duration::from_secs(5), handle).await {
                Ok(_) => tracing::debug!(worker = name, "stopped"),
                Err(_) => tracing::warn!(worker = name, "did not stop within 5 s"),
            }
        }
        drop(state);
        // Give the SQLite writer thread a moment to checkpoint once the last handle is gone.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(())
    }
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown requested; finishing in-flight requests");
}
