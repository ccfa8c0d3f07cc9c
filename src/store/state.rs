//! redb: conversation sessions, inbound de-duplication and pending effects.
//!
//! Values are JSON so the engine's types can evolve with serde defaults. Every commit
//! uses `Durability::Immediate` (redb's default): once a call returns, it survives a crash.

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, RwLock, Weak};

use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Conversation key (`<bot id>:<contact phone>`) -> [`Conversation`] JSON.
const SESSIONS: TableDefinition<&str, &[u8]> = TableDefinition::new("sessions");
/// Any de-duplication key (e.g. a provider event id) -> unix seconds first seen.
const SEEN: TableDefinition<&str, i64> = TableDefinition::new("inbound_seen");
/// Inbound message rowid -> the effects decided for it, until applied to SQLite.
const EFFECTS: TableDefinition<i64, &[u8]> = TableDefinition::new("pending_effects");

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("redb: {0}")]
    Redb(String),
    #[error("state encoding: {0}")]
    Encoding(#[from] serde_json::Error),
}

macro_rules! from_redb {
    ($($t:ty),*) => {$(
        impl From<$t> for StateError {
            fn from(e: $t) -> Self { StateError::Redb(e.to_string()) }
        }
    )*};
}
from_redb!(
    redb::Error,
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// What redb keeps per conversation: the engine's session (if any) and the rowid of
/// the last inbound item already decided, so "already decided?" is one comparison.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(bound(deserialize = "S: DeserializeOwned"))]
pub struct Conversation<S> {
    pub session: Option<S>,
    pub last_inbound_id: i64,
}

/// One decided step: write the conversation and its effects together.
pub struct Step<'a, S, E> {
    pub key: &'a str,
    pub conversation: &'a Conversation<S>,
    pub inbound_id: i64,
    pub effects: &'a E,
}

/// Most operations in one group commit.
const MAX_GROUP: usize = 1024;

/// Work for the group writer: a step (answered once durable) or effects to forget.
enum Op {
    Step {
        key: String,
        conversation: Vec<u8>,
        inbound_id: i64,
        effects: Vec<u8>,
        done: tokio::sync::oneshot::Sender<Result<(), String>>,
    },
    Clear(Vec<i64>),
}

#[derive(Clone)]
pub struct StateStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// None while a reopen after an I/O error has not succeeded yet.
    db: RwLock<Option<Arc<Database>>>,
    /// The group writer; it stops when the last store handle is dropped.
    writer: mpsc::SyncSender<Op>,
}

fn open_db(path: &Path) -> Result<Database, StateError> {
    let db = Database::create(path)?;
    let tx = db.begin_write()?;
    tx.open_table(SESSIONS)?;
    tx.open_table(SEEN)?;
    tx.open_table(EFFECTS)?;
    tx.commit()?;
    Ok(db)
}

impl Inner {
    fn db(&self) -> Result<Arc<Database>, StateError> {
        if let Some(db) = self.db.read().ok().and_then(|g| g.clone()) {
            return Ok(db);
        }
        self.reopen();
        self.db
            .read()
            .ok()
            .and_then(|g| g.clone())
            .ok_or_else(|| StateError::Redb("state store unavailable (reopening)".into()))
    }

    /// redb latches an I/O error (a full disk): every later call fails with "previous I/O
    /// error" until the file is reopened. Found by tests/torture_disk_full.rs.
    fn recover(&self, e: &StateError) {
        let StateError::Redb(m) = e else { return };
        if m.contains("Previous I/O error") || m.contains("No space left") {
            self.reopen();
        }
    }

    fn reopen(&self) {
        let Ok(mut slot) = self.db.write() else {
            return;
        };
        if let Some(old) = slot.take() {
            // Someone is still using it: the next failure tries again.
            if Arc::strong_count(&old) > 1 {
                *slot = Some(old);
                return;
            }
        }
        match open_db(&self.path) {
            Ok(db) => {
                tracing::warn!(path = %self.path.display(), "redb reopened after an I/O error");
                *slot = Some(Arc::new(db));
            }
            Err(e) => tracing::error!(error = %e, "redb cannot be reopened yet"),
        }
    }
}

impl StateStore {
    pub fn open(path: &Path) -> Result<StateStore, StateError> {
        let db = open_db(path)?;
        let (writer, rx) = mpsc::sync_channel(8192);
        let inner = Arc::new(Inner {
            path: path.to_path_buf(),
            db: RwLock::new(Some(Arc::new(db))),
            writer,
        });
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("redb-writer".into())
            .spawn(move || group_writer(weak, rx))
            .map_err(|e| StateError::Redb(e.to_string()))?;
        Ok(StateStore { inner })
    }

    fn db(&self) -> Result<Arc<Database>, StateError> {
        self.inner.db()
    }

    /// Commits one conversation's step together with other conversations' pending steps
    /// (group commit: one redb transaction, one fsync, for all of them). Resolves once
    /// the step is durable, exactly like [`StateStore::commit_steps`] with one step.
    pub async fn commit_step_grouped<S: Serialize, E: Serialize>(
        &self,
        step: Step<'_, S, E>,
    ) -> Result<(), StateError> {
        let (done, rx) = tokio::sync::oneshot::channel();
        self.enqueue(Op::Step {
            key: step.key.to_string(),
            conversation: serde_json::to_vec(step.conversation)?,
            inbound_id: step.inbound_id,
            effects: serde_json::to_vec(step.effects)?,
            done,
        })
        .await?;
        rx.await
            .map_err(|_| StateError::Redb("state writer stopped".into()))?
            .map_err(StateError::Redb)
    }

    /// Forgets applied effects in the next group commit (tidying: a crash before it only
    /// leaves effects that SQLite already marks as applied).
    pub async fn clear_effects_grouped(&self, inbound_ids: Vec<i64>) -> Result<(), StateError> {
        self.enqueue(Op::Clear(inbound_ids)).await
    }

    async fn enqueue(&self, op: Op) -> Result<(), StateError> {
        let gone = || StateError::Redb("state writer stopped".into());
        match self.inner.writer.try_send(op) {
            Ok(()) => Ok(()),
            // A full queue waits on the blocking pool, not on the runtime.
            Err(mpsc::TrySendError::Full(op)) => {
                let w = self.inner.writer.clone();
                tokio::task::spawn_blocking(move || w.send(op))
                    .await
                    .map_err(|e| StateError::Redb(e.to_string()))?
                    .map_err(|_| gone())
            }
            Err(mpsc::TrySendError::Disconnected(_)) => Err(gone()),
        }
    }

    pub fn database(&self) -> Result<Arc<Database>, StateError> {
        self.db()
    }

    pub fn conversation<S: DeserializeOwned>(
        &self,
        key: &str,
    ) -> Result<Option<Conversation<S>>, StateError> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(SESSIONS)?;
        match t.get(key)? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    /// Commits many conversations' steps in one transaction (group commit).
    pub fn commit_steps<S: Serialize, E: Serialize>(
        &self,
        steps: &[Step<'_, S, E>],
    ) -> Result<(), StateError> {
        let tx = self.db()?.begin_write()?;
        {
            let mut sessions = tx.open_table(SESSIONS)?;
            let mut effects = tx.open_table(EFFECTS)?;
            for s in steps {
                sessions.insert(s.key, serde_json::to_vec(s.conversation)?.as_slice())?;
                effects.insert(s.inbound_id, serde_json::to_vec(s.effects)?.as_slice())?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Replaces a conversation without effects (reset, hand-off release, expiry).
    pub fn put_conversation<S: Serialize>(
        &self,
        key: &str,
        conversation: &Conversation<S>,
    ) -> Result<(), StateError> {
        let tx = self.db()?.begin_write()?;
        {
            let mut sessions = tx.open_table(SESSIONS)?;
            sessions.insert(key, serde_json::to_vec(conversation)?.as_slice())?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn pending_effects<E: DeserializeOwned>(
        &self,
        inbound_id: i64,
    ) -> Result<Option<E>, StateError> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(EFFECTS)?;
        match t.get(inbound_id)? {
            Some(v) => Ok(Some(serde_json::from_slice(v.value())?)),
            None => Ok(None),
        }
    }

    /// The inbound rowids that still have effects kept (for the start-up sweep).
    pub fn effect_ids(&self) -> Result<Vec<i64>, StateError> {
        let tx = self.db()?.begin_read()?;
        let t = tx.open_table(EFFECTS)?;
        let mut out = vec![];
        for row in t.iter()? {
            out.push(row?.0.value());
        }
        Ok(out)
    }

    /// Forgets effects once SQLite has them (they are keyed there, so this is only tidying).
    pub fn clear_effects(&self, inbound_ids: &[i64]) -> Result<(), StateError> {
        if inbound_ids.is_empty() {
            return Ok(());
        }
        let tx = self.db()?.begin_write()?;
        {
            let mut t = tx.open_table(EFFECTS)?;
            for id in inbound_ids {
                t.remove(*id)?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records a de-duplication key; returns false when it was already there.
    pub fn mark_seen(&self, key: &str, now_unix: i64) -> Result<bool, StateError> {
        let tx = self.db()?.begin_write()?;
        let fresh = {
            let mut t = tx.open_table(SEEN)?;
            let already = t.get(key)?.is_some();
            if !already {
                t.insert(key, now_unix)?;
            }
            !already
        };
        tx.commit()?;
        Ok(fresh)
    }

    pub fn session_count(&self) -> Result<u64, StateError> {
        let tx = self.db()?.begin_read()?;
        Ok(tx.open_table(SESSIONS)?.len()?)
    }

    /// Reads every table once; used by `/health` and `check`. A latched I/O error
    /// (full disk) triggers a reopen, so health recovers once space returns.
    pub fn check(&self) -> Result<(), StateError> {
        let result = (|| {
            let tx = self.db()?.begin_read()?;
            tx.open_table(SESSIONS)?.len()?;
            tx.open_table(SEEN)?.len()?;
            tx.open_table(EFFECTS)?.len()?;
            Ok(())
        })();
        if let Err(e) = &result {
            self.inner.recover(e);
        }
        result
    }

    /// Conversation keys whose key starts with `prefix` (e.g. one bot's conversations).
    pub fn delete_conversation(&self, key: &str) -> Result<(), StateError> {
        let tx = self.db()?.begin_write()?;
        {
            let mut t = tx.open_table(SESSIONS)?;
            t.remove(key)?;
        }
        tx.commit()?;
        Ok(())
    }
}

/// Drains whatever is queued, commits it in one transaction, then answers every step.
/// Clears alone never cost a commit (an fsync): they ride along with the next steps, or
/// go after a quiet second.
fn group_writer(store: Weak<Inner>, rx: mpsc::Receiver<Op>) {
    const CLEAR_AFTER: std::time::Duration = std::time::Duration::from_secs(1);
    let mut clears: Vec<i64> = vec![];
    loop {
        let first = if clears.is_empty() {
            rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected)
        } else {
            rx.recv_timeout(CLEAR_AFTER)
        };
        let first = match first {
            Ok(op) => op,
            Err(e) => {
                // A quiet second (or the end): write the clears on their own.
                if !clears.is_empty() {
                    commit_and_answer(&store, vec![Op::Clear(std::mem::take(&mut clears))]);
                }
                if e == mpsc::RecvTimeoutError::Disconnected {
                    return;
                }
                continue;
            }
        };
        let mut ops = vec![];
        let mut sort = |op: Op, ops: &mut Vec<Op>| match op {
            Op::Clear(ids) => clears.extend(ids),
            step => ops.push(step),
        };
        sort(first, &mut ops);
        while ops.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(op) => sort(op, &mut ops),
                Err(_) => break,
            }
        }
        if ops.is_empty() && clears.len() < MAX_GROUP {
            continue;
        }
        if !clears.is_empty() {
            ops.push(Op::Clear(std::mem::take(&mut clears)));
        }
        commit_and_answer(&store, ops);
    }
}

fn commit_and_answer(store: &Weak<Inner>, ops: Vec<Op>) {
    let started = std::time::Instant::now();
    let result = match store.upgrade() {
        Some(inner) => {
            let result = inner.db().and_then(|db| commit_group(&db, &ops));
            if let Err(e) = &result {
                tracing::error!(error = %e, steps = ops.len(), "redb group commit failed");
                inner.recover(e);
            }
            result.map_err(|e| e.to_string())
        }
        None => Err("state store closed".to_string()),
    };
    metrics::histogram!("redb_group_commit_seconds").record(started.elapsed().as_secs_f64());
    metrics::histogram!("redb_group_size").record(ops.len() as f64);
    for op in ops {
        if let Op::Step { done, .. } = op {
            let _ = done.send(result.clone());
        }
    }
}

fn commit_group(db: &Database, ops: &[Op]) -> Result<(), StateError> {
    let tx = db.begin_write()?;
    {
        let mut sessions = tx.open_table(SESSIONS)?;
        let mut effects = tx.open_table(EFFECTS)?;
        for op in ops {
            match op {
                Op::Step {
                    key,
                    conversation,
                    inbound_id,
                    effects: e,
                    ..
                } => {
                    sessions.insert(key.as_str(), conversation.as_slice())?;
                    effects.insert(*inbound_id, e.as_slice())?;
                }
                Op::Clear(ids) => {
                    for id in ids {
                        effects.remove(*id)?;
                    }
                }
            }
        }
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_commits_session_and_effects_together_and_survives_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.redb");
        {
            let s = StateStore::open(&path).unwrap();
            let conv = Conversation {
                session: Some(serde_json::json!({"node": "menu"})),
                last_inbound_id: 7,
            };
            s.commit_steps(&[Step {
                key: "bot:+51987654321",
                conversation: &conv,
                inbound_id: 7,
                effects: &vec!["send hola"],
            }])
            .unwrap();
            assert!(s.mark_seen("evt-1", 1).unwrap());
            assert!(!s.mark_seen("evt-1", 2).unwrap());
        }
        let s = StateStore::open(&path).unwrap();
        let conv: Conversation<serde_json::Value> =
            s.conversation("bot:+51987654321").unwrap().unwrap();
        assert_eq!(conv.last_inbound_id, 7);
        let eff: Vec<String> = s.pending_effects(7).unwrap().unwrap();
        assert_eq!(eff, vec!["send hola"]);
        s.clear_effects(&[7]).unwrap();
        assert!(s.pending_effects::<Vec<String>>(7).unwrap().is_none());
        s.check().unwrap();
    }
}
