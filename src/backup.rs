//! Backups of the data directory and restoring them.
//!
//! A backup is a directory: `dashoffice.sqlite` (SQLite online backup API, one step, so it
//! is one read snapshot), `state.redb` (the file copied while this process holds redb's
//! write lock, so no commit can land mid-copy), `secret.key`, `media/` and a
//! `manifest.json` with versions, schema version and a SHA-256 of every file.
//!
//! SQLite is copied before redb: a redb newer than SQLite is the state a crash leaves
//! (effects decided, not yet applied) and start-up replays it; the reverse is not.
//!
//! redb's file is locked by the server, so while one runs the backup must be taken by
//! that server. It listens on `<data-dir>/admin.sock` (a Unix socket; the file mode and
//! the peer's uid are the authorisation): `dashoffice backup` asks it for a snapshot in
//! `<data-dir>/.backup-staging/` and moves that to the destination. With no server
//! running the CLI takes the data-dir lock and does the same work itself.

use std::fs::{self, File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::app::AppState;

pub const MANIFEST: &str = "manifest.json";
pub const SQLITE_FILE: &str = "dashoffice.sqlite";
pub const STATE_FILE: &str = "state.redb";
pub const KEY_FILE: &str = "secret.key";
pub const MEDIA_DIR: &str = "media";
/// Where a running server answers `dashoffice backup`.
pub const SOCKET: &str = "admin.sock";
const STAGING: &str = ".backup-staging";
const FORMAT: u32 = 1;
/// The redb major version whose file format `state.redb` is in.
const REDB_MAJOR: u32 = 4;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("redb: {0}")]
    Redb(String),
    #[error("{0}")]
    Manifest(String),
    #[error(
        "{path} does not match its checksum in the manifest (changed or damaged); refusing it"
    )]
    Checksum { path: String },
    #[error("integrity check failed: {0}")]
    Integrity(String),
    #[error("the backup has migrations {0:?} unknown to this binary (made by a newer dashoffice); install that version instead")]
    NewerSchema(Vec<i64>),
    #[error("data directory {0} is in use by a running dashoffice server; stop it first (systemctl stop dashoffice)")]
    InUse(PathBuf),
    #[error("{0} already exists and is not empty")]
    NotEmpty(PathBuf),
    #[error("{0}")]
    Server(String),
}

type Result<T> = std::result::Result<T, BackupError>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BackupError + '_ {
    move |source| BackupError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What `manifest.json` says about a backup.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub format: u32,
    pub created_at: String,
    pub dashoffice_version: String,
    pub sqlite_version: String,
    pub redb_format: u32,
    /// Highest migration applied to the copied database.
    pub schema_version: i64,
    pub migrations: Vec<i64>,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileEntry {
    /// Relative to the backup directory, `/`-separated.
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

impl Manifest {
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

// ---------------------------------------------------------------------------------------
// Taking a backup

/// Writes a snapshot of the stores into `dest` (created; must be absent or empty).
/// `state` must be the only handle on `state.redb` in this process tree (the server's, or
/// the CLI's under the data-dir lock).
pub fn write_snapshot(
    data_dir: &Path,
    sqlite: &Path,
    state: Option<&redb::Database>,
    dest: &Path,
) -> Result<Manifest> {
    prepare_empty_dir(dest)?;
    let mut files = vec![];

    // 1. SQLite: one backup step of all pages = one read transaction = one snapshot;
    //    in WAL mode it does not block the writer.
    let src = Connection::open_with_flags(
        sqlite,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(Duration::from_secs(10))?;
    let copy_path = dest.join(SQLITE_FILE);
    let mut copy = Connection::open(&copy_path)?;
    {
        let b = rusqlite::backup::Backup::new(&src, &mut copy)?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            match b.step(-1)? {
                rusqlite::backup::StepResult::Done => break,
                _ if Instant::now() > deadline => {
                    return Err(BackupError::Integrity(
                        "SQLite stayed busy for 60 s during the backup".into(),
                    ))
                }
                _ => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }
    drop(src);
    // A backup is one self-contained file; the server turns WAL back on when it opens it.
    copy.pragma_update(None, "journal_mode", "DELETE")?;
    sqlite_integrity(&copy)?;
    let migrations = crate::store::sqlite::migration_state(&copy)
        .map_err(|e| BackupError::Integrity(e.to_string()))?
        .applied;
    drop(copy);
    files.push(SQLITE_FILE);

    // 2. redb: while we hold the write lock no commit can touch the file, and every
    //    commit before it is on disk (Durability::Immediate), so the bytes are a snapshot.
    if let Some(db) = state {
        let guard = db
            .begin_write()
            .map_err(|e| BackupError::Redb(e.to_string()))?;
        copy_file(&data_dir.join(STATE_FILE), &dest.join(STATE_FILE))?;
        let _ = guard.abort();
        // The copy looks like a crashed file; open it once so redb recovers and checks it.
        redb_integrity(&dest.join(STATE_FILE))?;
        files.push(STATE_FILE);
    }

    // 3. The key, and media (content-addressed files: written once, never changed).
    copy_file(&data_dir.join(KEY_FILE), &dest.join(KEY_FILE))?;
    files.push(KEY_FILE);
    let mut entries = vec![];
    for f in files {
        entries.push(entry(dest, f)?);
    }
    let media = data_dir.join(MEDIA_DIR);
    if media.is_dir() {
        for rel in walk(&media)? {
            let rel = format!("{MEDIA_DIR}/{rel}");
            copy_file(&data_dir.join(&rel), &dest.join(&rel))?;
            entries.push(entry(dest, &rel)?);
        }
    }

    let manifest = Manifest {
        format: FORMAT,
        created_at: crate::ids::now_text(),
        dashoffice_version: env!("CARGO_PKG_VERSION").into(),
        sqlite_version: rusqlite::version().into(),
        redb_format: REDB_MAJOR,
        schema_version: migrations.iter().copied().max().unwrap_or(0),
        migrations,
        files: entries,
    };
    let text =
        serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Manifest(e.to_string()))?;
    write_durably(&dest.join(MANIFEST), &text)?;
    sync_dir(dest)?;
    Ok(manifest)
}

/// A backup taken by the running server, on the blocking pool.
pub async fn create(state: &AppState, dest: &Path) -> Result<Manifest> {
    let (state, dest) = (state.clone(), dest.to_path_buf());
    let started = Instant::now();
    let result = tokio::task::spawn_blocking(move || {
        let redb = state
            .state
            .database()
            .map_err(|e| BackupError::Server(e.to_string()))?;
        write_snapshot(&state.data_dir, state.db.path(), Some(&redb), &dest)
    })
    .await
    .map_err(|e| BackupError::Server(format!("backup task failed: {e}")))?;
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("backups_total", "result" => outcome).increment(1);
    match &result {
        Ok(m) => {
            metrics::gauge!("backup_last_success_timestamp_seconds")
                .set(chrono::Utc::now().timestamp() as f64);
            tracing::info!(
                bytes = m.total_bytes(),
                files = m.files.len(),
                ms = started.elapsed().as_millis() as u64,
                "backup written"
            );
        }
        Err(e) => tracing::error!(error = %e, "backup failed"),
    }
    result
}

/// A backup taken by the CLI when no server runs: it holds the data-dir lock meanwhile.
pub fn create_offline(data_dir: &Path, dest: &Path) -> Result<Manifest> {
    if !data_dir.join(SQLITE_FILE).exists() {
        return Err(BackupError::Manifest(format!(
            "{} holds no dashoffice database",
            data_dir.display()
        )));
    }
    let _lock = lock(data_dir)?;
    let state_path = data_dir.join(STATE_FILE);
    let state = if state_path.exists() {
        Some(redb::Database::open(&state_path).map_err(|e| BackupError::Redb(e.to_string()))?)
    } else {
        None
    };
    write_snapshot(data_dir, &data_dir.join(SQLITE_FILE), state.as_ref(), dest)
}

/// One scheduled backup into `dir/dashoffice-<time>/`, then keeps only the newest `keep`.
pub async fn scheduled(state: &AppState, dir: &Path, keep: usize) -> Result<PathBuf> {
    fs::create_dir_all(dir).map_err(io(dir))?;
    let name = format!(
        "dashoffice-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ")
    );
    // Written under a hidden name and renamed when complete: a half backup never counts.
    let partial = dir.join(format!(".partial-{name}"));
    let _ = fs::remove_dir_all(&partial);
    if let Err(e) = create(state, &partial).await {
        let _ = fs::remove_dir_all(&partial);
        return Err(e);
    }
    let done = dir.join(&name);
    fs::rename(&partial, &done).map_err(io(&done))?;
    let removed = prune(dir, keep.max(1))?;
    if !removed.is_empty() {
        tracing::info!(removed = removed.len(), "old backups removed (keep {keep})");
    }
    Ok(done)
}

/// How long until the next scheduled backup is due: `every` after the newest complete one
/// in `dir` (so restarts do not postpone it), at once when none is there or it is overdue.
pub fn due_in(dir: &Path, every: Duration) -> Duration {
    let newest = complete_backups(dir)
        .ok()
        .and_then(|b| b.last().cloned())
        .and_then(|p| fs::metadata(p.join(MANIFEST)).ok())
        .and_then(|m| m.modified().ok());
    match newest {
        Some(t) => every.saturating_sub(t.elapsed().unwrap_or_default()),
        None => Duration::ZERO,
    }
}

/// Complete backups (`dashoffice-*` with a manifest) in `dir`, oldest first.
fn complete_backups(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("dashoffice-"))
                && p.join(MANIFEST).is_file()
        })
        .collect();
    found.sort();
    Ok(found)
}

/// Deletes all but the newest `keep` complete backups named `dashoffice-*` in `dir`.
pub fn prune(dir: &Path, keep: usize) -> Result<Vec<PathBuf>> {
    let found = complete_backups(dir)?;
    let excess = found.len().saturating_sub(keep);
    let old: Vec<PathBuf> = found.into_iter().take(excess).collect();
    for p in &old {
        fs::remove_dir_all(p).map_err(io(p))?;
    }
    Ok(old)
}

// ---------------------------------------------------------------------------------------
// Verifying and restoring

/// Reads the manifest and checks every file's size and checksum.
pub fn verify(src: &Path) -> Result<Manifest> {
    let manifest = read_manifest(src)?;
    for f in &manifest.files {
        let (size, sha) = hash_file(&src.join(&f.path))?;
        if size != f.size || sha != f.sha256 {
            return Err(BackupError::Checksum {
                path: f.path.clone(),
            });
        }
    }
    Ok(manifest)
}

fn read_manifest(src: &Path) -> Result<Manifest> {
    let path = src.join(MANIFEST);
    let text = fs::read(&path).map_err(io(&path))?;
    let m: Manifest = serde_json::from_slice(&text).map_err(|e| {
        BackupError::Manifest(format!("{} is not a backup manifest: {e}", path.display()))
    })?;
    if m.format != FORMAT {
        return Err(BackupError::Manifest(format!(
            "backup format {} is not supported by this binary (expects {FORMAT})",
            m.format
        )));
    }
    if m.redb_format != REDB_MAJOR {
        return Err(BackupError::Manifest(format!(
            "state.redb is in redb {} format; this binary reads redb {REDB_MAJOR}",
            m.redb_format
        )));
    }
    for f in &m.files {
        let p = Path::new(&f.path);
        if p.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(BackupError::Manifest(format!(
                "manifest names an unsafe path {:?}",
                f.path
            )));
        }
    }
    for required in [SQLITE_FILE, KEY_FILE] {
        if !m.files.iter().any(|f| f.path == required) {
            return Err(BackupError::Manifest(format!(
                "the backup has no {required}"
            )));
        }
    }
    Ok(m)
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    /// Where the files that were in the data directory before were moved.
    pub previous: Option<PathBuf>,
}

/// Verifies `src` and puts it in place as the data directory `data_dir`. Refuses while a
/// server holds the directory. Files already there are moved to `pre-restore-<time>/`.
pub fn restore(src: &Path, data_dir: &Path) -> Result<Restored> {
    if crate::store::DataDir::is_locked(data_dir) {
        return Err(BackupError::InUse(data_dir.to_path_buf()));
    }
    let manifest = read_manifest(src)?;
    fs::create_dir_all(data_dir).map_err(io(data_dir))?;
    let _lock = lock(data_dir)?;

    // Copy into the data directory first, checking each byte we will actually use.
    let tmp = data_dir.join(".restore-tmp");
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(io(&tmp))?;
    let outcome = (|| {
        for f in &manifest.files {
            let (size, sha) = copy_file(&src.join(&f.path), &tmp.join(&f.path))?;
            if size != f.size || sha != f.sha256 {
                return Err(BackupError::Checksum {
                    path: f.path.clone(),
                });
            }
        }
        check_copy(&tmp, &manifest)
    })();
    if let Err(e) = outcome {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }

    // Move whatever is there aside, then the verified files in.
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let aside = data_dir.join(format!("pre-restore-{stamp}"));
    let mut moved = false;
    let old = [
        SQLITE_FILE,
        "dashoffice.sqlite-wal",
        "dashoffice.sqlite-shm",
        STATE_FILE,
        KEY_FILE,
        MEDIA_DIR,
    ];
    for name in old {
        let from = data_dir.join(name);
        if fs::symlink_metadata(&from).is_ok() {
            fs::create_dir_all(&aside).map_err(io(&aside))?;
            fs::rename(&from, aside.join(name)).map_err(io(&from))?;
            moved = true;
        }
    }
    let top: std::collections::BTreeSet<&str> = manifest
        .files
        .iter()
        .map(|f| f.path.split('/').next().unwrap_or(&f.path))
        .collect();
    for name in top {
        let to = data_dir.join(name);
        fs::rename(tmp.join(name), &to).map_err(io(&to))?;
    }
    let _ = fs::remove_dir_all(&tmp);
    let key = data_dir.join(KEY_FILE);
    fs::set_permissions(&key, fs::Permissions::from_mode(0o600)).map_err(io(&key))?;
    match_owner(data_dir)?;
    sync_dir(data_dir)?;
    Ok(Restored {
        manifest,
        previous: moved.then_some(aside),
    })
}

/// Integrity of a verified copy: SQLite `integrity_check`, a schema this binary knows,
/// redb's full check.
fn check_copy(dir: &Path, manifest: &Manifest) -> Result<()> {
    let conn = Connection::open(dir.join(SQLITE_FILE))?;
    sqlite_integrity(&conn)?;
    let state = crate::store::sqlite::migration_state(&conn)
        .map_err(|e| BackupError::Integrity(e.to_string()))?;
    if !state.unknown.is_empty() {
        return Err(BackupError::NewerSchema(state.unknown));
    }
    drop(conn);
    if manifest.files.iter().any(|f| f.path == STATE_FILE) {
        redb_integrity(&dir.join(STATE_FILE))?;
    }
    let key = fs::read_to_string(dir.join(KEY_FILE)).map_err(io(&dir.join(KEY_FILE)))?;
    if hex::decode(key.trim()).map(|k| k.len()) != Ok(64) {
        return Err(BackupError::Integrity(
            "secret.key is not a valid key".into(),
        ));
    }
    Ok(())
}

fn sqlite_integrity(conn: &Connection) -> Result<()> {
    let mut st = conn.prepare("PRAGMA integrity_check")?;
    let lines: Vec<String> = st
        .query_map([], |r| r.get(0))?
        .collect::<std::result::Result<_, _>>()?;
    if lines != ["ok"] {
        return Err(BackupError::Integrity(format!(
            "SQLite: {}",
            lines.join("; ")
        )));
    }
    Ok(())
}

/// Opens the file with redb's integrity check on open plus a full check. A damaged file
/// may make redb panic; that is a failed check too.
fn redb_integrity(path: &Path) -> Result<()> {
    let p = path.to_path_buf();
    let run = move || -> std::result::Result<bool, String> {
        let mut db = redb::Database::builder()
            .set_check_integrity_on_open(true)
            .open(&p)
            .map_err(|e| e.to_string())?;
        let ok = db.check_integrity().map_err(|e| e.to_string())?;
        db.close().map_err(|e| e.to_string())?;
        Ok(ok)
    };
    match std::panic::catch_unwind(run) {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(BackupError::Integrity(format!("redb: {e}"))),
        Err(_) => Err(BackupError::Integrity(
            "redb: the state file is damaged".into(),
        )),
    }
}

// ---------------------------------------------------------------------------------------
// The running server's side: `<data-dir>/admin.sock`

#[derive(Debug, Serialize, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    dir: Option<PathBuf>,
    #[serde(default)]
    error: Option<String>,
}

/// The `admin-socket` worker: answers `{"op":"backup"}` with a fresh snapshot in the
/// staging directory. Only our own uid or root may ask.
pub async fn serve_socket(state: AppState) {
    let path = state.data_dir.join(SOCKET);
    // We hold the data-dir lock, so a socket file left here is stale.
    let _ = fs::remove_file(&path);
    let _ = fs::remove_dir_all(state.data_dir.join(STAGING));
    let listener = match tokio::net::UnixListener::bind(&path) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "admin socket unavailable; `dashoffice backup` cannot reach this server");
            return;
        }
    };
    let _ = fs::set_permissions(&path, fs::Permissions::from_mode(0o600));
    let mut shutdown = state.shutdown_signal();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            conn = listener.accept() => {
                let Ok((stream, _)) = conn else { continue };
                let allowed = stream.peer_cred().is_ok_and(|c| c.uid() == me || c.uid() == 0);
                if !allowed {
                    tracing::warn!("admin socket: refused a peer with another uid");
                    continue;
                }
                answer(&state, stream).await;
            }
        }
    }
    let _ = fs::remove_file(&path);
}

async fn answer(state: &AppState, stream: tokio::net::UnixStream) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(read);
    let read = tokio::time::timeout(Duration::from_secs(5), reader.read_line(&mut line)).await;
    let reply = match read {
        Ok(Ok(_)) if line.contains("\"backup\"") => {
            let dir = state.data_dir.join(STAGING).join(format!(
                "{}-{}",
                chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
                uuid::Uuid::new_v4().simple()
            ));
            match create(state, &dir).await {
                Ok(_) => Answer {
                    ok: true,
                    dir: Some(dir),
                    error: None,
                },
                Err(e) => {
                    let _ = fs::remove_dir_all(&dir);
                    Answer {
                        ok: false,
                        dir: None,
                        error: Some(e.to_string()),
                    }
                }
            }
        }
        _ => Answer {
            ok: false,
            dir: None,
            error: Some("unknown request".into()),
        },
    };
    let mut text = serde_json::to_vec(&reply).unwrap_or_default();
    text.push(b'\n');
    let _ = write.write_all(&text).await;
}

/// The CLI's side: asks the server on `data_dir` for a backup and moves it to `dest`.
pub fn backup_via_server(data_dir: &Path, dest: &Path) -> Result<Manifest> {
    prepare_empty_dir(dest)?;
    let result = ask_server(data_dir, dest);
    if result.is_err() {
        // Only removes it when still empty: never a partial backup's files.
        let _ = fs::remove_dir(dest);
    }
    result
}

fn ask_server(data_dir: &Path, dest: &Path) -> Result<Manifest> {
    use std::os::unix::net::UnixStream;
    let path = data_dir.join(SOCKET);
    let mut stream = UnixStream::connect(&path).map_err(|e| {
        BackupError::Server(format!(
            "a server holds {} but its admin socket {} does not answer ({e}); run this as the server's user or root",
            data_dir.display(),
            path.display()
        ))
    })?;
    stream
        .set_read_timeout(Some(Duration::from_secs(3600)))
        .map_err(io(&path))?;
    stream
        .write_all(b"{\"op\":\"backup\"}\n")
        .map_err(io(&path))?;
    let mut line = String::new();
    BufReader::new(&stream)
        .read_line(&mut line)
        .map_err(io(&path))?;
    let answer: Answer = serde_json::from_str(&line)
        .map_err(|e| BackupError::Server(format!("unexpected answer from the server: {e}")))?;
    let staged = match (answer.ok, answer.dir) {
        (true, Some(dir)) => dir,
        _ => {
            return Err(BackupError::Server(format!(
                "the server could not take the backup: {}",
                answer.error.unwrap_or_default()
            )))
        }
    };
    move_dir(&staged, dest)?;
    verify(dest)
}

// ---------------------------------------------------------------------------------------
// Files

/// Takes the data-dir lock (the same `flock` the server takes).
fn lock(data_dir: &Path) -> Result<File> {
    let path = data_dir.join(".lock");
    let f = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    match f.try_lock() {
        Ok(()) => Ok(f),
        Err(std::fs::TryLockError::WouldBlock) => Err(BackupError::InUse(data_dir.to_path_buf())),
        Err(std::fs::TryLockError::Error(e)) => Err(io(&path)(e)),
    }
}

fn prepare_empty_dir(dir: &Path) -> Result<()> {
    if dir.exists() {
        let mut it = fs::read_dir(dir).map_err(io(dir))?;
        if it.next().is_some() {
            return Err(BackupError::NotEmpty(dir.to_path_buf()));
        }
    }
    fs::create_dir_all(dir).map_err(io(dir))?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(io(dir))
}

/// Renames `from` onto `to` (an empty directory), or copies and removes across filesystems.
fn move_dir(from: &Path, to: &Path) -> Result<()> {
    if fs::rename(from, to).is_ok() {
        return Ok(());
    }
    for rel in walk(from)? {
        copy_file(&from.join(&rel), &to.join(&rel))?;
    }
    fs::remove_dir_all(from).map_err(io(from))
}

/// Relative paths of the regular files under `root`.
fn walk(root: &Path) -> Result<Vec<String>> {
    let mut out = vec![];
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = root.join(&rel);
        for e in fs::read_dir(&dir).map_err(io(&dir))? {
            let e = e.map_err(io(&dir))?;
            let ty = e.file_type().map_err(io(&e.path()))?;
            let child = rel.join(e.file_name());
            if ty.is_dir() {
                stack.push(child);
            } else if ty.is_file() {
                out.push(child.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Copies a file, fsyncs it, and returns its size and SHA-256 (of the bytes written).
fn copy_file(from: &Path, to: &Path) -> Result<(u64, String)> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut src = File::open(from).map_err(io(from))?;
    let mut dst = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(to)
        .map_err(io(to))?;
    let mode = src.metadata().map_err(io(from))?.permissions().mode() & 0o777;
    dst.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io(to))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = src.read(&mut buf).map_err(io(from))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        dst.write_all(&buf[..n]).map_err(io(to))?;
        size += n as u64;
    }
    dst.sync_all().map_err(io(to))?;
    Ok((size, hex::encode(hasher.finalize())))
}

fn hash_file(path: &Path) -> Result<(u64, String)> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex::encode(hasher.finalize())))
}

fn entry(dir: &Path, rel: &str) -> Result<FileEntry> {
    let (size, sha256) = hash_file(&dir.join(rel))?;
    Ok(FileEntry {
        path: rel.to_string(),
        size,
        sha256,
    })
}

fn write_durably(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    fs::rename(&tmp, path).map_err(io(path))
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Run as root (e.g. `sudo dashoffice restore`), restored files get the data directory's
/// owner, so the service user can open them.
fn match_owner(data_dir: &Path) -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(());
    }
    use std::os::unix::fs::MetadataExt;
    let meta = fs::metadata(data_dir).map_err(io(data_dir))?;
    let (uid, gid) = (meta.uid(), meta.gid());
    let mut paths: Vec<PathBuf> = [SQLITE_FILE, STATE_FILE, KEY_FILE, MEDIA_DIR, ".lock"]
        .iter()
        .map(|n| data_dir.join(n))
        .filter(|p| p.exists())
        .collect();
    let media = data_dir.join(MEDIA_DIR);
    if media.is_dir() {
        for rel in walk(&media)? {
            let p = media.join(&rel);
            let mut parent = p.parent().map(Path::to_path_buf);
            while let Some(d) = parent.filter(|d| d != &media) {
                paths.push(d.clone());
                parent = d.parent().map(Path::to_path_buf);
            }
            paths.push(p);
        }
    }
    for p in paths {
        std::os::unix::fs::chown(&p, Some(uid), Some(gid)).map_err(io(&p))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_complete_backups_only() {
        let dir = tempfile::tempdir().unwrap();
        for n in [
            "dashoffice-20260101T000000.000Z",
            "dashoffice-20260102T000000.000Z",
            "dashoffice-20260103T000000.000Z",
        ] {
            fs::create_dir_all(dir.path().join(n)).unwrap();
            fs::write(dir.path().join(n).join(MANIFEST), "{}").unwrap();
        }
        fs::create_dir_all(dir.path().join("dashoffice-19990101T000000.000Z")).unwrap(); // no manifest
        fs::create_dir_all(dir.path().join("unrelated")).unwrap();
        let removed = prune(dir.path(), 2).unwrap();
        assert_eq!(
            removed,
            vec![dir.path().join("dashoffice-20260101T000000.000Z")]
        );
        assert!(dir.path().join("dashoffice-20260103T000000.000Z").exists());
        assert!(dir.path().join("unrelated").exists());
        assert!(dir.path().join("dashoffice-19990101T000000.000Z").exists());
    }

    #[test]
    fn the_next_backup_is_due_at_once_without_one_and_an_interval_after_the_newest() {
        let dir = tempfile::tempdir().unwrap();
        let day = Duration::from_secs(86_400);
        assert_eq!(due_in(dir.path(), day), Duration::ZERO);
        let b = dir.path().join("dashoffice-20260101T000000.000Z");
        fs::create_dir_all(&b).unwrap();
        fs::write(b.join(MANIFEST), "{}").unwrap();
        let left = due_in(dir.path(), day);
        assert!(
            left > day - Duration::from_secs(60) && left <= day,
            "{left:?}"
        );
    }

    #[test]
    fn a_manifest_with_a_path_outside_the_backup_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let m = serde_json::json!({
            "format": FORMAT, "created_at": "x", "dashoffice_version": "0", "sqlite_version": "3",
            "redb_format": REDB_MAJOR, "schema_version": 1, "migrations": [1],
            "files": [{"path": "../etc/passwd", "size": 1, "sha256": "00"}]
        });
        fs::write(dir.path().join(MANIFEST), m.to_string()).unwrap();
        let err = verify(dir.path()).unwrap_err().to_string();
        assert!(err.contains("unsafe path"), "{err}");
    }
}
