//! The data directory: created on first start, locked while a server uses it,
//! holding `secret.key` (made once, mode 0600).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use rand::RngCore;

const KEY_LEN: usize = 64;

/// An opened, locked data directory. The lock is released when this is dropped.
pub struct DataDir {
    root: PathBuf,
    _lock: File,
    key: [u8; KEY_LEN],
}

impl DataDir {
    /// Creates the directory tree if needed and takes the exclusive lock.
    pub fn open(root: &Path) -> anyhow::Result<DataDir> {
        std::fs::create_dir_all(root)
            .with_context(|| format!("cannot create data directory {}", root.display()))?;
        for sub in ["logs", "media"] {
            std::fs::create_dir_all(root.join(sub))
                .with_context(|| format!("cannot create {}/{sub}", root.display()))?;
        }
        let lock_path = root.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open {}", lock_path.display()))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "data directory {} is in use by another dashoffice process; stop it first or pass a different --data-dir",
                root.display()
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", lock_path.display()))
            }
        }
        let key = load_or_create_key(&root.join("secret.key"))?;
        Ok(DataDir {
            root: root.to_path_buf(),
            _lock: lock,
            key,
        })
    }

    /// True when another process holds the lock (used by restore and check).
    pub fn is_locked(root: &Path) -> bool {
        let Ok(f) = OpenOptions::new().write(true).open(root.join(".lock")) else {
            return false;
        };
        matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock))
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    pub fn sqlite_path(&self) -> PathBuf {
        self.root.join("dashoffice.sqlite")
    }
    pub fn state_path(&self) -> PathBuf {
        self.root.join("state.redb")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("logs")
    }
    pub fn media_dir(&self) -> PathBuf {
        self.root.join("media")
    }
    /// Key for signing JWTs.
    pub fn jwt_key(&self) -> &[u8] {
        &self.key[..32]
    }
    /// Key for encrypting provider secrets at rest.
    pub fn seal_key(&self) -> [u8; 32] {
        let mut k = [0u8; 32];
        k.copy_from_slice(&self.key[32..]);
        k
    }
}

fn load_or_create_key(path: &Path) -> anyhow::Result<[u8; KEY_LEN]> {
    let mut key = [0u8; KEY_LEN];
    if path.exists() {
        let mut text = String::new();
        File::open(path)
            .and_then(|mut f| f.read_to_string(&mut text))
            .with_context(|| format!("cannot read {}", path.display()))?;
        let bytes = hex::decode(text.trim())
            .ok()
            .filter(|b| b.len() == KEY_LEN)
            .with_context(|| format!("{} is not a valid key file", path.display()))?;
        key.copy_from_slice(&bytes);
        return Ok(key);
    }
    rand::rngs::OsRng.fill_bytes(&mut key);
    let mut f = OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(hex::encode(key).as_bytes())?;
    f.sync_all()?;
    Ok(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn second_open_refuses_and_key_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let a = DataDir::open(dir.path()).unwrap();
        let err = DataDir::open(dir.path()).err().unwrap().to_string();
        assert!(err.contains("in use"), "{err}");
        let mode = std::fs::metadata(dir.path().join("secret.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let key = a.jwt_key().to_vec();
        drop(a);
        let b = DataDir::open(dir.path()).unwrap();
        assert_eq!(b.jwt_key(), &key[..]);
    }
}
