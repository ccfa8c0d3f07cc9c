//! SQLite: one writer thread that commits in groups, and a pool of readers.
//!
//! Every write is a closure run on the writer thread inside a savepoint of a shared
//! transaction; the writer drains whatever is queued, commits once (one fsync), then
//! answers all of them. A closure that fails is rolled back alone.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use include_dir::{include_dir, Dir};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::{Connection, OptionalExtension};
use tokio::sync::oneshot;

static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/migrations");

/// Most write closures in one group commit.
const MAX_GROUP: usize = 256;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error(transparent)]
    Pool(#[from] r2d2::Error),
    #[error("database busy")]
    Busy,
    #[error("database writer stopped")]
    WriterGone,
    #[error("migration: {0}")]
    Migration(String),
    #[error("blocking task failed: {0}")]
    Join(String),
    #[error("{0}")]
    Other(String),
}

type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;
/// Called with `None` when the group could not start: the closure is not run.
type Job = Box<dyn FnOnce(Option<&Connection>) -> (bool, Completion) + Send>;

#[derive(Clone)]
pub struct Db {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    writer: mpsc::SyncSender<Job>,
    readers: r2d2::Pool<SqliteConnectionManager>,
    /// One per reader connection: callers wait here, on the runtime, instead of as
    /// blocking threads parked on the pool's lock.
    read_slots: tokio::sync::Semaphore,
    synchronous: String,
}

#[derive(Debug, Clone)]
pub struct MigrationState {
    pub applied: Vec<i64>,
    pub known: Vec<(i64, String)>,
    pub unknown: Vec<i64>,
}

impl MigrationState {
    pub fn pending(&self) -> Vec<i64> {
        self.known
            .iter()
            .map(|(v, _)| *v)
            .filter(|v| !self.applied.contains(v))
            .collect()
    }
}

/// Process-wide SQLite settings, before the first connection opens: no global memory
/// statistics (their mutex serialised every allocation of every connection).
fn configure_library() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: called before any connection exists; SQLITE_MISUSE (already initialised)
        // only means the default stays.
        unsafe {
            rusqlite::ffi::sqlite3_config(rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS, 0);
        }
    });
}

fn configure(conn: &Connection, synchronous: &str) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // Without the planner stability guarantee, a statement whose plan looked at a bound
    // value (every `LIMIT ?`) is re-compiled on each rebind: ~20% of CPU under load.
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.pragma_update(None, "cache_size", -16000)?;
    conn.set_prepared_statement_cache_capacity(256);
    Ok(())
}

/// The migrations compiled into this binary, ordered by version.
pub fn embedded_migrations() -> Vec<(i64, String, &'static str)> {
    let mut out: Vec<(i64, String, &'static str)> = MIGRATIONS
        .files()
        .filter_map(|f| {
            let name = f.path().file_name()?.to_str()?;
            let stem = name.strip_suffix(".sql")?;
            let (num, rest) = stem.split_once('_')?;
            Some((num.parse().ok()?, rest.to_string(), f.contents_utf8()?))
        })
        .collect();
    out.sort_by_key(|m| m.0);
    out
}

/// Reads the migration state without changing anything.
pub fn migration_state(conn: &Connection) -> Result<MigrationState, DbError> {
    let has_table: bool = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='schema_migrations'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    let applied: Vec<i64> = if has_table {
        let mut st = conn.prepare("SELECT version FROM schema_migrations ORDER BY version")?;
        let rows = st.query_map([], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    } else {
        vec![]
    };
    let known: Vec<(i64, String)> = embedded_migrations()
        .into_iter()
        .map(|(v, n, _)| (v, n))
        .collect();
    let unknown = applied
        .iter()
        .copied()
        .filter(|v| !known.iter().any(|(k, _)| k == v))
        .collect();
    Ok(MigrationState {
        applied,
        known,
        unknown,
    })
}

/// Applies pending migrations, each in its own transaction. Refuses a database that
/// has a migration this binary does not know (it was made by a newer version).
pub fn migrate(conn: &mut Connection) -> Result<Vec<i64>, DbError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )?;
    let state = migration_state(conn)?;
    if !state.unknown.is_empty() {
        return Err(DbError::Migration(format!(
            "the database has migration(s) {:?} that this binary does not know; it was written by a newer dashoffice. Install that version (or newer) instead",
            state.unknown
        )));
    }
    let mut done = vec![];
    for (version, name, sql) in embedded_migrations() {
        if state.applied.contains(&version) {
            continue;
        }
        let tx = conn.transaction()?;
        tx.execute_batch(sql)
            .map_err(|e| DbError::Migration(format!("{version:04}_{name}: {e}")))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            rusqlite::params![version, name, crate::ids::now_text()],
        )?;
        tx.commit()?;
        done.push(version);
    }
    Ok(done)
}

impl Db {
    /// Opens (creating if needed) and migrates the database, then starts the writer.
    pub fn open(path: &Path, synchronous: &str, read_pool_size: u32) -> Result<Db, DbError> {
        let synchronous = synchronous.to_ascii_uppercase();
        configure_library();
        let mut writer = Connection::open(path)?;
        configure(&writer, &synchronous)?;
        // Every job runs in a savepoint, which journals each page it touches. On disk
        // (temp_store FILE, past the 64 KiB spill) that was two pwrite calls per page,
        // a third of the writer's CPU; in memory it is a copy. A positive spill size is
        // no way out: SQLite 3.50 fails statements past it with SQLITE_FULL.
        writer.pragma_update(None, "temp_store", "MEMORY")?;
        let applied = migrate(&mut writer)?;
        if !applied.is_empty() {
            tracing::info!(?applied, "applied migrations");
        }

        let sync_r = synchronous.clone();
        let manager = SqliteConnectionManager::file(path).with_init(move |c| {
            configure(c, &sync_r)?;
            c.pragma_update(None, "query_only", "ON")
        });
        let readers = r2d2::Pool::builder()
            .max_size(read_pool_size.max(1))
            .min_idle(Some(1))
            // A local file does not go away between reads; the default check ran an
            // empty statement on every checkout.
            .test_on_check_out(false)
            .connection_timeout(Duration::from_secs(10))
            .build(manager)?;

        let (tx, rx) = mpsc::sync_channel::<Job>(4096);
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || writer_loop(writer, rx))
            .map_err(|e| DbError::Other(e.to_string()))?;

        Ok(Db {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                writer: tx,
                readers,
                read_slots: tokio::sync::Semaphore::new(read_pool_size.max(1) as usize),
                synchronous,
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    pub fn synchronous(&self) -> &str {
        &self.inner.synchronous
    }

    /// Runs `f` on a pooled read connection on the blocking pool.
    pub async fn read<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let _slot = self
            .inner
            .read_slots
            .acquire()
            .await
            .map_err(|e| DbError::Other(e.to_string()))?;
        let pool = self.inner.readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.get()?;
            f(&conn)
        })
        .await
        .map_err(|e| DbError::Join(e.to_string()))?
    }

    /// Like [`Db::read`], but when a slot and an idle connection are free right now, runs
    /// `f` on the calling runtime thread. Only for short, bounded work (one page through
    /// an index, a key lookup, a conversation's next engine step, which is capped at
    /// 64 node hops): it takes less time than the hand-off to the blocking pool and back,
    /// which was a fifth of the CPU of the REST list endpoints. Anything that may scan or
    /// sort a table uses `read`.
    pub async fn read_now<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        if let Ok(_slot) = self.inner.read_slots.try_acquire() {
            if let Some(conn) = self.inner.readers.try_get() {
                return f(&conn);
            }
        }
        self.read(f).await
    }

    /// Runs `f` on the writer inside a transaction; resolves once it is committed.
    /// Returning `Err` rolls back only this closure's changes.
    pub async fn write<T, F>(&self, f: F) -> Result<T, DbError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T, DbError>>();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => f(conn),
                None => Err(DbError::Busy),
            };
            let ok = result.is_ok();
            let done: Completion = Box::new(move |commit: Result<(), String>| {
                let out = match (result, commit) {
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(e)) => Err(DbError::Other(format!("commit failed: {e}"))),
                    (Err(e), _) => Err(e),
                };
                let _ = tx.send(out);
            });
            (ok, done)
        });
        let sender = self.inner.writer.clone();
        // The channel is bounded; a full queue waits on the blocking pool, not the runtime.
        match sender.try_send(job) {
            Ok(()) => {}
            Err(mpsc::TrySendError::Full(job)) => {
                tokio::task::spawn_blocking(move || sender.send(job))
                    .await
                    .map_err(|e| DbError::Join(e.to_string()))?
                    .map_err(|_| DbError::WriterGone)?;
            }
            Err(mpsc::TrySendError::Disconnected(_)) => return Err(DbError::WriterGone),
        }
        rx.await.map_err(|_| DbError::WriterGone)?
    }

    /// Quick liveness check for `/health`.
    pub async fn check(&self) -> Result<(), DbError> {
        self.read(|c| {
            c.query_row("SELECT 1", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }
}

/// `execute` and `query_row` through the connection's statement cache: the hot paths
/// run the same few statements thousands of times a second.
pub trait CachedSql {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;
}

impl CachedSql for Connection {
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }

    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

fn writer_loop(conn: Connection, rx: mpsc::Receiver<Job>) {
    let write_latency = metrics::histogram!("sqlite_write_batch_seconds");
    let group_jobs = metrics::histogram!("sqlite_write_group_jobs");
    while let Ok(first) = rx.recv() {
        let started = Instant::now();
        let mut batch = vec![first];
        while batch.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        group_jobs.record(batch.len() as f64);
        let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
        if let Err(e) = conn.execute_cached("BEGIN IMMEDIATE", []) {
            let msg = e.to_string();
            tracing::error!(error = %msg, "sqlite writer could not begin a transaction");
            for job in batch {
                let (_, done) = job(None);
                done(Err(msg.clone()));
            }
            continue;
        }
        for job in batch {
            if conn.execute_cached("SAVEPOINT job", []).is_err() {
                let (_, done) = job(None);
                completions.push(done);
                continue;
            }
            let (ok, done) = job(Some(&conn));
            if ok {
                let _ = conn.execute_cached("RELEASE job", []);
            } else {
                let _ = conn.execute_cached("ROLLBACK TO job", []);
                let _ = conn.execute_cached("RELEASE job", []);
            }
            completions.push(done);
        }
        let commit = conn
            .execute_cached("COMMIT", [])
            .map(|_| ())
            .map_err(|e| e.to_string());
        if commit.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        write_latency.record(started.elapsed().as_secs_f64());
        for done in completions {
            done(commit.clone());
        }
    }
    // Channel closed: all Db handles dropped. Checkpoint so the WAL is folded in.
    let _ = conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)");
}

/// `EXPLAIN QUERY PLAN` of `sql` on a fresh in-memory database with every migration, one
/// line per step (for plan tests next to the queries).
#[cfg(test)]
pub fn query_plan(sql: &str, params: impl rusqlite::Params) -> String {
    let mut c = Connection::open_in_memory().unwrap();
    migrate(&mut c).unwrap();
    let plan: Vec<String> = c
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(params, |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    plan.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_failed_write_rolls_back_alone_inside_a_group() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite"), "FULL", 2).unwrap();
        db.write(|c| {
            c.execute_batch("CREATE TABLE t (v INTEGER UNIQUE)")?;
            Ok(())
        })
        .await
        .unwrap();
        let mut tasks = vec![];
        for i in 0..50 {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                db.write(move |c| {
                    c.execute("INSERT INTO t (v) VALUES (?1)", [i % 25])?;
                    Ok(())
                })
                .await
            }));
        }
        let mut ok = 0;
        for t in tasks {
            if t.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(
            ok, 25,
            "each value inserted once, duplicates rolled back alone"
        );
        let n: i64 = db
            .read(|c| Ok(c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 25);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_read_now_waits_for_a_busy_pool_without_blocking_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("n.sqlite"), "FULL", 1).unwrap();
        let inline = std::thread::current().id();
        let thread = db
            .read_now(|_| Ok(std::thread::current().id()))
            .await
            .unwrap();
        assert_eq!(
            thread, inline,
            "a free connection is used on the calling thread"
        );

        // The pool's only connection is held by a slow read on the blocking pool.
        let (held_tx, held_rx) = tokio::sync::oneshot::channel();
        let slow = tokio::spawn({
            let db = db.clone();
            async move {
                db.read(move |_| {
                    held_tx.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(300));
                    Ok(())
                })
                .await
            }
        });
        held_rx.await.unwrap();
        let ticks = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let ticker = tokio::spawn({
            let ticks = ticks.clone();
            async move {
                loop {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
        });
        let (thread, ticked) = db
            .read_now(move |c| {
                let ticked = ticks.load(std::sync::atomic::Ordering::Relaxed);
                c.query_row("SELECT 1", [], |_| Ok(()))?;
                Ok((std::thread::current().id(), ticked))
            })
            .await
            .unwrap();
        assert_ne!(
            thread, inline,
            "a busy pool falls back to the blocking pool"
        );
        assert!(
            ticked >= 5,
            "the runtime kept running while the read waited: {ticked} ticks"
        );
        ticker.abort();
        slow.await.unwrap().unwrap();
    }

    #[tokio::test]
    async fn a_cached_statement_is_not_recompiled_when_its_limit_is_rebound() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("q.sqlite"), "FULL", 1).unwrap();
        let reprepared = db
            .write(|c| {
                c.execute_batch("CREATE TABLE t (v INTEGER); INSERT INTO t VALUES (1), (2), (3)")?;
                for limit in 1..=3 {
                    let mut st = c.prepare_cached("SELECT v FROM t ORDER BY v LIMIT ?1")?;
                    let n = st.query_map([limit], |r| r.get::<_, i64>(0))?.count();
                    assert_eq!(n, limit as usize);
                }
                let st = c.prepare_cached("SELECT v FROM t ORDER BY v LIMIT ?1")?;
                Ok(st.get_status(rusqlite::StatementStatus::RePrepare))
            })
            .await
            .unwrap();
        assert_eq!(reprepared, 0, "the planner stability guarantee is on");
    }

    #[tokio::test]
    async fn a_statement_with_a_journal_of_megabytes_commits() {
        // One UPDATE journals every page it touches inside the job's savepoint: megabytes
        // (a positive spill size once failed this with SQLITE_FULL).
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open(&dir.path().join("t.sqlite"), "FULL", 2).unwrap();
        db.write(|c| {
            c.execute_batch(
                "CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, pad TEXT);
                 CREATE INDEX t_s ON t(s, id);",
            )?;
            let mut ins = c.prepare("INSERT INTO t (s, pad) VALUES ('sending', ?1)")?;
            for i in 0..5_000 {
                ins.execute([format!("{i:0>400}")])?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let (changed, temp_store) = db
            .write(|c| {
                let n = c.execute("UPDATE t SET s = 'queued' WHERE s = 'sending'", [])?;
                let t: i64 = c.query_row("PRAGMA temp_store", [], |r| r.get(0))?;
                Ok((n, t))
            })
            .await
            .unwrap();
        assert_eq!(changed, 5_000);
        assert_eq!(temp_store, 2, "the writer journals savepoints in memory");
    }

    #[test]
    fn migrations_are_idempotent_and_a_newer_database_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        let mut c = Connection::open(&path).unwrap();
        let first = migrate(&mut c).unwrap();
        assert!(!first.is_empty());
        assert!(migrate(&mut c).unwrap().is_empty(), "second run is a no-op");
        c.execute(
            "INSERT INTO schema_migrations VALUES (9999, 'from_the_future', 'x')",
            [],
        )
        .unwrap();
        let err = migrate(&mut c).unwrap_err().to_string();
        assert!(err.contains("9999") && err.contains("newer"), "{err}");
    }
}
