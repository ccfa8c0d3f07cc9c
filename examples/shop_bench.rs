//! Shop benchmark (not a test): list and search latency over 100,000 products, against
//! baselines measured in the same run.
//!
//! cargo run --release --example shop_bench [-- <products>]

use std::time::{Duration, Instant};

use dashoffice::auth::{password, store as users, Role};
use dashoffice::config::Config;
use dashoffice::ids::{now_text, ProductId};

const NOUNS: &[&str] = &[
    "Camisa",
    "Pantalón",
    "Zapatilla",
    "Casaca",
    "Chompa",
    "Polo",
    "Gorro",
    "Bufanda",
    "Mochila",
    "Taza",
];
const ADJECTIVES: &[&str] = &[
    "Básica",
    "Clásica",
    "Térmica",
    "Andina",
    "Estampada",
    "Deportiva",
    "Elegante",
    "Casual",
];
const COLOURS: &[&str] = &[
    "Azul", "Rojo", "Negro", "Blanco", "Verde", "Café", "Morado", "Rosado",
];
const CATEGORIES: &[&str] = &["Ropa", "Calzado", "Accesorios", "Hogar"];

struct Stats {
    name: &'static str,
    p50: Duration,
    p95: Duration,
    items: usize,
}

async fn measure<F, Fut>(name: &'static str, runs: usize, mut f: F) -> Stats
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    for _ in 0..runs / 10 + 1 {
        f().await; // warm-up
    }
    let mut times = Vec::with_capacity(runs);
    let mut items = 0;
    for _ in 0..runs {
        let t = Instant::now();
        items = f().await;
        times.push(t.elapsed());
    }
    times.sort();
    Stats {
        name,
        p50: times[runs / 2],
        p95: times[runs * 95 / 100],
        items,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir()?;
    let config = Config {
        data_dir: dir.path().to_path_buf(),
        listen: "127.0.0.1:0".parse()?,
        api_rate_limit_per_min: 100_000_000,
        ..Config::default()
    };
    let app = dashoffice::build(config).await?;
    let state = app.state.clone();
    let hash = password::hash("correct-horse-battery".into()).await?;
    let tenant = state
        .db
        .write(move |c| {
            let t = users::create_tenant(c, "Bench")?;
            users::create_user(
                c,
                t.id,
                &users::NewUser {
                    email: "bench@example.com",
                    name: "Bench",
                    role: Role::Owner,
                    password_hash: &hash,
                },
            )?;
            Ok(t.id)
        })
        .await?;

    let seeded = Instant::now();
    for chunk in (0..n).collect::<Vec<_>>().chunks(10_000) {
        let chunk = chunk.to_vec();
        state
            .db
            .write(move |c| {
                let mut st = c.prepare_cached(
                    "INSERT INTO products (id, tenant_id, sku, name, description, price_minor, currency,
                                           stock, category, tags, images, active, created_at, updated_at)
                     VALUES (?1, ?2, ?3, ?4, '', ?5, 'PEN', ?6, ?7, '[]', '[]', 1, ?8, ?8)",
                )?;
                let now = now_text();
                for i in chunk {
                    let name = format!(
                        "{} {} {} {}",
                        NOUNS[i % NOUNS.len()],
                        ADJECTIVES[(i / NOUNS.len()) % ADJECTIVES.len()],
                        COLOURS[(i / 7) % COLOURS.len()],
                        i
                    );
                    st.execute(rusqlite::params![
                        ProductId::new(),
                        tenant,
                        format!("SKU-{i:06}"),
                        name,
                        1000 + (i as i64 % 9000),
                        if i % 5 == 0 { None } else { Some((i % 50) as i64) },
                        CATEGORIES[i % CATEGORIES.len()],
                        now
                    ])?;
                }
                Ok(())
            })
            .await?;
    }
    let seed_time = seeded.elapsed();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.serve(listener, async move {
        let _ = stopped.await;
    }));
    let http = reqwest::Client::builder().no_proxy().build()?;
    let login: serde_json::Value = http
        .post(format!("{base}/api/auth/login"))
        .json(
            &serde_json::json!({"email": "bench@example.com", "password": "correct-horse-battery"}),
        )
        .send()
        .await?
        .json()
        .await?;
    let token = login["access_token"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    let get = |path: String| {
        let (http, token, base) = (http.clone(), token.clone(), base.clone());
        async move {
            let res = http
                .get(format!("{base}{path}"))
                .bearer_auth(&token)
                .send()
                .await
                .expect("request");
            assert!(res.status().is_success(), "{path}: {}", res.status());
            let v: serde_json::Value = res.json().await.expect("json");
            v["items"].as_array().map(|a| a.len()).unwrap_or(0)
        }
    };

    let runs = 300;
    let db = state.db.clone();
    let mut results = vec![
        measure("SELECT 1 via Db::read (baseline)", runs, || {
            let db = db.clone();
            async move {
                db.read(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
                    .await
                    .expect("select 1");
                1
            }
        })
        .await,
    ];
    results.push(
        measure("GET /api/auth/me (HTTP+auth baseline)", runs, || {
            get("/api/auth/me".into())
        })
        .await,
    );
    results.push(
        measure("GET /api/products?limit=50", runs, || {
            get("/api/products?limit=50".into())
        })
        .await,
    );
    results.push(
        measure(
            "GET /api/products?limit=50&category=Hogar&in_stock=true",
            runs,
            || get("/api/products?limit=50&category=Hogar&in_stock=true".into()),
        )
        .await,
    );
    results.push(
        measure("search q=camisa basica (1.25% match)", runs, || {
            get("/api/products?limit=50&q=camisa%20basica".into())
        })
        .await,
    );
    results.push(
        measure("search q=sku-077777 (one match)", runs, || {
            get("/api/products?limit=50&q=sku-077777".into())
        })
        .await,
    );
    results.push(
        measure("search q=azul (12.5% match)", runs / 3, || {
            get("/api/products?limit=50&q=azul".into())
        })
        .await,
    );

    let base_db = results[0].p50.as_secs_f64();
    let base_http = results[1].p50.as_secs_f64();
    println!("shop bench: {n} products (seeded in {seed_time:.1?}), {runs} runs each");
    println!(
        "{:<58} {:>10} {:>10} {:>6} {:>9} {:>9}",
        "case", "p50", "p95", "items", "x SELECT1", "x /me"
    );
    for r in &results {
        println!(
            "{:<58} {:>10.2?} {:>10.2?} {:>6} {:>9.1} {:>9.2}",
            r.name,
            r.p50,
            r.p95,
            r.items,
            r.p50.as_secs_f64() / base_db,
            r.p50.as_secs_f64() / base_http
        );
    }
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}
