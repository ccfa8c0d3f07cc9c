//! The binary as an operator runs it: start, print, lock, restart, stop on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_dashoffice");

struct Server {
    child: Child,
    base: String,
    lines: Vec<String>,
}

fn serve(data: &std::path::Path, extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .args(extra)
        .env("DASHOFFICE_LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut lines = vec![];
    let mut base = String::new();
    loop {
        let mut line = String::new();
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(rest) = line.split("serving on ").nth(1) {
            base = rest.trim().trim_end_matches('/').to_string();
        }
        lines.push(line.trim().to_string());
        if !base.is_empty()
            && (!extra.contains(&"--demo") || lines.iter().any(|l| l.contains("password")))
        {
            break;
        }
    }
    assert!(!base.is_empty(), "server printed its URL: {lines:?}");
    Server { child, base, lines }
}

fn sigterm(mut s: Server) -> (std::process::ExitStatus, Duration) {
    let started = Instant::now();
    // SAFETY: plain kill(2) on our own child.
    unsafe { libc::kill(s.child.id() as i32, libc::SIGTERM) };
    let status = s.child.wait().unwrap();
    (status, started.elapsed())
}

fn get(url: &str) -> (u16, String) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let res = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    })
}

fn login(base: &str, email: &str, password: &str) -> u16 {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .post(format!("{base}/api/auth/login"))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    })
}

#[test]
fn demo_serves_prints_credentials_answers_health_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let s = serve(dir.path(), &["--demo"]);
    let ready = started.elapsed();
    let creds = s
        .lines
        .iter()
        .find(|l| l.contains("password"))
        .unwrap()
        .clone();
    assert!(creds.contains("admin@demo.local"), "{creds}");
    let password = creds.rsplit(' ').next().unwrap().to_string();
    assert!(password.len() >= 12);
    let (status, body) = get(&format!("{}/health", s.base));
    assert_eq!(status, 200);
    assert!(body.contains("\"status\":\"ok\""));
    assert_eq!(login(&s.base, "admin@demo.local", &password), 200);
    // Generous bound: the issue asks for < 1 s; the bench measures it precisely.
    assert!(ready < Duration::from_secs(10), "started in {ready:?}");
    let (status, took) = sigterm(s);
    assert!(status.success(), "exit status {status:?}");
    assert!(took < Duration::from_secs(5), "stopped in {took:?}");

    // A second start prints a new password; the old one stops working.
    let s = serve(dir.path(), &["--demo"]);
    let creds = s
        .lines
        .iter()
        .find(|l| l.contains("password"))
        .unwrap()
        .clone();
    let password2 = creds.rsplit(' ').next().unwrap().to_string();
    assert_ne!(password, password2);
    assert_eq!(login(&s.base, "admin@demo.local", &password), 401);
    assert_eq!(login(&s.base, "admin@demo.local", &password2), 200);
    sigterm(s);
}

#[test]
fn a_second_server_on_the_same_data_dir_refuses_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let s = serve(dir.path(), &[]);
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("in use by another dashoffice process"),
        "{err}"
    );
    sigterm(s);
}

#[test]
fn data_survives_a_restart_and_user_add_works_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args([
            "user",
            "add",
            "--email",
            "dueña@tienda.pe",
            "--tenant",
            "Tienda Sol",
            "--data-dir",
        ])
        .arg(dir.path())
        .env("DASHOFFICE_NEW_PASSWORD", "una-clave-larga")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Tienda Sol"));
    for _ in 0..2 {
        let s = serve(dir.path(), &[]);
        assert_eq!(login(&s.base, "dueña@tienda.pe", "una-clave-larga"), 200);
        sigterm(s);
    }
}

#[test]
fn migrate_is_a_no_op_the_second_time_and_a_newer_database_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(BIN)
            .args(args)
            .arg("--data-dir")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    let first = run(&["migrate"]);
    assert!(first.status.success());
    assert!(String::from_utf8_lossy(&first.stdout).contains("applied"));
    let second = run(&["migrate"]);
    assert!(String::from_utf8_lossy(&second.stdout).contains("up to date"));
    let check = run(&["check"]);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    let conn = rusqlite::Connection::open(dir.path().join("dashoffice.sqlite")).unwrap();
    conn.execute(
        "INSERT INTO schema_migrations VALUES (9999, 'future', 'x')",
        [],
    )
    .unwrap();
    drop(conn);
    let out = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("newer"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = run(&["check"]);
    assert!(!check.status.success());
}

#[test]
fn check_fails_with_the_reason_on_a_bad_config() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "listen = 42\n").unwrap();
    let out = Command::new(BIN)
        .args(["check", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("listen") && err.contains("bad.toml"), "{err}");
}
