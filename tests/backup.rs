//! Backup and restore as an operator runs them: `dashoffice backup` against a live server
//! under write load, `dashoffice restore` into a fresh directory, and the refusals.

mod common;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestServer;
use dashoffice::backup::{self, Manifest};
use dashoffice::store::state::Conversation;
use dashoffice::store::StateStore;
use serde_json::json;
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_dashoffice");

fn run(args: &[&str], paths: &[&Path]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args);
    for p in paths {
        cmd.arg(p);
    }
    cmd.env("DASHOFFICE_LOG_LEVEL", "warn").output().unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn backup_cli(data: &Path, dest: &Path) -> Output {
    run(&["backup"], &[dest, Path::new("--data-dir"), data])
}

fn restore_cli(src: &Path, data: &Path) -> Output {
    run(&["restore"], &[src, Path::new("--data-dir"), data])
}

/// Rewrites the manifest so its checksums match the files again (a "clever" tamper).
fn reseal(dir: &Path) {
    let path = dir.join(backup::MANIFEST);
    let mut m: Manifest = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    for f in &mut m.files {
        let bytes = std::fs::read(dir.join(&f.path)).unwrap();
        f.size = bytes.len() as u64;
        f.sha256 = hex::encode(Sha256::digest(&bytes));
    }
    std::fs::write(path, serde_json::to_vec(&m).unwrap()).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_load_holds_every_acknowledged_write_and_restores_cleanly() {
    let s = TestServer::start_with(|c| c.api_rate_limit_per_min = 1_000_000).await;
    let (_, token) = s.owner_token("Bodega Carga").await;
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("bk");

    // Writers: ~200 API-key creations per second over HTTP, and redb conversation writes.
    let acked: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let redb_acked: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let http_load = {
        let (acked, stop, token) = (acked.clone(), stop.clone(), token.clone());
        let (http, url) = (s.http.clone(), s.url("/api/api-keys"));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(5));
            let mut inflight = vec![];
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                tick.tick().await;
                i += 1;
                let name = format!("load-{i}");
                let (http, url, token, acked) =
                    (http.clone(), url.clone(), token.clone(), acked.clone());
                inflight.push(tokio::spawn(async move {
                    let res = http
                        .post(url)
                        .bearer_auth(token)
                        .json(&json!({"name": name, "role": "viewer"}))
                        .send()
                        .await
                        .unwrap();
                    if res.status() == 201 {
                        acked.lock().unwrap().push((name, Instant::now()));
                    }
                }));
            }
            for t in inflight {
                t.await.unwrap();
            }
        })
    };
    let redb_load = {
        let (acked, stop, state) = (redb_acked.clone(), stop.clone(), s.state.clone());
        tokio::task::spawn_blocking(move || {
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                i += 1;
                let key = format!("bot:+5198765{i:04}");
                let conv = Conversation {
                    session: Some(json!({"node": "menu"})),
                    last_inbound_id: i as i64,
                };
                state.state.put_conversation(&key, &conv).unwrap();
                acked.lock().unwrap().push((key, Instant::now()));
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let began = Instant::now();
    let data = s.dir.path().to_path_buf();
    let dest_c = dest.clone();
    let out_b = tokio::task::spawn_blocking(move || backup_cli(&data, &dest_c))
        .await
        .unwrap();
    let backup_took = began.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    http_load.await.unwrap();
    redb_load.await.unwrap();
    assert!(out_b.status.success(), "{}", text(&out_b));
    assert!(
        text(&out_b).contains("taken by the running server"),
        "{}",
        text(&out_b)
    );

    let acked = acked.lock().unwrap().clone();
    let load_secs = 2.0 + backup_took.as_secs_f64();
    let rate = acked.len() as f64 / load_secs;
    println!(
        "{} writes acknowledged in {load_secs:.1} s ({rate:.0}/s); backup took {backup_took:?}",
        acked.len()
    );
    assert!(
        rate > 120.0,
        "the load reached only {rate:.0} writes/s (target 200)"
    );
    let before: Vec<&String> = acked
        .iter()
        .filter(|(_, t)| *t < began)
        .map(|(n, _)| n)
        .collect();
    let redb_before: Vec<String> = redb_acked
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, t)| *t < began)
        .map(|(k, _)| k.clone())
        .collect();
    assert!(before.len() > 200 && redb_before.len() > 50);

    // Restore into a fresh directory with the real CLI; it verifies before it writes.
    let restored = tempfile::tempdir().unwrap();
    let out_r = restore_cli(&dest, restored.path());
    assert!(out_r.status.success(), "{}", text(&out_r));
    assert!(text(&out_r).contains("integrity verified"));

    let conn = rusqlite::Connection::open(restored.path().join("dashoffice.sqlite")).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let names: HashSet<String> = conn
        .prepare("SELECT name FROM api_keys")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    let missing: Vec<&&String> = before.iter().filter(|n| !names.contains(**n)).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but missing: {missing:?}"
    );
    drop(conn);
    {
        let st = StateStore::open(&restored.path().join("state.redb")).unwrap();
        st.check().unwrap();
        for k in &redb_before {
            let c: Option<Conversation<serde_json::Value>> = st.conversation(k).unwrap();
            assert!(
                c.is_some(),
                "redb conversation {k} acknowledged before the backup is missing"
            );
        }
    }

    // The restored directory serves: the owner's tenant and keys are there.
    s.stop().await;
    let config = common::test_config(restored.path());
    let r = TestServer::boot(restored, config).await;
    let res = r.get("/api/api-keys", &token).await;
    assert_eq!(
        res.status(),
        200,
        "the access token signed with the restored secret.key still verifies"
    );
    let keys: Vec<serde_json::Value> = res.json().await.unwrap();
    assert!(keys.len() >= before.len());
    r.stop().await;
}

#[tokio::test]
async fn restore_refuses_the_data_dir_of_a_running_server() {
    let s = TestServer::start().await;
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("bk");
    let data = s.dir.path().to_path_buf();
    let (d, b) = (data.clone(), dest.clone());
    let o = tokio::task::spawn_blocking(move || backup_cli(&d, &b))
        .await
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let o = restore_cli(&dest, &data);
    assert!(!o.status.success());
    assert!(
        text(&o).contains("in use by a running dashoffice server"),
        "{}",
        text(&o)
    );
    // The server is unharmed.
    let res = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    s.stop().await;
}

/// A data directory (made by the CLI, plus a redb conversation) and a backup of it taken
/// with no server running. The second TempDir holds the backup at the returned path.
fn offline_backup() -> (tempfile::TempDir, tempfile::TempDir, PathBuf) {
    let data = tempfile::tempdir().unwrap();
    let o = run(
        &[
            "user",
            "add",
            "--email",
            "a@b.pe",
            "--tenant",
            "T",
            "--data-dir",
        ],
        &[data.path()],
    );
    assert!(o.status.success(), "{}", text(&o));
    // Start once so state.redb and secret.key exist, then stop.
    let o = run(&["migrate", "--data-dir"], &[data.path()]);
    assert!(o.status.success());
    {
        let st = StateStore::open(&data.path().join("state.redb")).unwrap();
        let conv = Conversation {
            session: Some(json!({"node": "menu"})),
            last_inbound_id: 1,
        };
        st.put_conversation("bot:+51987654321", &conv).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let dest = out.path().join("bk");
    let o = backup_cli(data.path(), &dest);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("no server running"), "{}", text(&o));
    (data, out, dest)
}

#[test]
fn a_tampered_backup_is_refused_and_the_data_dir_is_left_alone() {
    let (_data, _out, dest) = offline_backup();
    let target = tempfile::tempdir().unwrap();
    std::fs::write(target.path().join("keep.txt"), "x").unwrap();

    // One flipped byte in the database.
    let db = dest.join("dashoffice.sqlite");
    let mut bytes = std::fs::read(&db).unwrap();
    let at = bytes.len() - 100;
    bytes[at] ^= 0xff;
    std::fs::write(&db, &bytes).unwrap();
    let o = restore_cli(&dest, target.path());
    assert!(!o.status.success());
    assert!(
        text(&o).contains("does not match its checksum"),
        "{}",
        text(&o)
    );
    let v = run(&["restore", "--verify-only"], &[&dest]);
    assert!(!v.status.success());
    let left: Vec<_> = std::fs::read_dir(target.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != ".lock")
        .collect();
    assert_eq!(left, vec!["keep.txt"], "nothing restored, nothing moved");

    // A damaged page with a manifest rewritten to match: the integrity check refuses it.
    let mut bytes = std::fs::read(&db).unwrap();
    for b in &mut bytes[4096..8192] {
        *b = 0x5a;
    }
    std::fs::write(&db, &bytes).unwrap();
    reseal(&dest);
    let o = restore_cli(&dest, target.path());
    assert!(!o.status.success());
    assert!(
        text(&o).contains("integrity") || text(&o).contains("malformed"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_damaged_redb_copy_is_refused() {
    let (_data, _out, dest) = offline_backup();
    let path = dest.join("state.redb");
    let mut bytes = std::fs::read(&path).unwrap();
    let len = bytes.len();
    for b in &mut bytes[len / 2..] {
        *b ^= 0xa5;
    }
    std::fs::write(&path, &bytes).unwrap();
    reseal(&dest);
    let target = tempfile::tempdir().unwrap();
    let o = restore_cli(&dest, target.path());
    assert!(!o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("redb"), "{}", text(&o));
}

#[test]
fn a_backup_from_a_newer_schema_is_refused() {
    let (_data, _out, dest) = offline_backup();
    let conn = rusqlite::Connection::open(dest.join("dashoffice.sqlite")).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations VALUES (9999, 'future', 'x')",
        [],
    )
    .unwrap();
    drop(conn);
    reseal(&dest);
    let target = tempfile::tempdir().unwrap();
    let o = restore_cli(&dest, target.path());
    assert!(!o.status.success());
    assert!(text(&o).contains("newer"), "{}", text(&o));
}

#[test]
fn restore_over_existing_data_moves_it_aside_and_the_restored_dir_serves() {
    let (data, _out, dest) = offline_backup();
    let o = restore_cli(&dest, data.path());
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("pre-restore-"), "{}", text(&o));
    let aside: Vec<_> = std::fs::read_dir(data.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with("pre-restore-"))
        .collect();
    assert_eq!(aside.len(), 1);
    assert!(data
        .path()
        .join(&aside[0])
        .join("dashoffice.sqlite")
        .exists());
    let check = run(&["check", "--data-dir"], &[data.path()]);
    assert!(check.status.success(), "{}", text(&check));
}

#[test]
fn backup_refuses_a_destination_that_is_not_empty() {
    let (data, _out, dest) = offline_backup();
    let o = backup_cli(data.path(), &dest);
    assert!(!o.status.success());
    assert!(text(&o).contains("not empty"), "{}", text(&o));
}

#[tokio::test]
async fn scheduled_backups_keep_only_the_newest_n() {
    let backups = tempfile::tempdir().unwrap();
    let dir = backups.path().to_path_buf();
    let s = TestServer::start_with(|c| {
        c.backup.dir = Some(dir.clone());
        c.backup.keep = 2;
    })
    .await;
    s.owner_token("T").await;
    let mut made = vec![];
    for _ in 0..3 {
        made.push(backup::scheduled(&s.state, &dir, 2).await.unwrap());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut left: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    left.sort();
    assert_eq!(left, made[1..].to_vec(), "the oldest one was removed");
    for p in &left {
        backup::verify(p).unwrap();
    }
    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap();
    let body = metrics.text().await.unwrap();
    assert!(
        body.contains("backups_total"),
        "backups are visible in metrics"
    );
    s.stop().await;
}
