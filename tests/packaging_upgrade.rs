//! Upgrades: a data directory made by the first released schema (0001) is kept in
//! `tests/fixtures/schema-0001/`; every newer binary must open it, migrate it and serve
//! its data. Never regenerate the fixture once a second migration exists.

mod common;

use std::path::{Path, PathBuf};

use common::TestServer;
use dashoffice::store::state::Conversation;
use serde_json::Value;

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-0001")
}

fn fixture_facts() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/schema-0001.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

const FILES: [&str; 3] = ["dashoffice.sqlite", "state.redb", "secret.key"];

#[tokio::test]
async fn a_data_dir_from_schema_0001_opens_migrates_and_serves_its_data() {
    let facts = fixture_facts();
    let dir = tempfile::tempdir().unwrap();
    for f in FILES {
        std::fs::copy(fixture_dir().join(f), dir.path().join(f)).unwrap();
    }
    {
        let conn = rusqlite::Connection::open(dir.path().join("dashoffice.sqlite")).unwrap();
        let applied: Vec<i64> = conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(applied, vec![1], "the fixture is and stays at schema 0001");
    }

    let config = common::test_config(dir.path());
    let s = TestServer::boot(dir, config).await;

    // Migrated to everything this binary knows.
    let state = s
        .state
        .db
        .read(dashoffice::store::sqlite::migration_state)
        .await
        .unwrap();
    assert!(state.pending().is_empty(), "pending after start: {state:?}");
    assert!(state.unknown.is_empty());

    // Its users, tenant, API key and conversation state are served.
    let email = facts["email"].as_str().unwrap();
    let l = s.login(email, facts["password"].as_str().unwrap()).await;
    let me: Value = s
        .get("/api/auth/me", l["access_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(me["tenant"]["name"], facts["tenant"]);
    assert_eq!(me["role"], "owner");
    let via_key: Value = s
        .get("/api/auth/me", facts["api_key"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(via_key["via"], "api_key", "{via_key}");
    let conv: Conversation<Value> = s
        .state
        .state
        .conversation(facts["conversation"].as_str().unwrap())
        .unwrap()
        .expect("the redb conversation survived");
    assert_eq!(conv.last_inbound_id, 7);
    let dir = s.stop().await;

    // And `dashoffice check` is happy with the migrated directory.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dashoffice"))
        .args(["check", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema is current"));
}
