//! Persistence: the data directory, SQLite (transactional data) and redb (conversation state).

pub mod datadir;
pub mod sqlite;
pub mod state;

pub use datadir::DataDir;
pub use sqlite::{CachedSql, Db, DbError};
pub use state::StateStore;
