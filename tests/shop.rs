//! Shop back office over real HTTP: products, customers, sellers, orders.

mod common;

use common::{assert_problem, TestServer};
use dashoffice::auth::Role;
use reqwest::Method;
use serde_json::{json, Value};

async fn token_for(s: &TestServer, tenant: dashoffice::ids::TenantId, role: Role) -> String {
    let email = format!(
        "{}-{}@example.com",
        role.as_str(),
        uuid::Uuid::new_v4().simple()
    );
    let pw = s.seed_user(tenant, &email, role).await;
    s.login(&email, &pw).await["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn ok(res: reqwest::Response, status: u16) -> Value {
    let got = res.status().as_u16();
    let body = res.text().await.unwrap();
    assert_eq!(got, status, "body: {body}");
    if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&body).unwrap()
    }
}

async fn product(
    s: &TestServer,
    t: &str,
    sku: &str,
    name: &str,
    price: i64,
    stock: Option<i64>,
) -> Value {
    ok(
        s.post(
            "/api/products",
            t,
            json!({"sku": sku, "name": name, "price_minor": price, "stock": stock, "category": "Ropa"}),
        )
        .await,
        201,
    )
    .await
}

async fn customer(s: &TestServer, t: &str, phone: &str, name: &str) -> Value {
    ok(
        s.post("/api/customers", t, json!({"phone": phone, "name": name}))
            .await,
        201,
    )
    .await
}

async fn order(s: &TestServer, t: &str, body: Value) -> Value {
    ok(s.post("/api/orders", t, body).await, 201).await
}

async fn set_status(s: &TestServer, t: &str, id: &str, status: &str) -> reqwest::Response {
    s.post(
        &format!("/api/orders/{id}/status"),
        t,
        json!({"status": status}),
    )
    .await
}

fn field_names(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn products_are_created_read_updated_and_deleted_with_the_tenant_currency() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("Bodega").await;
    let p = ok(
        s.post(
            "/api/products",
            &t,
            json!({"sku": "CAM-1", "name": "Camisa", "price_minor": 4590, "tags": ["verano", " verano "],
                   "images": ["https://img/1.jpg"]}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(p["currency"], "PEN", "tenant default");
    assert_eq!(p["price_text"], "S/ 45.90");
    assert_eq!(p["stock"], Value::Null, "unlimited by default");
    assert_eq!(p["tags"], json!(["verano"]));
    assert_eq!(p["active"], true);
    let id = p["id"].as_str().unwrap();

    let got = ok(s.get(&format!("/api/products/{id}"), &t).await, 200).await;
    assert_eq!(got, p);

    let upd = ok(
        s.put(
            &format!("/api/products/{id}"),
            &t,
            json!({"price_minor": 5000, "stock": 3, "currency": "usd"}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (upd["price_minor"].as_i64(), upd["stock"].as_i64()),
        (Some(5000), Some(3))
    );
    assert_eq!(upd["currency"], "USD");
    assert_eq!(upd["name"], "Camisa", "absent fields are kept");
    let upd = ok(
        s.put(&format!("/api/products/{id}"), &t, json!({"stock": null}))
            .await,
        200,
    )
    .await;
    assert_eq!(upd["stock"], Value::Null, "null stock = unlimited again");

    // SKU is unique per tenant.
    let dup = s
        .post(
            "/api/products",
            &t,
            json!({"sku": "CAM-1", "name": "Otra", "price_minor": 1}),
        )
        .await;
    assert_problem(dup, 409, "duplicate").await;

    assert_eq!(
        s.delete(&format!("/api/products/{id}"), &t).await.status(),
        204
    );
    assert_problem(
        s.get(&format!("/api/products/{id}"), &t).await,
        404,
        "not_found",
    )
    .await;

    // Every write is in the audit log with before/after.
    let audit = ok(s.get("/api/audit?entity=product", &t).await, 200).await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["delete", "update", "update", "create"]);
    assert_eq!(audit[2]["summary"]["before"]["price_minor"], 4590);
    assert_eq!(audit[2]["summary"]["after"]["price_minor"], 5000);
}

#[tokio::test]
async fn another_tenants_records_are_not_found_for_read_update_and_delete() {
    let s = TestServer::start().await;
    let (_, a) = s.owner_token("A").await;
    let (_, b) = s.owner_token("B").await;
    let p = product(&s, &a, "P1", "Polo", 1000, Some(5)).await;
    let k = customer(&s, &a, "987 654 321", "Ana").await;
    let sel = ok(
        s.post("/api/sellers", &a, json!({"name": "Lucía"})).await,
        201,
    )
    .await;
    let o = order(
        &s,
        &a,
        json!({"customer_id": k["id"], "items": [{"product_id": p["id"], "quantity": 1}]}),
    )
    .await;

    for (base, id, body) in [
        ("/api/products", &p["id"], json!({"name": "x"})),
        ("/api/customers", &k["id"], json!({"name": "x"})),
        ("/api/sellers", &sel["id"], json!({"name": "x"})),
    ] {
        let path = format!("{base}/{}", id.as_str().unwrap());
        assert_problem(s.get(&path, &b).await, 404, "not_found").await;
        assert_problem(s.put(&path, &b, body).await, 404, "not_found").await;
        assert_problem(s.delete(&path, &b).await, 404, "not_found").await;
        let list = ok(s.get(base, &b).await, 200).await;
        assert_eq!(
            list["items"],
            json!([]),
            "{base} lists only the caller's tenant"
        );
        // Still there for its owner.
        assert_eq!(s.get(&path, &a).await.status(), 200);
    }
    let oid = o["id"].as_str().unwrap();
    assert_problem(
        s.get(&format!("/api/orders/{oid}"), &b).await,
        404,
        "not_found",
    )
    .await;
    assert_problem(set_status(&s, &b, oid, "cancelled").await, 404, "not_found").await;
    assert_eq!(
        ok(s.get("/api/orders", &b).await, 200).await["items"],
        json!([])
    );
    // B cannot order A's product for A's customer either.
    let res = s
        .post(
            "/api/orders",
            &b,
            json!({"customer_id": k["id"], "items": [{"product_id": p["id"], "quantity": 1}]}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(field_names(&body), ["customer_id", "items[0].product_id"]);
    assert_eq!(
        ok(s.get(&format!("/api/orders/{oid}"), &a).await, 200).await["status"],
        "pending"
    );
    // Unparseable ids are 404 too, not 400.
    assert_problem(
        s.get("/api/products/not-a-uuid", &a).await,
        404,
        "not_found",
    )
    .await;
}

#[tokio::test]
async fn invalid_input_names_every_bad_field_and_writes_nothing() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("T").await;

    let res = s
        .post(
            "/api/products",
            &t,
            json!({"price_minor": -5, "currency": "XXX", "stock": -1}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        field_names(&body),
        ["sku", "name", "price_minor", "currency", "stock"]
    );

    let res = s
        .post(
            "/api/customers",
            &t,
            json!({"phone": "12ab", "email": "nope"}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(field_names(&body), ["phone", "email"]);
    let res = s
        .post("/api/customers", &t, json!({"name": "Sin teléfono"}))
        .await;
    assert_eq!(
        field_names(&assert_problem(res, 422, "validation_failed").await),
        ["phone"]
    );

    let res = s
        .post(
            "/api/sellers",
            &t,
            json!({"commission_bps": 10001, "phone": "1"}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(field_names(&body), ["name", "phone", "commission_bps"]);

    let p = product(&s, &t, "P", "Polo", 1000, None).await;
    let k = customer(&s, &t, "987654321", "Ana").await;
    let res = s
        .post(
            "/api/orders",
            &t,
            json!({"items": [{"product_id": p["id"], "quantity": 0}, {"quantity": 2}],
                                        "discount_minor": -1}),
        )
        .await;
    let body = assert_problem(res, 422, "validation_failed").await;
    assert_eq!(
        field_names(&body),
        [
            "customer_id",
            "items[0].quantity",
            "items[1].product_id",
            "discount_minor"
        ]
    );
    let res = s
        .post("/api/orders", &t, json!({"customer_id": k["id"]}))
        .await;
    assert_eq!(
        field_names(&assert_problem(res, 422, "validation_failed").await),
        ["items"]
    );
    let res = s
        .post(
            "/api/orders",
            &t,
            json!({"customer_id": k["id"], "items": [{"product_id": p["id"], "quantity": 1}],
                                        "discount_minor": 1001}),
        )
        .await;
    assert_eq!(
        field_names(&assert_problem(res, 422, "validation_failed").await),
        ["discount_minor"]
    );
    // A wrong type names its field as well.
    let res = s
        .post(
            "/api/products",
            &t,
            json!({"sku": "A", "name": "B", "price_minor": "12.50"}),
        )
        .await;
    assert_eq!(
        field_names(&assert_problem(res, 422, "validation_failed").await),
        ["price_minor"]
    );

    // Nothing but the two good records was written.
    assert_eq!(
        ok(s.get("/api/products", &t).await, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(s.get("/api/customers", &t).await, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        ok(s.get("/api/sellers", &t).await, 200).await["items"],
        json!([])
    );
    assert_eq!(
        ok(s.get("/api/orders", &t).await, 200).await["items"],
        json!([])
    );
    assert_eq!(
        ok(s.get("/api/audit", &t).await, 200)
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn viewers_read_agents_manage_orders_and_customers_admins_everything() {
    let s = TestServer::start().await;
    let (tenant, owner) = s.owner_token("T").await;
    let viewer = token_for(&s, tenant, Role::Viewer).await;
    let agent = token_for(&s, tenant, Role::Agent).await;
    let admin = token_for(&s, tenant, Role::Admin).await;
    let p = product(&s, &admin, "P", "Polo", 1000, None).await;
    let pid = p["id"].as_str().unwrap();

    for path in [
        "/api/products",
        "/api/customers",
        "/api/sellers",
        "/api/orders",
        "/api/sellers/stats",
        "/api/products/categories",
        "/api/products/export",
        &format!("/api/products/{pid}"),
    ] {
        assert_eq!(
            s.get(path, &viewer).await.status(),
            200,
            "viewer reads {path}"
        );
    }
    let prod = json!({"sku": "X", "name": "X", "price_minor": 1});
    assert_problem(
        s.post("/api/products", &viewer, prod.clone()).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        s.post("/api/products", &agent, prod.clone()).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        s.put(
            &format!("/api/products/{pid}"),
            &agent,
            json!({"name": "Y"}),
        )
        .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        s.post("/api/sellers", &agent, json!({"name": "S"})).await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        s.post("/api/customers", &viewer, json!({"phone": "987654321"}))
            .await,
        403,
        "forbidden",
    )
    .await;
    assert_problem(
        s.get("/api/customers/export", &viewer).await,
        403,
        "forbidden",
    )
    .await;

    let k = customer(&s, &agent, "987654321", "Ana").await;
    let o = order(&s, &agent, json!({"customer_id": k["id"], "items": [{"sku": "P", "quantity": 2}], "source": "dashboard"})).await;
    assert_eq!(o["source"], "dashboard");
    assert_problem(
        set_status(&s, &viewer, o["id"].as_str().unwrap(), "confirmed").await,
        403,
        "forbidden",
    )
    .await;
    ok(
        set_status(&s, &agent, o["id"].as_str().unwrap(), "confirmed").await,
        200,
    )
    .await;
    ok(
        s.post("/api/sellers", &owner, json!({"name": "S"})).await,
        201,
    )
    .await;
    product(&s, &owner, "Q", "Q", 1, None).await;
    assert_problem(s.get("/api/products", "bogus").await, 401, "bad_token").await;
}

#[tokio::test]
async fn customer_phones_become_e164_with_the_tenant_country_and_are_unique() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("T").await;
    let k = customer(&s, &t, "987 654 321", "Ana").await;
    assert_eq!(k["phone"], "+51987654321");
    let dup = s
        .post("/api/customers", &t, json!({"phone": "+51 987-654-321"}))
        .await;
    let body = assert_problem(dup, 409, "duplicate").await;
    assert_eq!(body["field"], "phone");
    let id = k["id"].as_str().unwrap();
    let upd = ok(
        s.put(
            &format!("/api/customers/{id}"),
            &t,
            json!({"opted_out": true, "email": "Ana@Tienda.pe", "tags": ["vip"]}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(
        (upd["opted_out"].as_bool(), upd["email"].as_str()),
        (Some(true), Some("ana@tienda.pe"))
    );
    assert_eq!(upd["phone"], "+51987654321");
    let vip = ok(
        s.get("/api/customers?tag=vip&opted_out=true", &t).await,
        200,
    )
    .await;
    assert_eq!(vip["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        s.delete(&format!("/api/customers/{id}"), &t).await.status(),
        204
    );
}

#[tokio::test]
async fn search_ignores_case_and_accents() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("T").await;
    let (_, other) = s.owner_token("Other").await;
    product(&s, &t, "CAM-1", "Camisa Básica", 4590, None).await;
    product(&s, &t, "PAN-1", "Pantalón Clásico", 8990, None).await;
    product(&s, &other, "CAM-1", "Camisa Básica", 4590, None).await;
    for q in ["camisa%20basica", "CAMISA", "b%C3%A1sica", "cami", "cam-1"] {
        let page = ok(s.get(&format!("/api/products?q={q}"), &t).await, 200).await;
        let names: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Camisa Básica"], "q={q}");
    }
    let page = ok(s.get("/api/products?q=clasico", &t).await, 200).await;
    assert_eq!(page["items"][0]["sku"], "PAN-1");

    // Search results page with the same cursor.
    product(&s, &t, "CAM-2", "Camisa Azul", 4590, None).await;
    product(&s, &t, "CAM-3", "Camisa Roja", 4590, None).await;
    let first = ok(s.get("/api/products?q=camisa&limit=2", &t).await, 200).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = ok(
        s.get(
            &format!("/api/products?q=camisa&limit=2&cursor={cursor}"),
            &t,
        )
        .await,
        200,
    )
    .await;
    let skus: Vec<&str> = first["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(second["items"].as_array().unwrap())
        .map(|p| p["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["CAM-3", "CAM-2", "CAM-1"]);
    assert_eq!(second["next_cursor"], Value::Null);
    let page = ok(s.get("/api/products?q=%22%20OR%20*", &t).await, 200).await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        0,
        "FTS syntax is not interpreted"
    );

    customer(&s, &t, "987654321", "José Pérez").await;
    let page = ok(s.get("/api/customers?q=jose%20perez", &t).await, 200).await;
    assert_eq!(page["items"][0]["name"], "José Pérez");
    let page = ok(s.get("/api/sellers?q=x", &t).await, 200).await;
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn lists_page_with_a_stable_cursor_and_filter() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("T").await;
    for i in 0..7 {
        let stock = if i % 3 == 0 { Some(0) } else { None };
        let p = product(&s, &t, &format!("S{i}"), &format!("Item {i}"), 100, stock).await;
        if i == 6 {
            ok(
                s.put(
                    &format!("/api/products/{}", p["id"].as_str().unwrap()),
                    &t,
                    json!({"active": false, "category": "Hogar"}),
                )
                .await,
                200,
            )
            .await;
        }
    }
    let mut seen = vec![];
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = cursor
            .as_ref()
            .map(|c| format!("&cursor={c}"))
            .unwrap_or_default();
        let page = ok(s.get(&format!("/api/products?limit=3{q}"), &t).await, 200).await;
        pages += 1;
        for p in page["items"].as_array().unwrap() {
            seen.push(p["sku"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        ["S6", "S5", "S4", "S3", "S2", "S1", "S0"],
        "newest first, no repeats"
    );

    let count = |v: Value| v["items"].as_array().unwrap().len();
    assert_eq!(
        count(ok(s.get("/api/products?in_stock=true", &t).await, 200).await),
        4
    );
    assert_eq!(
        count(ok(s.get("/api/products?in_stock=false", &t).await, 200).await),
        3
    );
    assert_eq!(
        count(ok(s.get("/api/products?active=false", &t).await, 200).await),
        1
    );
    assert_eq!(
        count(ok(s.get("/api/products?category=Hogar", &t).await, 200).await),
        1
    );
    assert_eq!(
        count(
            ok(
                s.get("/api/products?category=Ropa&active=true&in_stock=true", &t)
                    .await,
                200
            )
            .await
        ),
        4
    );
    let cats = ok(s.get("/api/products/categories", &t).await, 200).await;
    assert_eq!(cats, json!([{"name": "Ropa", "products": 6}]));
    assert_problem(
        s.get("/api/products?limit=0", &t).await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        s.get("/api/products?cursor=zzz", &t).await,
        422,
        "validation_failed",
    )
    .await;
    assert_problem(
        s.get("/api/products?bogus=1", &t).await,
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn order_totals_are_exact_and_items_keep_the_price_they_were_sold_at() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("T").await;
    let a = product(&s, &t, "A", "Camisa", 4590, Some(10)).await;
    let b = product(&s, &t, "B", "Gorro", 1999, None).await;
    let k = customer(&s, &t, "987654321", "Ana").await;
    let o = order(
        &s,
        &t,
        json!({
            "customer_id": k["id"],
            "items": [{"product_id": a["id"], "quantity": 3}, {"sku": "B", "quantity": 2}],
            "discount_minor": 768, "shipping_minor": 1000, "notes": "Entregar por la tarde"
        }),
    )
    .await;
    assert_eq!(o["number"], 1001);
    assert_eq!(o["subtotal_minor"], 4590 * 3 + 1999 * 2);
    assert_eq!(o["total_minor"], 17768 - 768 + 1000);
    assert_eq!(o["total_text"], "S/ 180.00");
    assert_eq!(o["currency"], "PEN");
    assert_eq!(o["status"], "pending");
    assert_eq!(o["source"], "api");
    assert_eq!(o["allowed_transitions"], json!(["confirmed", "cancelled"]));
    assert_eq!(
        o["items"][1],
        json!({"product_id": b["id"], "sku": "B", "name": "Gorro",
        "unit_price_minor": 1999, "quantity": 2, "line_total_minor": 3998})
    );
    assert_eq!(o["history"][0]["from"], Value::Null);
    assert_eq!(o["history"][0]["to"], "pending");
    assert_eq!(o["customer_phone"], "+51987654321");

    // Changing the catalogue later does not change the order.
    ok(
        s.put(
            &format!("/api/products/{}", a["id"].as_str().unwrap()),
            &t,
            json!({"price_minor": 9999, "name": "Camisa nueva"}),
        )
        .await,
        200,
    )
    .await;
    let again = ok(
        s.get(&format!("/api/orders/{}", o["id"].as_str().unwrap()), &t)
            .await,
        200,
    )
    .await;
    assert_eq!(again["items"][0]["unit_price_minor"], 4590);
    assert_eq!(again["items"][0]["name"], "Camisa");
    assert_eq!(again["total_minor"], 18000);

    let o2 = order(
        &s,
        &t,
        json!({"customer_id": k["id"], "items": [{"sku": "B", "quantity": 1}]}),
    )
    .await;
    assert_eq!(o2["number"], 1002);
    let (_, other) = s.owner_token("Other").await;
    let p = product(&s, &other, "Z", "Z", 1, None).await;
    let k2 = customer(&s, &other, "987654321", "Ana").await;
    let o3 = order(
        &s,
        &other,
        json!({"customer_id": k2["id"], "items": [{"product_id": p["id"], "quantity": 1}]}),
    )
    .await;
    assert_eq!(o3["number"], 1001, "numbers are per tenant");

    // Filters: by customer, status, number and date range.
    let count = |v: Value| v["items"].as_array().unwrap().len();
    assert_eq!(
        count(
            ok(
                s.get(
                    &format!("/api/orders?customer_id={}", k["id"].as_str().unwrap()),
                    &t
                )
                .await,
                200
            )
            .await
        ),
        2
    );
    assert_eq!(
        count(ok(s.get("/api/orders?q=1002", &t).await, 200).await),
        1
    );
    assert_eq!(
        count(ok(s.get("/api/orders?q=ana", &t).await, 200).await),
        2
    );
    assert_eq!(
        count(ok(s.get("/api/orders?status=confirmed", &t).await, 200).await),
        0
    );
    assert_eq!(
        count(
            ok(
                s.get("/api/orders?from=2000-01-01&to=2999-12-31", &t).await,
                200
            )
            .await
        ),
        2
    );
    assert_eq!(
        count(ok(s.get("/api/orders?to=2000-01-01", &t).await, 200).await),
        0
    );
    assert_problem(
        s.get("/api/orders?from=yesterday", &t).await,
        422,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn the_status_machine_takes_stock_on_confirm_and_returns_it_on_cancel() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("T").await;
    let p = product(&s, &t, "A", "Camisa Básica", 1000, Some(5)).await;
    let pid = p["id"].as_str().unwrap();
    let k = customer(&s, &t, "987654321", "Ana").await;
    let new = json!({"customer_id": k["id"], "items": [{"product_id": pid, "quantity": 2}, {"product_id": pid, "quantity": 1}]});
    let o = order(&s, &t, new.clone()).await;
    let id = o["id"].as_str().unwrap();

    let body = assert_problem(
        set_status(&s, &t, id, "paid").await,
        409,
        "illegal_transition",
    )
    .await;
    assert_eq!(body["allowed"], json!(["confirmed", "cancelled"]));
    assert_eq!(body["from"], "pending");
    assert_eq!(
        stock(&s, &t, pid).await,
        Some(5),
        "creating does not take stock"
    );

    ok(set_status(&s, &t, id, "confirmed").await, 200).await;
    assert_eq!(stock(&s, &t, pid).await, Some(2));
    ok(set_status(&s, &t, id, "paid").await, 200).await;
    let cancelled = ok(set_status(&s, &t, id, "cancelled").await, 200).await;
    assert_eq!(
        stock(&s, &t, pid).await,
        Some(5),
        "cancel gives the stock back"
    );
    let hist: Vec<(Value, Value)> = cancelled["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| (h["from"].clone(), h["to"].clone()))
        .collect();
    assert_eq!(
        hist,
        [
            (Value::Null, json!("pending")),
            (json!("pending"), json!("confirmed")),
            (json!("confirmed"), json!("paid")),
            (json!("paid"), json!("cancelled"))
        ]
    );
    assert!(cancelled["history"][1]["actor"]
        .as_str()
        .unwrap()
        .starts_with("user:"));
    let body = assert_problem(
        set_status(&s, &t, id, "confirmed").await,
        409,
        "illegal_transition",
    )
    .await;
    assert_eq!(body["allowed"], json!([]));
    assert_problem(
        set_status(&s, &t, id, "lost").await,
        422,
        "validation_failed",
    )
    .await;

    // A full run to delivered keeps the stock taken.
    let o = order(&s, &t, new.clone()).await;
    let id = o["id"].as_str().unwrap();
    for st in ["confirmed", "paid", "shipped", "delivered"] {
        ok(set_status(&s, &t, id, st).await, 200).await;
    }
    assert_eq!(stock(&s, &t, pid).await, Some(2));

    // Too little stock to confirm: 409 naming the product and what is left; nothing changes.
    let o = order(
        &s,
        &t,
        json!({"customer_id": k["id"], "items": [{"product_id": pid, "quantity": 2}]}),
    )
    .await;
    let o2 = order(
        &s,
        &t,
        json!({"customer_id": k["id"], "items": [{"product_id": pid, "quantity": 2}]}),
    )
    .await;
    ok(
        set_status(&s, &t, o["id"].as_str().unwrap(), "confirmed").await,
        200,
    )
    .await;
    let body = assert_problem(
        set_status(&s, &t, o2["id"].as_str().unwrap(), "confirmed").await,
        409,
        "insufficient_stock",
    )
    .await;
    assert_eq!(
        (
            body["sku"].as_str(),
            body["available"].as_i64(),
            body["requested"].as_i64()
        ),
        (Some("A"), Some(0), Some(2))
    );
    assert!(body["detail"].as_str().unwrap().contains("Camisa Básica"));
    assert_eq!(
        ok(
            s.get(&format!("/api/orders/{}", o2["id"].as_str().unwrap()), &t)
                .await,
            200
        )
        .await["status"],
        "pending"
    );
    // And asking for more than exists at creation is told at once.
    let res = s
        .post(
            "/api/orders",
            &t,
            json!({"customer_id": k["id"], "items": [{"product_id": pid, "quantity": 1}]}),
        )
        .await;
    assert_problem(res, 409, "insufficient_stock").await;
}

#[tokio::test]
async fn fifty_parallel_confirmations_for_ten_in_stock_let_exactly_ten_through() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("T").await;
    let p = product(&s, &t, "LIM", "Edición limitada", 1000, Some(10)).await;
    let k = customer(&s, &t, "987654321", "Ana").await;
    let mut ids = vec![];
    for _ in 0..50 {
        let o = order(
            &s,
            &t,
            json!({"customer_id": k["id"], "items": [{"product_id": p["id"], "quantity": 1}]}),
        )
        .await;
        ids.push(o["id"].as_str().unwrap().to_string());
    }
    let results = futures::future::join_all(ids.iter().map(|id| {
        let (s, t) = (&s, &t);
        async move {
            let res = s
                .call(
                    Method::POST,
                    &format!("/api/orders/{id}/status"),
                    Some(t),
                    Some(json!({"status": "confirmed"})),
                )
                .await;
            let status = res.status().as_u16();
            let body: Value = res.json().await.unwrap();
            (status, body)
        }
    }))
    .await;
    let ok_count = results.iter().filter(|(st, _)| *st == 200).count();
    let conflicts: Vec<_> = results.iter().filter(|(st, _)| *st == 409).collect();
    assert_eq!(ok_count, 10);
    assert_eq!(conflicts.len(), 40);
    assert!(conflicts
        .iter()
        .all(|(_, b)| b["code"] == "insufficient_stock" && b["available"] == 0));
    let p = ok(
        s.get(&format!("/api/products/{}", p["id"].as_str().unwrap()), &t)
            .await,
        200,
    )
    .await;
    assert_eq!(p["stock"], 0);
    let confirmed = ok(
        s.get("/api/orders?status=confirmed&limit=200", &t).await,
        200,
    )
    .await;
    assert_eq!(confirmed["items"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn unassigned_orders_go_round_robin_to_active_sellers_and_stats_add_up() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("T").await;
    let lucia = ok(
        s.post(
            "/api/sellers",
            &t,
            json!({"name": "Lucía", "commission_bps": 500, "phone": "987111222"}),
        )
        .await,
        201,
    )
    .await;
    let jose = ok(
        s.post(
            "/api/sellers",
            &t,
            json!({"name": "José", "commission_bps": 250}),
        )
        .await,
        201,
    )
    .await;
    let idle = ok(
        s.post(
            "/api/sellers",
            &t,
            json!({"name": "Inactivo", "active": false}),
        )
        .await,
        201,
    )
    .await;
    assert_eq!(lucia["phone"], "+51987111222");
    product(&s, &t, "A", "A", 1000, None).await;
    let k = customer(&s, &t, "987654321", "Ana").await;
    let new = json!({"customer_id": k["id"], "items": [{"sku": "A", "quantity": 1}]});
    let mut assigned = vec![];
    for _ in 0..4 {
        assigned.push(
            order(&s, &t, new.clone()).await["seller_name"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(assigned, ["Lucía", "José", "Lucía", "José"]);
    let manual = order(&s, &t, json!({"customer_id": k["id"], "items": [{"sku": "A", "quantity": 3}], "seller_id": jose["id"]})).await;
    assert_eq!(manual["seller_id"], jose["id"]);
    let res = s.post("/api/orders", &t, json!({"customer_id": k["id"], "items": [{"sku": "A", "quantity": 1}], "seller_id": idle["id"]})).await;
    assert_eq!(
        field_names(&assert_problem(res, 422, "validation_failed").await),
        ["seller_id"]
    );
    ok(
        set_status(&s, &t, manual["id"].as_str().unwrap(), "cancelled").await,
        200,
    )
    .await;

    let stats = ok(s.get("/api/sellers/stats?from=2000-01-01", &t).await, 200).await;
    assert_eq!(
        stats,
        json!([
            {"seller_id": jose["id"], "name": "José", "orders": 2, "revenue_minor": 2000, "currency": "PEN", "commission_minor": 50, "cancelled": 1},
            {"seller_id": lucia["id"], "name": "Lucía", "orders": 2, "revenue_minor": 2000, "currency": "PEN", "commission_minor": 100, "cancelled": 0},
        ])
    );
    assert_eq!(
        ok(s.get("/api/sellers/stats?to=2000-01-01", &t).await, 200).await,
        json!([])
    );
    let active = ok(s.get("/api/sellers?active=true", &t).await, 200).await;
    assert_eq!(active["items"].as_array().unwrap().len(), 2);

    // Records with orders are kept: 409, and the answer says what to do instead.
    let res = s
        .delete(
            &format!("/api/sellers/{}", jose["id"].as_str().unwrap()),
            &t,
        )
        .await;
    assert_problem(res, 409, "in_use").await;
    let res = s
        .delete(&format!("/api/customers/{}", k["id"].as_str().unwrap()), &t)
        .await;
    assert_problem(res, 409, "in_use").await;
    let upd = ok(
        s.put(
            &format!("/api/sellers/{}", jose["id"].as_str().unwrap()),
            &t,
            json!({"active": false}),
        )
        .await,
        200,
    )
    .await;
    assert_eq!(upd["active"], false);
    assert_eq!(
        s.delete(
            &format!("/api/sellers/{}", idle["id"].as_str().unwrap()),
            &t
        )
        .await
        .status(),
        204
    );
    let o = order(&s, &t, new.clone()).await;
    assert_eq!(o["seller_name"], "Lucía", "only active sellers take turns");

    // Every write left an audit entry with a summary.
    let actions = |v: Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_string())
            .collect()
    };
    let sellers_log = actions(ok(s.get("/api/audit?entity=seller", &t).await, 200).await);
    assert_eq!(
        sellers_log,
        ["delete", "update", "create", "create", "create"]
    );
    let orders_log = ok(s.get("/api/audit?entity=order", &t).await, 200).await;
    assert_eq!(
        actions(orders_log.clone())
            .iter()
            .filter(|a| *a == "create")
            .count(),
        6
    );
    assert_eq!(orders_log[1]["action"], "status");
    assert_eq!(orders_log[1]["summary"]["after"]["status"], "cancelled");
    assert_eq!(
        actions(ok(s.get("/api/audit?entity=customer", &t).await, 200).await),
        ["create"]
    );
}

async fn stock(s: &TestServer, t: &str, pid: &str) -> Option<i64> {
    ok(s.get(&format!("/api/products/{pid}"), t).await, 200).await["stock"].as_i64()
}

async fn post_csv(s: &TestServer, path: &str, t: &str, csv: &str) -> reqwest::Response {
    s.http
        .post(s.url(path))
        .bearer_auth(t)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_csv_import_with_one_bad_row_imports_nothing_and_names_line_and_column() {
    let s = TestServer::start().await;
    let (_, t) = s.owner_token("T").await;
    let bad = "sku,name,price,stock,category,tags\n\
               CAM-1,Camisa Básica,45.90,10,Ropa,verano|algodón\n\
               CAM-2,Camisa Azul,12.345,5,Ropa,\n\
               CAM-3,Camisa Roja,30,,Ropa,\n";
    let body = assert_problem(
        post_csv(&s, "/api/products/import", &t, bad).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_names(&body), ["line 3, column 3 (price)"]);
    assert!(body["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("decimals"));
    assert_eq!(
        ok(s.get("/api/products", &t).await, 200).await["items"],
        json!([]),
        "nothing imported"
    );

    let bad2 = "sku,name,price,colour\nA,,1,red\nA,B,-1\n";
    let body = assert_problem(
        post_csv(&s, "/api/products/import", &t, bad2).await,
        422,
        "validation_failed",
    )
    .await;
    // A short row is named by its first missing column.
    assert_eq!(
        field_names(&body),
        ["line 1, column 4 (colour)", "line 3, column 4 (colour)"]
    );
    let bad3 = "sku,name,price\nA,,1\nA,B,-1\nC,D,1,extra\n";
    let body = assert_problem(
        post_csv(&s, "/api/products/import", &t, bad3).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(field_names(&body), ["line 4, column 4 (extra)"]);

    let good = bad.replace("12.345", "12.34");
    let sum = ok(post_csv(&s, "/api/products/import", &t, &good).await, 200).await;
    assert_eq!(sum, json!({"created": 3, "updated": 0}));
    let page = ok(s.get("/api/products?q=camisa%20basica", &t).await, 200).await;
    assert_eq!(page["items"][0]["price_minor"], 4590);
    assert_eq!(page["items"][0]["tags"], json!(["verano", "algodón"]));

    // Export, then import the export: everything is updated in place.
    let res = s.get("/api/products/export", &t).await;
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = res.text().await.unwrap();
    assert!(
        csv.starts_with("sku,name,description,price,currency,stock,category,tags,images,active\n")
    );
    assert!(
        csv.contains("CAM-1,Camisa Básica,,45.90,PEN,10,Ropa,verano|algodón,,true"),
        "{csv}"
    );
    assert!(
        csv.contains("CAM-3,Camisa Roja,,30.00,PEN,,Ropa,,,true"),
        "{csv}"
    );
    let sum = ok(post_csv(&s, "/api/products/import", &t, &csv).await, 200).await;
    assert_eq!(sum, json!({"created": 0, "updated": 3}));

    // Customers, with a spreadsheet saved with ';'.
    let people = "phone;name;email;tags;opted_out\n987 654 321;José;jose@x.pe;vip;no\n+1 415 555 2671;Ann;;;sí\n";
    let sum = ok(post_csv(&s, "/api/customers/import", &t, people).await, 200).await;
    assert_eq!(sum, json!({"created": 2, "updated": 0}));
    let bad = "phone,name\n987654322,Ok\n12,Bad\n987654322,Twice\n";
    let body = assert_problem(
        post_csv(&s, "/api/customers/import", &t, bad).await,
        422,
        "validation_failed",
    )
    .await;
    assert_eq!(
        field_names(&body),
        ["line 3, column 1 (phone)", "line 4, column 1 (phone)"]
    );
    let csv = s
        .get("/api/customers/export", &t)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        csv.contains("+51987654321,José,jose@x.pe,vip,,false"),
        "{csv}"
    );
    assert!(csv.contains("+14155552671,Ann,,,,true"), "{csv}");
    assert_eq!(
        ok(s.get("/api/customers", &t).await, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let res = post_csv(&s, "/api/customers/import", &t, "").await;
    assert_problem(res, 422, "validation_failed").await;
}

#[tokio::test]
async fn the_demo_catalogue_is_installed_once() {
    let s = TestServer::start().await;
    let (tenant, t) = s.owner_token("Demo").await;
    for _ in 0..2 {
        dashoffice::shop::write(&s.state.db, move |c| {
            dashoffice::shop::demo::install(c, tenant)
        })
        .await
        .unwrap();
    }
    let page = ok(s.get("/api/products?limit=100", &t).await, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["currency"] == "PEN"));
    let cats = ok(s.get("/api/products/categories", &t).await, 200).await;
    assert_eq!(cats.as_array().unwrap().len(), 4);
    assert_eq!(
        ok(s.get("/api/sellers", &t).await, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let page = ok(s.get("/api/products?q=camisa%20basica", &t).await, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn glue_can_create_and_confirm_in_its_own_transaction_and_a_failure_leaves_nothing() {
    use dashoffice::shop::orders::{self, NewItem, NewOrder, Source, Status};
    use dashoffice::shop::{customers, products, ShopError};
    let s = TestServer::start().await;
    let (tenant, t) = s.owner_token("T").await;
    let a = product(&s, &t, "A", "Camisa", 1000, Some(5)).await;
    product(&s, &t, "B", "Gorro", 500, Some(1)).await;
    let a_id = dashoffice::ids::ProductId::parse(a["id"].as_str().unwrap()).unwrap();

    // What the conversation glue does inside its effects transaction.
    let (number, outcome) = s
        .state
        .db
        .write(move |c| {
            let run = || -> Result<(i64, Result<orders::Order, ShopError>), ShopError> {
                let k = customers::find_or_create_by_phone(
                    c,
                    tenant,
                    "987 654 321",
                    "Ana",
                    "bot:demo",
                )?;
                let new = |qty_b| NewOrder {
                    customer_id: k.id,
                    items: vec![
                        NewItem {
                            product_id: None,
                            sku: Some("A".into()),
                            quantity: 2,
                        },
                        NewItem {
                            product_id: None,
                            sku: Some("B".into()),
                            quantity: qty_b,
                        },
                    ],
                    discount_minor: 0,
                    shipping_minor: 0,
                    notes: String::new(),
                    source: Source::Bot,
                    seller_id: None,
                };
                let first = orders::create(c, tenant, new(1), "bot:demo")?;
                let second = orders::create(c, tenant, new(1), "bot:demo")?;
                orders::set_status(c, tenant, first.id, Status::Confirmed, "bot:demo", "")?;
                // B is gone now: this fails after A's stock was touched, and must undo it.
                let failed =
                    orders::set_status(c, tenant, second.id, Status::Confirmed, "bot:demo", "");
                let found = orders::by_number(c, tenant, second.number)?
                    .map(|o| o.number)
                    .unwrap_or(0);
                Ok((found, failed))
            };
            run().map_err(|e| dashoffice::store::DbError::Other(e.to_string()))
        })
        .await
        .unwrap();
    assert_eq!(number, 1002);
    match outcome {
        Err(ShopError::InsufficientStock { sku, available, .. }) => {
            assert_eq!((sku.as_str(), available), ("B", 0))
        }
        other => panic!("expected insufficient stock, got {other:?}"),
    }
    let stock = dashoffice::shop::read(&s.state.db, move |c| products::get(c, tenant, a_id))
        .await
        .unwrap()
        .unwrap()
        .stock;
    assert_eq!(stock, Some(3), "only the confirmed order took stock of A");
    let o = ok(s.get("/api/orders?q=1002", &t).await, 200).await;
    assert_eq!(o["items"][0]["status"], "pending");
    assert_eq!(o["items"][0]["source"], "bot");
    assert_eq!(o["items"][0]["customer_phone"], "+51987654321");
}

#[tokio::test]
async fn serve_demo_installs_the_sample_catalogue_once() {
    let s = TestServer::start().await;
    let first = dashoffice::demo::install(&s.state).await.unwrap();
    let again = dashoffice::demo::install(&s.state).await.unwrap();
    let t = s.login(&again.email, &again.password).await["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first.password, again.password);
    let page = ok(s.get("/api/products?limit=100", &t).await, 200).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 20);
    assert_eq!(
        ok(s.get("/api/sellers", &t).await, 200).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}
