//! `/api/openapi.json` documents every route the router serves, and is OpenAPI 3.1.

mod common;

use std::collections::BTreeSet;

use common::{test_config, TestServer};
use serde_json::Value;

/// (METHOD, path) of every route the built router serves, read from axum's own route
/// table (its `Debug` output: route ids -> paths, and each method router's Allow list).
fn served_routes(router: &axum::Router) -> BTreeSet<(String, String)> {
    let full = format!("{router:?}");
    // Only the path router; the fallback router numbers its routes separately.
    let dump = full.split("fallback_router:").next().unwrap_or_default();
    let ids = regex::Regex::new(r#"RouteId\((\d+)\): "([^"]+)""#).unwrap();
    let allow = regex::Regex::new(
        r#"RouteId\((\d+)\): MethodRouter\(MethodRouter \{.*?allow_header: Bytes\(b"([A-Z,]*)"\) \}\)"#,
    )
    .unwrap();
    let paths: std::collections::HashMap<String, String> = ids
        .captures_iter(dump)
        .map(|c| (c[1].to_string(), c[2].to_string()))
        .collect();
    let mut out = BTreeSet::new();
    for c in allow.captures_iter(dump) {
        let Some(path) = paths.get(&c[1]) else {
            continue;
        };
        if path.contains("__private__axum") {
            continue;
        }
        for m in c[2].split(',').filter(|m| !m.is_empty() && *m != "HEAD") {
            out.insert((m.to_string(), path.clone()));
        }
    }
    out
}

fn documented_routes(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for m in ["get", "post", "put", "delete", "patch"] {
            if item.get(m).is_some() {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_served_route_is_documented_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let app = dashoffice::build(test_config(dir.path())).await.unwrap();
    let served = served_routes(&app.router());
    assert!(
        served.contains(&("GET".into(), "/api/products/{id}".into()))
            && served.contains(&("POST".into(), "/api/auth/login".into()))
            && served.len() > 40,
        "the route table was read: {served:?}"
    );
    let doc = serde_json::to_value(dashoffice::api::openapi::document()).unwrap();
    let documented = documented_routes(&doc);
    let missing: Vec<_> = served.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&served).collect();
    assert!(
        missing.is_empty(),
        "routes served but not in /api/openapi.json (add #[utoipa::path] and list it in api/openapi.rs): {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "documented routes the router does not serve: {stale:?}"
    );
}

#[tokio::test]
async fn the_document_is_served_and_is_structurally_openapi_3_1() {
    let s = TestServer::start().await;
    let res = s.http.get(s.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    assert!(doc["info"]["title"].is_string() && doc["info"]["version"].is_string());
    let paths = doc["paths"].as_object().unwrap();
    for (path, item) in paths {
        assert!(path.starts_with('/'), "{path}");
        let ops: Vec<_> = item
            .as_object()
            .unwrap()
            .iter()
            .filter(|(k, _)| ["get", "post", "put", "delete", "patch"].contains(&k.as_str()))
            .collect();
        assert!(!ops.is_empty(), "{path} has no operation");
        for (m, op) in ops {
            let responses = op["responses"].as_object().unwrap();
            assert!(!responses.is_empty(), "{m} {path} has no responses");
            for (code, r) in responses {
                assert!(
                    code == "default" || code.parse::<u16>().is_ok(),
                    "{m} {path}: {code}"
                );
                assert!(
                    r["description"].is_string(),
                    "{m} {path} {code} needs a description"
                );
            }
            // Path templates and path parameters agree.
            for seg in path.split('/').filter(|s| s.starts_with('{')) {
                let name = seg.trim_matches(|c| c == '{' || c == '}');
                let declared = op["parameters"].as_array().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p["name"] == name && p["in"] == "path" && p["required"] == true)
                });
                assert!(
                    declared,
                    "{m} {path} does not declare path parameter {name}"
                );
            }
        }
    }
    // Every $ref points at a schema that exists.
    let text = doc.to_string();
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for r in regex::Regex::new(r##""\$ref":"#/components/schemas/([^"]+)""##)
        .unwrap()
        .captures_iter(&text)
    {
        assert!(schemas.contains_key(&r[1]), "dangling $ref {}", &r[1]);
    }
    assert!(schemas.contains_key("Product") && schemas.contains_key("Order"));
}
