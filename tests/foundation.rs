//! Foundation: auth, users, API keys, errors, limits, metrics — over real HTTP.

mod common;

use common::{assert_problem, TestServer};
use dashoffice::auth::Role;
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn login_succeeds_and_me_shows_user_and_tenant() {
    let s = TestServer::start().await;
    let (_, email, pw) = s
        .seed_tenant("Bodega Rosa", "rosa@example.com", Role::Owner)
        .await;
    let l = s.login(&email, &pw).await;
    assert_eq!(l["token_type"], "Bearer");
    assert!(l["refresh_token"].as_str().unwrap().len() > 20);
    let res = s
        .get("/api/auth/me", l["access_token"].as_str().unwrap())
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers().get("x-request-id").is_some(),
        "request id header"
    );
    let me: serde_json::Value = res.json().await.unwrap();
    assert_eq!(me["user"]["email"], "rosa@example.com");
    assert_eq!(me["tenant"]["name"], "Bodega Rosa");
    assert_eq!(me["role"], "owner");
    assert!(me["user"].get("password_hash").is_none());
}

#[tokio::test]
async fn wrong_password_and_unknown_user_get_the_same_error() {
    let s = TestServer::start().await;
    s.seed_tenant("T", "a@example.com", Role::Owner).await;
    let wrong = s
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "a@example.com", "password": "nope-nope-nope"})),
        )
        .await;
    let unknown = s
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "ghost@example.com", "password": "nope-nope-nope"})),
        )
        .await;
    let a = assert_problem(wrong, 401, "invalid_credentials").await;
    let b = assert_problem(unknown, 401, "invalid_credentials").await;
    assert_eq!(a["detail"], b["detail"]);
}

#[tokio::test]
async fn an_expired_access_token_is_refused() {
    let s = TestServer::start_with(|c| c.access_token_ttl_secs = 1).await;
    let (_, email, pw) = s.seed_tenant("T", "a@example.com", Role::Owner).await;
    let l = s.login(&email, &pw).await;
    let token = l["access_token"].as_str().unwrap().to_string();
    assert_eq!(s.get("/api/auth/me", &token).await.status(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_problem(s.get("/api/auth/me", &token).await, 401, "token_expired").await;
}

#[tokio::test]
async fn refresh_rotates_and_reusing_a_spent_token_revokes_the_family() {
    let s = TestServer::start().await;
    let (_, email, pw) = s.seed_tenant("T", "a@example.com", Role::Owner).await;
    let l = s.login(&email, &pw).await;
    let r1 = l["refresh_token"].as_str().unwrap().to_string();

    let res = s
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": r1})),
        )
        .await;
    assert_eq!(res.status(), 200);
    let l2: serde_json::Value = res.json().await.unwrap();
    let r2 = l2["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2, "rotated");
    let access2 = l2["access_token"].as_str().unwrap().to_string();
    assert_eq!(s.get("/api/auth/me", &access2).await.status(), 200);

    // Reuse of r1 (already spent): the whole family dies, including r2 and its access token.
    let res = s
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": r1})),
        )
        .await;
    assert_problem(res, 401, "refresh_token_reused").await;
    let res = s
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": r2})),
        )
        .await;
    assert_problem(res, 401, "bad_refresh_token").await;
    assert_problem(
        s.get("/api/auth/me", &access2).await,
        401,
        "session_revoked",
    )
    .await;
}

#[tokio::test]
async fn logout_revokes_the_session() {
    let s = TestServer::start().await;
    let (_, email, pw) = s.seed_tenant("T", "a@example.com", Role::Owner).await;
    let l = s.login(&email, &pw).await;
    let token = l["access_token"].as_str().unwrap();
    let res = s
        .call(Method::POST, "/api/auth/logout", Some(token), None)
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(s.get("/api/auth/me", token).await, 401, "session_revoked").await;
    let res = s
        .call(
            Method::POST,
            "/api/auth/refresh",
            None,
            Some(json!({"refresh_token": l["refresh_token"]})),
        )
        .await;
    assert_problem(res, 401, "bad_refresh_token").await;
}

#[tokio::test]
async fn a_viewer_cannot_create_users_and_an_admin_can() {
    let s = TestServer::start().await;
    let (tenant, _, _) = s.seed_tenant("T", "owner@example.com", Role::Owner).await;
    let pw = s
        .seed_user(tenant, "viewer@example.com", Role::Viewer)
        .await;
    let viewer = s.login("viewer@example.com", &pw).await;
    let body = json!({"email": "new@example.com", "role": "agent", "password": "a-long-password"});
    let res = s
        .post(
            "/api/users",
            viewer["access_token"].as_str().unwrap(),
            body.clone(),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;

    let pw = s.seed_user(tenant, "admin@example.com", Role::Admin).await;
    let admin = s.login("admin@example.com", &pw).await;
    let admin_token = admin["access_token"].as_str().unwrap();
    let res = s.post("/api/users", admin_token, body).await;
    assert_eq!(res.status(), 201);
    // An admin cannot mint an owner.
    let res = s
        .post(
            "/api/users",
            admin_token,
            json!({"email": "o2@example.com", "role": "owner", "password": "a-long-password"}),
        )
        .await;
    assert_problem(res, 403, "forbidden").await;
    let list: Vec<serde_json::Value> = s.get("/api/users", admin_token).await.json().await.unwrap();
    assert_eq!(list.len(), 4);
}

#[tokio::test]
async fn another_tenants_user_is_not_found_for_read_update_and_delete() {
    let s = TestServer::start().await;
    let (_, a_token) = s.owner_token("A").await;
    let (_, b_token) = s.owner_token("B").await;
    let created: serde_json::Value = s
        .post(
            "/api/users",
            &a_token,
            json!({"email": "agent@a.com", "role": "agent", "password": "a-long-password"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    let path = format!("/api/users/{id}");
    assert_problem(s.get(&path, &b_token).await, 404, "not_found").await;
    assert_problem(
        s.put(&path, &b_token, json!({"name": "x"})).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(s.delete(&path, &b_token).await, 404, "not_found").await;
    assert_eq!(s.get(&path, &a_token).await.status(), 200);
}

#[tokio::test]
async fn api_keys_authenticate_with_their_role_and_stop_when_revoked() {
    let s = TestServer::start().await;
    let (_, token) = s.owner_token("T").await;
    let res = s
        .post(
            "/api/api-keys",
            &token,
            json!({"name": "erp", "role": "viewer"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let key: serde_json::Value = res.json().await.unwrap();
    let secret = key["secret"].as_str().unwrap();
    assert!(secret.starts_with("dok_"));
    let me: serde_json::Value = s.get("/api/auth/me", secret).await.json().await.unwrap();
    assert_eq!(me["via"], "api_key");
    assert_eq!(me["role"], "viewer");
    // The list never shows the secret again.
    let list = s.get("/api/api-keys", &token).await.text().await.unwrap();
    assert!(!list.contains(secret));
    // A viewer key cannot manage users.
    assert_problem(s.get("/api/users", secret).await, 403, "forbidden").await;
    let res = s
        .delete(
            &format!("/api/api-keys/{}", key["id"].as_str().unwrap()),
            &token,
        )
        .await;
    assert_eq!(res.status(), 204);
    assert_problem(s.get("/api/auth/me", secret).await, 401, "bad_api_key").await;
}

#[tokio::test]
async fn failed_logins_are_rate_limited_with_retry_after() {
    let s = TestServer::start().await;
    s.seed_tenant("T", "a@example.com", Role::Owner).await;
    for _ in 0..5 {
        let res = s
            .call(
                Method::POST,
                "/api/auth/login",
                None,
                Some(json!({"email": "a@example.com", "password": "wrong-wrong-wrong"})),
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    // Even the right password is refused now.
    let res = s
        .call(
            Method::POST,
            "/api/auth/login",
            None,
            Some(json!({"email": "a@example.com", "password": "correct-horse-battery"})),
        )
        .await;
    let retry: u64 = res
        .headers()
        .get("retry-after")
        .unwrap()
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry > 0 && retry <= 300);
    assert_problem(res, 429, "too_many_login_attempts").await;
}

#[tokio::test]
async fn the_tenant_api_rate_limit_answers_429() {
    let s = TestServer::start_with(|c| c.api_rate_limit_per_min = 3).await;
    let (_, token) = s.owner_token("T").await;
    for _ in 0..3 {
        assert_eq!(s.get("/api/auth/me", &token).await.status(), 200);
    }
    let res = s.get("/api/auth/me", &token).await;
    assert!(res.headers().get("retry-after").is_some());
    assert_problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn bad_input_gets_problem_json_naming_fields() {
    let s = TestServer::start_with(|c| c.body_limit_bytes = 4096).await;
    let (_, token) = s.owner_token("T").await;

    let res = s
        .http
        .post(s.url("/api/users"))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .unwrap();
    assert_problem(res, 400, "bad_json").await;

    let res = s
        .post(
            "/api/users",
            &token,
            json!({"email": "not-an-email", "role": "chief", "password": "short"}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["email", "role", "password"]);

    let res = s
        .post("/api/users", &token, json!({"email": "a@b.co", "role": "agent", "password": "long-enough-pw", "shoe_size": 42}))
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"][0]["field"], "shoe_size");

    let big = "x".repeat(10_000);
    let res = s
        .post(
            "/api/users",
            &token,
            json!({"email": big, "role": "agent", "password": "p"}),
        )
        .await;
    assert_problem(res, 413, "payload_too_large").await;

    assert_problem(
        s.get("/api/nothing-here", &token).await,
        404,
        "route_not_found",
    )
    .await;
    let users: Vec<serde_json::Value> = s.get("/api/users", &token).await.json().await.unwrap();
    assert_eq!(users.len(), 1, "nothing was written");
}

#[tokio::test]
async fn registration_is_off_by_default_and_creates_a_tenant_when_on() {
    let s = TestServer::start().await;
    let body =
        json!({"tenant_name": "Nueva", "email": "n@example.com", "password": "a-long-password"});
    let res = s
        .call(Method::POST, "/api/auth/register", None, Some(body.clone()))
        .await;
    assert_problem(res, 403, "registration_disabled").await;

    let s = TestServer::start_with(|c| c.registration_enabled = true).await;
    let res = s
        .call(Method::POST, "/api/auth/register", None, Some(body))
        .await;
    assert_eq!(res.status(), 201);
    let l: serde_json::Value = res.json().await.unwrap();
    assert_eq!(l["user"]["role"], "owner");
    assert_eq!(l["tenant"]["name"], "Nueva");
}

async fn metrics_text(s: &TestServer) -> String {
    s.http
        .get(s.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The sum of the values on the Prometheus lines `pick` chooses.
fn metric_sum(text: &str, pick: impl Fn(&str) -> bool) -> f64 {
    text.lines()
        .filter(|l| pick(l))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn health_reports_stores_and_metrics_count_requests() {
    let s = TestServer::start().await;
    let res = s.http.get(s.url("/health")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let h: serde_json::Value = res.json().await.unwrap();
    assert_eq!(h["status"], "ok");
    assert_eq!(h["checks"]["sqlite"], "ok");
    assert_eq!(h["checks"]["redb"], "ok");
    assert_eq!(h["checks"]["disk"], "ok");
    assert!(h["disk_free_bytes"].as_u64().unwrap() > 0);
    assert!(h["rss_bytes"].as_u64().unwrap() > 0);

    let count = |text: &str| -> f64 {
        metric_sum(text, |l| {
            l.starts_with("http_requests_total")
                && l.contains("route=\"/health\"")
                && l.contains("status=\"200\"")
        })
    };
    let before = count(&metrics_text(&s).await);
    for _ in 0..3 {
        s.http.get(s.url("/health")).send().await.unwrap();
    }
    let text = metrics_text(&s).await;
    assert!(count(&text) >= before + 3.0, "{text}");
    assert!(text.contains("http_request_duration_seconds"));
    assert!(text.contains("process_resident_memory_bytes"));

    // The writer thread's own metrics (registered when the database opens) are recorded.
    s.owner_token("M").await;
    let text = metrics_text(&s).await;
    for name in [
        "sqlite_write_batch_seconds_count",
        "sqlite_write_group_jobs_count",
    ] {
        let n = metric_sum(&text, |l| l.starts_with(name));
        assert!(n >= 1.0, "{name} missing or zero:\n{text}");
    }
}

#[tokio::test]
async fn tenant_settings_are_validated_and_audited() {
    let s = TestServer::start().await;
    let (_, token) = s.owner_token("T").await;
    let res = s
        .put(
            "/api/tenant",
            &token,
            json!({"timezone": "Mars/Base", "currency": "XXX"}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    let res = s
        .put(
            "/api/tenant",
            &token,
            json!({"timezone": "America/Bogota", "currency": "COP", "country": "CO"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let audit: Vec<serde_json::Value> = s.get("/api/audit", &token).await.json().await.unwrap();
    assert_eq!(audit[0]["entity"], "tenant");
    assert_eq!(audit[0]["summary"]["after"]["timezone"], "America/Bogota");
}
