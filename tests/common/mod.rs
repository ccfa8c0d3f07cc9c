//! Test kit: boots the real appliance (same builder as `main`) on 127.0.0.1:0 with a
//! temporary data directory, and talks HTTP to it.
#![allow(dead_code)]

use std::net::SocketAddr;

use dashoffice::auth::store as users;
use dashoffice::auth::{password, Role};
use dashoffice::config::Config;
use dashoffice::ids::TenantId;
use dashoffice::AppState;
use reqwest::{Client, Method, Response};
use serde_json::{json, Value};
use tokio::sync::oneshot;

pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub state: AppState,
    pub http: Client,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn test_config(dir: &std::path::Path) -> Config {
    Config {
        data_dir: dir.to_path_buf(),
        listen: "127.0.0.1:0".parse().unwrap(),
        ..Config::default()
    }
}

impl TestServer {
    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path());
        tweak(&mut config);
        Self::boot(dir, config).await
    }

    /// Boots on an existing directory (for restart tests).
    pub async fn boot(dir: tempfile::TempDir, mut config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Providers (bridges, Twilio signatures) must see the address we really listen on.
        config.listen = addr;
        let app = dashoffice::build(config).await.expect("app builds");
        let state = app.state.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(app.serve(listener, async move {
            let _ = rx.await;
        }));
        TestServer {
            addr,
            base: format!("http://{addr}"),
            state,
            http: Client::builder().no_proxy().build().unwrap(),
            dir,
            stop: Some(tx),
            handle: Some(handle),
        }
    }

    /// Stops gracefully and hands back the data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(h) = self.handle.take() {
            h.await.unwrap().unwrap();
        }
        drop(self.state);
        self.dir
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        rb.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Response {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    /// Creates a tenant with one user of `role`; returns (tenant, email, password).
    pub async fn seed_tenant(
        &self,
        name: &str,
        email: &str,
        role: Role,
    ) -> (TenantId, String, String) {
        let pw = "correct-horse-battery".to_string();
        let hash = password::hash(pw.clone()).await.unwrap();
        let (name, email_c) = (name.to_string(), email.to_string());
        let tenant = self
            .state
            .db
            .write(move |c| {
                let t = users::create_tenant(c, &name)?;
                users::create_user(
                    c,
                    t.id,
                    &users::NewUser {
                        email: &email_c,
                        name: "Test",
                        role,
                        password_hash: &hash,
                    },
                )?;
                Ok(t.id)
            })
            .await
            .unwrap();
        (tenant, email.to_string(), pw)
    }

    /// Adds a user to an existing tenant.
    pub async fn seed_user(&self, tenant: TenantId, email: &str, role: Role) -> String {
        let pw = "correct-horse-battery".to_string();
        let hash = password::hash(pw.clone()).await.unwrap();
        let email_c = email.to_string();
        self.state
            .db
            .write(move |c| {
                users::create_user(
                    c,
                    tenant,
                    &users::NewUser {
                        email: &email_c,
                        name: "Test",
                        role,
                        password_hash: &hash,
                    },
                )?;
                Ok(())
            })
            .await
            .unwrap();
        pw
    }

    pub async fn login(&self, email: &str, password: &str) -> Value {
        let res = self
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(res.status(), 200, "login as {email}");
        res.json().await.unwrap()
    }

    /// Access token of a fresh tenant owner.
    pub async fn owner_token(&self, tenant_name: &str) -> (TenantId, String) {
        let email = format!("owner-{}@example.com", uuid::Uuid::new_v4().simple());
        let (t, e, p) = self.seed_tenant(tenant_name, &email, Role::Owner).await;
        let l = self.login(&e, &p).await;
        (t, l["access_token"].as_str().unwrap().to_string())
    }
}

/// Asserts a problem+json answer with `status` and `code`; returns the body.
pub async fn assert_problem(res: Response, status: u16, code: &str) -> Value {
    assert_eq!(res.status().as_u16(), status, "status");
    let ct = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        ct.starts_with("application/problem+json"),
        "content-type {ct}"
    );
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], code, "body {body}");
    assert_eq!(body["status"], status);
    body
}
