//! Torture (b): provider chaos. While customers write, the Cloud stand-in flaps (500),
//! rate-limits (429, code 130429), hangs past our send timeout, accepts and then hangs
//! (the at-least-once window), and goes fully down for a while. Afterwards DESIGN §5
//! holds and every reply was either accepted by the provider or dead-lettered with its
//! error: none is left queued, none silently dropped, none recorded as sent unless the
//! provider accepted it.

mod torture_common;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use dashoffice::bench::standin::{CloudStandIn, Mode};
use serde_json::Value;
use torture_common::*;

const CONTACTS: usize = 40;
const MESSAGES: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flapping_rate_limiting_hanging_provider_loses_nothing() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    add_owner(dir.path());
    let standin = Arc::new(CloudStandIn::start(TOKEN, true).await.unwrap());
    standin.set_hang(Duration::from_millis(900));
    let http = http();
    let (mut child, base0) = start(
        dir.path(),
        &[
            ("DASHOFFICE_OUTBOX__SEND_TIMEOUT_MS", "300"),
            ("DASHOFFICE_OUTBOX__MAX_ATTEMPTS", "8"),
        ],
    );
    let (_token, bot) = setup_bot(
        &http,
        &base0,
        &standin,
        serde_json::from_str(ECHO_FLOW).unwrap(),
    )
    .await;
    let base = Arc::new(RwLock::new(base0));

    let mut customers = vec![];
    for c in 0..CONTACTS {
        let (http, base, bot) = (http.clone(), base.clone(), bot.clone());
        customers.push(tokio::spawn(async move {
            let phone = format!("51986{c:06}");
            for m in 0..MESSAGES {
                let body = webhook(&phone, &format!("wamid.{phone}.{m}"), &format!("c{c}-m{m}"));
                deliver(&http, &base, &bot, body).await;
                tokio::time::sleep(Duration::from_millis(150 + (c as u64 % 7) * 40)).await;
            }
        }));
    }
    // The provider's bad day, while the customers write.
    for (mode, ms) in [
        (Mode::Chaos, 2500),
        (Mode::Fail5xx, 1200),
        (Mode::RateLimited, 1200),
        (Mode::Hang, 800),
        (Mode::Chaos, 2500),
    ] {
        standin.set_mode(mode);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    for c in customers {
        c.await.unwrap();
    }
    standin.set_mode(Mode::Ok);
    let settled = settle(dir.path(), Duration::from_secs(40)).await;
    stop(&mut child);
    assert!(settled, "every reply reached a final state");

    let h = read_history(dir.path());
    let dups = h.assert_exactly_once((CONTACTS * MESSAGES) as i64, &standin);
    assert_eq!(
        h.replies_decided,
        (CONTACTS * MESSAGES) as i64,
        "one echo per message"
    );
    // Nothing invented: the provider only heard from us for our contacts, and per contact
    // it accepted at least as many messages as we recorded as sent. (The echo cannot
    // quote the input: the engine's `input` global is never filled; see the report.)
    let contacts: HashSet<String> = (0..CONTACTS).map(|c| format!("+51986{c:06}")).collect();
    let mut accepted_per: HashMap<String, i64> = HashMap::new();
    for a in standin.accepted() {
        assert!(
            contacts.contains(&a.to),
            "the provider got a message for a stranger: {}",
            a.to
        );
        assert_eq!(
            a.body["text"]["body"]
                .as_str()
                .map(|t| t.starts_with("eco")),
            Some(true)
        );
        *accepted_per.entry(a.to).or_default() += 1;
    }
    let db = rusqlite::Connection::open(dir.path().join("dashoffice.sqlite")).unwrap();
    let mut st = db
        .prepare("SELECT to_phone, COUNT(*) FROM outbox WHERE status = 'sent' GROUP BY to_phone")
        .unwrap();
    for row in st
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
        .unwrap()
    {
        let (to, n) = row.unwrap();
        let got = accepted_per.get(&to).copied().unwrap_or(0);
        assert!(
            got >= n,
            "{to}: {n} recorded as sent, provider accepted {got}"
        );
    }
    let sent = h.outbox_by_status.get("sent").copied().unwrap_or(0);
    let dead = h.outbox_by_status.get("dead").copied().unwrap_or(0);
    let failed = h.outbox_by_status.get("failed").copied().unwrap_or(0);
    assert_eq!(sent + dead + failed, h.replies_decided);
    assert_redb_opens(dir.path());
    let errors: Value = {
        let db = rusqlite::Connection::open(dir.path().join("dashoffice.sqlite")).unwrap();
        let mut st = db.prepare("SELECT COALESCE(last_error_code, '?'), COUNT(*) FROM outbox WHERE status != 'sent' GROUP BY 1").unwrap();
        let rows: Vec<(String, i64)> = st
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        serde_json::json!(rows)
    };
    println!(
        "chaos: {} replies decided; {sent} sent, {dead} dead-lettered, {failed} failed (codes {errors}); \
         provider saw {} sends, refused {}, accepted {} ({dups} duplicates in the at-least-once window); {:.1} s",
        h.replies_decided,
        standin.requests(),
        standin.refused(),
        standin.accepted().len(),
        started.elapsed().as_secs_f64()
    );
}
