//! The dashboard in a real browser: Debian's headless Chromium driven over WebDriver
//! (chromedriver + fantoccini) against the real server with the demo tenant.
//!
//! Needs `chromium` and `chromium-driver` (tests/run-all.sh installs them). A failing
//! test leaves a screenshot in `target/browser-failures/`. With
//! `DASHOFFICE_SCREENSHOTS=docs/screenshots` the tour also saves the documentation
//! screenshots (overview, inbox, flow editor at 1280 and 375 px wide).

mod common;
mod support;

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use anyhow::{anyhow, bail, ensure, Context, Result};
use common::TestServer;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use support::standins::StandIn;

mod kit {
    use super::*;
    use tokio::process::{Child, Command};

    /// A chromedriver on a free local port and one Chromium session with a fresh profile.
    pub struct Browser {
        pub c: Client,
        pub base: String,
        _driver: Child,
        _profile: tempfile::TempDir,
    }

    fn chromium_binary() -> Option<PathBuf> {
        [
            "/usr/lib/chromium/chromium",
            "/usr/bin/chromium",
            "/usr/bin/chromium-browser",
        ]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
    }

    impl Browser {
        /// Starts chromedriver and a session, retrying on a fresh port: with ten scenarios
        /// starting at once on two cores, a driver can lose its port to another process
        /// between our probe and its bind, or drop the first connection while warming up.
        pub async fn start(base: &str, lang: &str) -> Result<Browser> {
            let mut last = anyhow!("no attempt");
            for attempt in 1..=4 {
                match Self::start_once(base, lang).await {
                    Ok(b) => return Ok(b),
                    Err(e) => {
                        eprintln!("browser start attempt {attempt} failed: {e:#}");
                        last = e;
                        tokio::time::sleep(Duration::from_millis(500 * attempt)).await;
                    }
                }
            }
            Err(last)
        }

        async fn start_once(base: &str, lang: &str) -> Result<Browser> {
            let binary = chromium_binary()
                .context("chromium is not installed (apt-get install chromium chromium-driver)")?;
            let port = std::net::TcpListener::bind("127.0.0.1:0")?
                .local_addr()?
                .port();
            let mut driver = Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("chromedriver is not installed (apt-get install chromium-driver)")?;
            // Ready means our own driver answers /status, not merely that something listens.
            let status_url = format!("http://127.0.0.1:{port}/status");
            let probe = reqwest::Client::builder()
                .timeout(Duration::from_secs(2))
                .build()?;
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(status) = driver.try_wait()? {
                    bail!("chromedriver exited with {status} before it was ready");
                }
                let ready = match probe.get(&status_url).send().await {
                    Ok(r) => r
                        .json::<Value>()
                        .await
                        .map(|v| v["value"]["ready"] == json!(true))
                        .unwrap_or(false),
                    Err(_) => false,
                };
                if ready {
                    break;
                }
                ensure!(
                    tokio::time::Instant::now() < deadline,
                    "chromedriver did not become ready on port {port}"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let profile = tempfile::tempdir()?;
            let mut args = vec![
                "--headless".to_string(),
                "--no-sandbox".into(),
                "--disable-gpu".into(),
                "--disable-quic".into(),
                "--no-first-run".into(),
                "--disable-background-networking".into(),
                "--disable-component-update".into(),
                "--disable-sync".into(),
                "--disable-dev-shm-usage".into(),
                "--window-size=1280,900".into(),
                format!("--lang={lang}"),
                format!("--user-data-dir={}", profile.path().display()),
            ];
            // Extra flags for a local look, e.g. `--blink-settings=preferredColorScheme=0` (dark).
            if let Ok(extra) = std::env::var("DASHOFFICE_CHROMIUM_ARGS") {
                args.extend(extra.split_whitespace().map(str::to_string));
            }
            let caps = json!({
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": binary,
                    "args": args,
                    "prefs": {"intl.accept_languages": lang},
                },
            });
            let Value::Object(caps) = caps else {
                unreachable!()
            };
            let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
            http.set_nodelay(true);
            let c = tokio::time::timeout(
                Duration::from_secs(60),
                ClientBuilder::new(http)
                    .capabilities(caps)
                    .connect(&format!("http://127.0.0.1:{port}")),
            )
            .await
            .map_err(|_| anyhow!("WebDriver session: no answer in 60 s"))?
            .map_err(|e| anyhow!("WebDriver session: {e}"))?;
            Ok(Browser {
                c,
                base: base.to_string(),
                _driver: driver,
                _profile: profile,
            })
        }

        pub async fn go(&self, path: &str) -> Result<()> {
            self.c.goto(&format!("{}{}", self.base, path)).await?;
            Ok(())
        }

        /// Navigates inside the single-page app without reloading (like clicking a link).
        pub async fn nav(&self, path: &str) -> Result<()> {
            self.js(
                "history.pushState(null,'',arguments[0]); dispatchEvent(new Event('dashoffice:navigate'));",
                vec![json!(path)],
            )
            .await?;
            Ok(())
        }

        pub async fn js(&self, script: &str, args: Vec<Value>) -> Result<Value> {
            Ok(self.c.execute(script, args).await?)
        }

        pub async fn wait(&self, css: &str) -> Result<Element> {
            self.c
                .wait()
                .at_most(Duration::from_secs(20))
                .every(Duration::from_millis(100))
                .for_element(Locator::Css(css))
                .await
                .with_context(|| format!("waiting for {css}"))
        }

        pub async fn wait_xpath(&self, xpath: &str) -> Result<Element> {
            self.c
                .wait()
                .at_most(Duration::from_secs(20))
                .every(Duration::from_millis(100))
                .for_element(Locator::XPath(xpath))
                .await
                .with_context(|| format!("waiting for {xpath}"))
        }

        /// Waits until `script` (a JS expression) is truthy.
        pub async fn until(&self, what: &str, script: &str) -> Result<Value> {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
            loop {
                let v = self
                    .js(
                        &format!("try {{ return ({script}); }} catch (e) {{ return null; }}"),
                        vec![],
                    )
                    .await?;
                if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                    return Ok(v);
                }
                if tokio::time::Instant::now() > deadline {
                    bail!("timed out waiting until {what} ({script} = {v})");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }

        pub async fn click(&self, css: &str) -> Result<()> {
            self.wait(css)
                .await?
                .click()
                .await
                .with_context(|| format!("clicking {css}"))
        }

        pub async fn fill(&self, css: &str, text: &str) -> Result<()> {
            let e = self.wait(css).await?;
            e.clear().await?;
            e.send_keys(text)
                .await
                .with_context(|| format!("typing into {css}"))
        }

        pub async fn text(&self, css: &str) -> Result<String> {
            Ok(self.wait(css).await?.text().await?)
        }

        pub async fn click_xpath(&self, xpath: &str) -> Result<()> {
            self.wait_xpath(xpath)
                .await?
                .click()
                .await
                .with_context(|| format!("clicking {xpath}"))
        }

        pub async fn find_none(&self, css: &str) -> Result<bool> {
            Ok(self.c.find_all(Locator::Css(css)).await?.is_empty())
        }

        pub async fn shot(&self, path: &std::path::Path) -> Result<()> {
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(path, self.c.screenshot().await?)?;
            Ok(())
        }

        /// Resizes the viewport (not the window) to `w`×`h` CSS pixels.
        pub async fn viewport(&self, w: u32, h: u32) -> Result<()> {
            self.c.set_window_size(w, h).await?;
            let inner: Value = self.js("return [innerWidth, innerHeight];", vec![]).await?;
            let (iw, ih) = (
                inner[0].as_u64().unwrap_or(w as u64) as u32,
                inner[1].as_u64().unwrap_or(h as u64) as u32,
            );
            if iw != w || ih != h {
                self.c
                    .set_window_size(w + (w.saturating_sub(iw)), h + (h.saturating_sub(ih)))
                    .await?;
            }
            Ok(())
        }

        pub async fn login(&self, email: &str, password: &str) -> Result<()> {
            self.fill("#email", email).await?;
            self.fill("#password", password).await?;
            self.click("form button[type=submit]").await?;
            self.wait("nav.side").await?;
            Ok(())
        }
    }

    /// Runs a scenario; on failure saves a screenshot to target/browser-failures/<name>.png
    /// and fails the test with the error.
    pub async fn scenario<F>(name: &str, lang: &str, body: F)
    where
        F: for<'a> FnOnce(
            &'a Browser,
            &'a TestServer,
            &'a (String, String),
        ) -> Pin<Box<dyn Future<Output = Result<()>> + 'a>>,
    {
        let s = TestServer::start().await;
        let login = dashoffice::demo::install(&s.state)
            .await
            .expect("demo installs");
        let b = Browser::start(&s.base, lang).await.expect("browser starts");
        let creds = (login.email, login.password);
        let out = body(&b, &s, &creds).await;
        if let Err(e) = &out {
            let dir = std::env::var("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|_| PathBuf::from("target"));
            let path = dir.join("browser-failures").join(format!("{name}.png"));
            let _ = b.shot(&path).await;
            let url =
                b.c.current_url()
                    .await
                    .map(|u| u.to_string())
                    .unwrap_or_default();
            let _ = b.c.clone().close().await;
            panic!(
                "{name} failed at {url}: {e:#}\nscreenshot: {}",
                path.display()
            );
        }
        let _ = b.c.clone().close().await;
    }
}

use kit::{scenario, Browser};

#[tokio::test]
async fn the_dashboard_is_served_from_the_binary_with_cache_rules_and_an_app_fallback() {
    let s = TestServer::start().await;
    let get = |path: &str, extra: Option<(&'static str, String)>| {
        let mut rb = s.http.get(s.url(path));
        if let Some((k, v)) = extra {
            rb = rb.header(k, v);
        }
        rb.send()
    };
    let res = get("/", None).await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert_eq!(res.headers()["cache-control"], "no-cache");
    assert!(res.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let etag = res.headers()["etag"].to_str().unwrap().to_string();
    let shell = res.text().await.unwrap();
    assert!(
        shell.contains("/js/main.js") && !shell.contains("<script>"),
        "no inline script"
    );

    let res = get("/", Some(("if-none-match", etag))).await.unwrap();
    assert_eq!(res.status(), 304, "revalidation is cheap");

    let res = get(
        "/vendor/preact-10.27.2.module.js",
        Some(("accept-encoding", "gzip".into())),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));

    for app_path in [
        "/inbox",
        "/orders/0190f0f0-0000-7000-8000-000000000000",
        "/flows/a/b",
    ] {
        let res = get(app_path, None).await.unwrap();
        assert_eq!(res.status(), 200, "{app_path}");
        assert_eq!(
            res.text().await.unwrap(),
            shell,
            "{app_path} gets the app shell"
        );
    }
    let res = get("/js/missing.js", None).await.unwrap();
    assert_eq!(res.status(), 404, "a missing file is not the shell");
    let res = get("/api/missing", None).await.unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["code"], "route_not_found");
    let res = s.http.post(s.url("/inbox")).send().await.unwrap();
    assert_eq!(res.status(), 404, "only GET and HEAD reach the dashboard");
}

/// Sum of bytes that crossed the network for this document (navigation + resources).
const TRANSFERRED: &str = "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
    .map(e => ({name: e.name, t: e.transferSize || 0, enc: e.encodedBodySize || 0}))";

#[tokio::test]
async fn logging_in_shows_the_overview_and_the_first_load_stays_under_300_kb() {
    scenario("first_load", "es", |b, _s, (email, pw)| Box::pin(async move {
        b.go("/").await?;
        b.wait("#email").await?;
        b.login(email, pw).await?;
        b.wait("[data-kpi=messages_in]").await?;
        // Wait for the charts (uPlot) and every request of the first screen to finish.
        b.until("uPlot or the empty charts", "document.querySelectorAll('.chart').length >= 4").await?;
        // Count the chart library even when there is no data to draw yet (an upper bound).
        b.js(
            "if (!window.uPlot) { const s = document.createElement('script'); s.src = '/vendor/uplot-1.6.32.iife.min.js';
               document.head.appendChild(s); const l = document.createElement('link'); l.rel = 'stylesheet';
               l.href = '/vendor/uplot-1.6.32.min.css'; document.head.appendChild(l); }",
            vec![],
        )
        .await?;
        b.until("uPlot loaded", "window.uPlot").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let entries = b.js(TRANSFERRED, vec![]).await?;
        let items = entries.as_array().context("entries")?;
        let transferred: u64 = items.iter().map(|e| e["t"].as_u64().unwrap_or(0)).sum();
        let encoded: u64 = items.iter().map(|e| e["enc"].as_u64().unwrap_or(0)).sum();
        eprintln!("first load: {} requests, {transferred} bytes transferred, {encoded} bytes encoded bodies", items.len());
        ensure!(items.len() > 5 && transferred > 10_000, "resource timing looks empty: {entries}");
        ensure!(transferred < 300_000, "first load transferred {transferred} bytes: {entries:#}");
        // Unknown dashboard paths load the app; unknown API paths stay problem+json.
        b.go("/no-such-page").await?;
        b.wait("nav.side").await?;
        ensure!(b.text("#content h1").await? == "404");
        Ok(())
    }))
    .await;
}

#[tokio::test]
async fn switching_the_language_changes_the_texts_and_is_remembered() {
    scenario("language", "en-US", |b, _s, (email, pw)| {
        Box::pin(async move {
            b.go("/").await?;
            ensure!(
                b.text("form button[type=submit]").await? == "Log in",
                "English from the browser language"
            );
            b.login(email, pw).await?;
            ensure!(b.text("[data-nav='/orders']").await?.contains("Orders"));
            let money_en = kpi(b, "revenue").await?;
            ensure!(
                money_en.starts_with("PEN"),
                "English formats soles as {money_en}"
            );
            b.wait("#lang").await?.select_by_value("es").await?;
            b.until(
                "Spanish nav",
                "document.querySelector(\"[data-nav='/orders']\").textContent.includes('Pedidos')",
            )
            .await?;
            ensure!(b.js("return document.documentElement.lang", vec![]).await? == json!("es"));
            let money_es = kpi(b, "revenue").await?;
            ensure!(
                money_es.starts_with("S/"),
                "Spanish (es-PE) formats soles as {money_es}"
            );
            b.go("/orders").await?;
            b.wait("[data-nav='/orders']").await?;
            ensure!(
                b.text("#content h1").await? == "Pedidos",
                "the choice survives a reload"
            );
            Ok(())
        })
    })
    .await;
}

/// Clicks the newest bot choice (button or list row) whose text contains `label`.
async fn choose(b: &Browser, label: &str) -> Result<()> {
    let xp =
        format!("(//div[@id='sim-log']//button[@data-choice and contains(., '{label}')])[last()]");
    b.wait_xpath(&xp).await?;
    b.until(
        "the choice is enabled",
        &format!("!document.evaluate(\"{xp}\", document, null, 9, null).singleNodeValue.disabled"),
    )
    .await?;
    b.wait_xpath(&xp).await?.click().await?;
    Ok(())
}

async fn say(b: &Browser, text: &str) -> Result<()> {
    let before = b
        .js(
            "return document.querySelectorAll('#sim-log [data-dir=bot]').length",
            vec![],
        )
        .await?;
    b.fill("#sim-text", text).await?;
    b.click(".composer button[type=submit]").await?;
    b.until(
        "the bot answers",
        &format!("document.querySelectorAll('#sim-log [data-dir=bot]').length > {before}"),
    )
    .await?;
    Ok(())
}

async fn kpi(b: &Browser, id: &str) -> Result<String> {
    b.text(&format!("[data-kpi={id}] .v")).await
}

#[tokio::test]
async fn a_product_bought_in_the_simulator_reaches_orders_inbox_and_kpis() {
    scenario("purchase", "es", |b, s, (email, pw)| Box::pin(async move {
        b.go("/").await?;
        b.login(email, pw).await?;
        ensure!(kpi(b, "orders").await? == "0", "no orders before the purchase");

        // Create a product.
        b.nav("/products").await?;
        b.click("#new-product").await?;
        b.fill("#product-form [name=name]", "Taza navegador").await?;
        b.fill("#product-form [name=sku]", "NAV-001").await?;
        b.fill("#product-form [name=price]", "25.50").await?;
        b.fill("#product-form [name=stock]", "7").await?;
        b.fill("#product-form [name=category]", "Navegador").await?;
        b.click("#product-form button[type=submit]").await?;
        b.wait("tr[data-sku='NAV-001']").await?;
        ensure!(b.text("tr[data-sku='NAV-001']").await?.contains("25.50") || b.text("tr[data-sku='NAV-001']").await?.contains("25,50"));

        // Buy it through the demo flow in the simulator.
        b.nav("/simulator").await?;
        b.wait("#sim-text").await?;
        say(b, "hola").await?;
        choose(b, "Ver catálogo").await?;
        choose(b, "Navegador").await?;
        choose(b, "Taza navegador").await?;
        b.until("asks for the quantity", "document.querySelector('#sim-log').textContent.includes('Cuántas unidades')").await?;
        say(b, "2").await?;
        choose(b, "Finalizar").await?;
        b.until("asks for the name", "document.querySelector('#sim-log').textContent.includes('nombre de quién')").await?;
        say(b, "Lucía Navegador").await?;
        say(b, "Av. Arequipa 123, Miraflores").await?;
        let confirmed = b.until("the order is confirmed", "(document.querySelector('#sim-log').textContent.match(/Pedido #(\\d+) confirmado/) || [])[1]").await?;
        let number = confirmed.as_str().context("order number")?.to_string();

        // The order is in the orders page; change its status.
        b.nav("/orders").await?;
        b.click(&format!("tr[data-order='{number}']")).await?;
        b.wait("#order-detail #order-status").await?;
        // The bot's orders arrive confirmed; the next step is "paid".
        ensure!(b.text("#order-status").await? == "confirmado");
        ensure!(b.text("#order-detail").await?.contains("Taza navegador"));
        b.click("#order-detail [data-status=paid]").await?;
        b.until("the status changed", "document.querySelector('#order-status').textContent === 'pagado'").await?;
        ensure!(b.text("#order-detail .history").await?.contains("pagado"));
        b.wait("#order-detail [data-status=shipped]").await?;

        // The conversation is in the inbox; take over, reply, give back.
        b.nav("/inbox").await?;
        b.until("live events connected", "document.querySelector('#live-state').textContent.includes('en vivo')").await?;
        b.click("[data-conv]").await?;
        b.until("the conversation opens", "location.pathname.startsWith('/inbox/')").await?;
        b.until("the conversation shows the order", "document.querySelector('#conv-log').textContent.includes('confirmado')").await?;
        b.click("#take-over").await?;
        b.wait("#release").await?;
        b.fill("#reply", "Hola Lucía, tu pedido sale hoy").await?;
        b.click(".composer button[type=submit]").await?;
        b.until("the reply shows", "document.querySelector('#conv-log').textContent.includes('tu pedido sale hoy')").await?;
        b.click("#release").await?;
        b.wait("#take-over").await?;

        // A new customer message arrives live in the inbox (SSE), without reloading.
        let before = b.js("return document.querySelector('#conv-log').textContent.length", vec![]).await?;
        b.js("fetch(location.origin + '/api/bots', {headers: {Authorization: 'Bearer ' + JSON.parse(localStorage.getItem('dashoffice.session')).access_token}})
              .then(r => r.json()).then(bots => fetch('/api/bots/' + bots[0].id + '/sandbox', {method: 'POST', headers: {'Content-Type': 'application/json', Authorization: 'Bearer ' + JSON.parse(localStorage.getItem('dashoffice.session')).access_token}, body: JSON.stringify({text: 'hola otra vez'})}));", vec![]).await?;
        b.until("the live message shows", &format!("document.querySelector('#conv-log').textContent.length > {before} && document.querySelector('#conv-log').textContent.includes('hola otra vez')")).await?;

        // The KPIs count the order.
        b.nav("/").await?;
        b.until("the orders KPI counts the purchase", "document.querySelector('[data-kpi=orders] .v') && document.querySelector('[data-kpi=orders] .v').textContent === '1'").await?;
        ensure!(kpi(b, "revenue").await?.contains("51"), "revenue shows 2 × 25.50");

        // After a rollup pass the charts draw the day's messages, orders and revenue.
        dashoffice::analytics::rollup::run(&s.state.db, chrono::Utc::now(), 30).await?;
        b.go("/").await?;
        b.until("all four charts drawn", "document.querySelectorAll('.chart .uplot').length === 4").await?;

        if let Ok(dir) = std::env::var("DASHOFFICE_SCREENSHOTS") {
            tour(b, std::path::Path::new(&dir)).await?;
        }
        Ok(())
    }))
    .await;
}

/// Form controls and buttons that a screen reader could not name.
const UNLABELED: &str = "return [...document.querySelectorAll('#content input, #content select, #content textarea, #content button, .topbar button, .topbar select')]
    .filter(e => e.type !== 'hidden' && !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
      && !e.getAttribute('aria-labelledby') && !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map(e => e.outerHTML.slice(0, 100))";

#[tokio::test]
async fn every_page_opens_on_desktop_and_phone_without_script_errors_or_csp_violations() {
    scenario("pages", "es", |b, s, (email, pw)| Box::pin(async move {
        // Some activity first, so the overview draws its charts too.
        let login = s.login(email, pw).await;
        let token = login["access_token"].as_str().context("token")?;
        let bots: Value = s.get("/api/bots", token).await.json().await?;
        let bot = bots[0]["id"].as_str().context("bot")?;
        s.post(&format!("/api/bots/{bot}/sandbox"), token, json!({"text": "hola"})).await;
        dashoffice::analytics::rollup::run(&s.state.db, chrono::Utc::now(), 30).await?;

        b.go("/").await?;
        b.wait("#email").await?;
        b.fill("#password", "wrong password").await?;
        b.fill("#email", email).await?;
        b.click("form button[type=submit]").await?;
        ensure!(b.text("[role=alert]").await?.contains("contraseña"), "a wrong password is explained in Spanish");
        b.login(email, pw).await?;
        b.js(
            "window.__problems = [];
             addEventListener('error', e => __problems.push('error: ' + e.message));
             addEventListener('unhandledrejection', e => __problems.push('rejection: ' + e.reason));
             addEventListener('securitypolicyviolation', e => __problems.push('csp: ' + e.violatedDirective + ' ' + e.blockedURI));",
            vec![],
        )
        .await?;
        let pages = [
            "/", "/inbox", "/simulator", "/bots", "/flows", "/orders", "/products", "/customers",
            "/sellers", "/outbox", "/users", "/settings", "/errors",
        ];
        for (w, h) in [(1280, 900), (375, 812)] {
            b.viewport(w, h).await?;
            for page in pages {
                b.nav(page).await?;
                b.until(&format!("{page} renders"), "document.querySelector('#content h1')").await?;
                b.until(&format!("{page} loaded"), "!document.querySelector('#content p.muted[role=status]')").await?;
                let problems = b.js("return __problems", vec![]).await?;
                ensure!(problems == json!([]), "{page}: {problems}");
                let alerts = b.js("return [...document.querySelectorAll('#content .notice.error')].map(e => e.textContent)", vec![]).await?;
                ensure!(alerts == json!([]), "{page} shows an error: {alerts}");
                let unlabeled = b.js(UNLABELED, vec![]).await?;
                ensure!(unlabeled == json!([]), "{page}: controls without a label: {unlabeled}");
                let wide = b.js("return document.documentElement.scrollWidth - document.documentElement.clientWidth", vec![]).await?;
                ensure!(wide.as_i64().unwrap_or(0) <= 0, "{page} scrolls sideways at {w} px by {wide} px");
            }
        }
        // The bot editor with a fallback channel of every kind opens and closes.
        b.nav("/bots").await?;
        b.click("#new-bot").await?;
        b.wait("#bot-form").await?;
        b.click("#bot-form button.x, .dialog button.x").await?;
        let problems = b.js("return __problems", vec![]).await?;
        ensure!(problems == json!([]), "bot form: {problems}");
        Ok(())
    }))
    .await;
}

#[tokio::test]
async fn a_qr_bot_made_in_the_form_shows_its_code_until_the_phone_is_linked() {
    let bridge = StandIn::bridge("puente-secreto").await;
    bridge.set_session("qr_pending", Some("2@QrDePrueba,abc,def"));
    let url = bridge.url();
    scenario("qr_pairing", "es", move |b, _s, (email, pw)| {
        Box::pin(async move {
            b.go("/").await?;
            b.login(email, pw).await?;
            b.nav("/bots").await?;
            b.click("#new-bot").await?;
            b.fill("#bot-form [name=name]", "Tienda QR").await?;
            b.wait("#bot-form [name='primary.kind']")
                .await?
                .select_by_value("baileys")
                .await?;
            b.fill("#bot-form [name='primary.bridge_url']", &url)
                .await?;
            b.fill("#bot-form [name='primary.bridge_token']", "puente-secreto")
                .await?;
            b.fill("#bot-form [name='primary.session']", "tienda-qr")
                .await?;
            b.fill("#bot-form [name='primary.webhook_secret']", "firma-secreta")
                .await?;
            b.click("#bot-form button[type=submit]").await?;
            b.until(
                "the pairing screen opens",
                "location.pathname.endsWith('/pair')",
            )
            .await?;
            let src = b
                .wait(".qr img")
                .await?
                .attr("src")
                .await?
                .unwrap_or_default();
            ensure!(
                src.starts_with("data:image/svg+xml"),
                "the QR is drawn from the API's SVG: {src}"
            );
            bridge.set_session("connected", None);
            b.until(
                "the screen notices the link",
                "document.querySelector('#content').textContent.includes('¡Conectado!')",
            )
            .await?;
            ensure!(
                b.find_none(".qr img").await?,
                "the code is gone once linked"
            );
            Ok(())
        })
    })
    .await;
}

#[tokio::test]
async fn a_csv_import_adds_products_and_a_bad_file_names_its_line() {
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("productos.csv");
    std::fs::write(&good, "sku,name,description,price,currency,stock,category,tags,images,active\nCSV-1,Polo CSV,,45.90,PEN,10,Importados,,,true\nCSV-2,Gorra CSV,,25.00,PEN,,Importados,,,true\n").expect("csv");
    let bad = dir.path().join("malo.csv");
    std::fs::write(&bad, "sku,name,description,price,currency,stock,category,tags,images,active\nCSV-3,Sin precio,,,PEN,1,X,,,true\n").expect("csv");
    let (good, bad) = (good.display().to_string(), bad.display().to_string());
    scenario("csv_import", "es", move |b, _s, (email, pw)| {
        Box::pin(async move {
            b.go("/").await?;
            b.login(email, pw).await?;
            b.nav("/products").await?;
            b.wait("#csv-import").await?.send_keys(&good).await?;
            b.wait("tr[data-sku='CSV-2']").await?;
            ensure!(b.text("tr[data-sku='CSV-1']").await?.contains("45.90"));
            b.wait("#csv-import").await?.send_keys(&bad).await?;
            let err = b.text(".notice.error").await?;
            ensure!(
                err.contains("line") || err.contains("línea"),
                "the error names the line: {err}"
            );
            ensure!(
                b.find_none("tr[data-sku='CSV-3']").await?,
                "nothing of the bad file was imported"
            );
            Ok(())
        })
    })
    .await;
}

#[tokio::test]
async fn a_message_the_provider_refused_can_be_retried_from_the_failed_messages_page() {
    let cloud = StandIn::cloud("token-nube").await;
    cloud.set_mode(support::standins::Mode::NonRetriable);
    let api_base = cloud.url();
    scenario("outbox", "es", move |b, s, (email, pw)| Box::pin(async move {
        let login = s.login(email, pw).await;
        let token = login["access_token"].as_str().context("token")?;
        let bot: Value = s
            .post("/api/bots", token, json!({"name": "Nube", "primary": {"kind": "cloud", "phone_number_id": "1",
                "access_token": "token-nube", "app_secret": "x", "verify_token": "v", "api_base": api_base}}))
            .await
            .json()
            .await?;
        let bot = bot["id"].as_str().context("bot id")?;
        let res = s
            .post(&format!("/api/bots/{bot}/messages"), token, json!({"to": "+51987654321", "content": {"type": "text", "body": "fuera de ventana"}}))
            .await;
        ensure!(res.status().is_success(), "send accepted: {}", res.status());

        b.go("/").await?;
        b.login(email, pw).await?;
        b.nav("/outbox").await?;
        let row = b.wait_xpath("//tr[@data-outbox and contains(., 'fuera de ventana')]").await;
        if row.is_err() {
            // The worker may not have tried yet when the page first loaded.
            b.go("/outbox").await?;
        }
        b.wait_xpath("//tr[@data-outbox and contains(., '131047')]").await?;
        cloud.set_mode(support::standins::Mode::Ok);
        b.click("tr[data-outbox] button.primary").await?;
        b.until("the row leaves the list", "!document.querySelector('tr[data-outbox]')").await?;
        ensure!(cloud.wait_for_accepted(1, Duration::from_secs(10)).await, "the retry reached the provider");
        Ok(())
    }))
    .await;
}

#[tokio::test]
async fn an_owner_adds_a_user_an_api_key_a_seller_a_customer_and_business_hours() {
    scenario("admin_forms", "es", |b, s, (email, pw)| Box::pin(async move {
        b.go("/").await?;
        b.login(email, pw).await?;

        b.nav("/users").await?;
        b.click("#content .spread button.primary").await?;
        b.fill(".dialog input[type=email]", "agente@demo.local").await?;
        b.fill(".dialog input[type=password]", "una clave bastante larga 2026").await?;
        b.click(".dialog button.primary").await?;
        b.wait_xpath("//td[contains(., 'agente@demo.local')]").await?;
        b.click_xpath("//button[contains(., 'Nueva clave API')]").await?;
        b.fill(".dialog input", "ERP").await?;
        b.click(".dialog button.primary").await?;
        let secret = b.wait(".dialog input[readonly]").await?.prop("value").await?.unwrap_or_default();
        ensure!(secret.len() > 20, "the secret is shown once: {secret}");
        b.click(".dialog button.primary").await?;
        b.wait_xpath("//td[contains(., 'ERP')]").await?;

        b.nav("/sellers").await?;
        b.click("#content .spread button.primary").await?;
        b.fill(".dialog [name=name]", "Rosa Vendedora").await?;
        b.fill(".dialog [name=commission]", "5").await?;
        b.click(".dialog button.primary").await?;
        b.wait_xpath("//tr[contains(., 'Rosa Vendedora') and contains(., '5 %')]").await?;

        b.nav("/customers").await?;
        b.click("#content .spread button.primary").await?;
        b.fill(".dialog [name=name]", "Carmen Cliente").await?;
        b.fill(".dialog [name=phone]", "987 654 321").await?;
        b.click(".dialog button.primary").await?;
        b.wait_xpath("//tr[contains(., 'Carmen Cliente') and contains(., '+51987654321')]").await?;

        b.nav("/settings").await?;
        b.click("#shop-hours-enabled").await?;
        b.click("#apply-hours").await?;
        b.click("#settings-form button[type=submit]").await?;
        b.until("saved", "document.querySelector('.toast') && document.querySelector('.toast').textContent.includes('Guardado')").await?;
        let login = s.login(email, pw).await;
        let token = login["access_token"].as_str().context("token")?;
        let tenant: Value = s.get("/api/tenant", token).await.json().await?;
        ensure!(tenant["settings"]["hours"]["enabled"] == json!(true), "shop hours saved: {tenant}");
        let bots: Value = s.get("/api/bots", token).await.json().await?;
        ensure!(bots[0]["settings"]["hours"]["schedule"]["monday"]["start"] == json!("09:00"), "copied to the bots: {bots}");
        ensure!(bots[0]["primary"]["kind"] == json!("sandbox"), "the bot's channel is unchanged");
        Ok(())
    }))
    .await;
}

/// Replaces the flow editor's JSON like a paste would.
async fn set_flow_json(b: &Browser, f: &str) -> Result<()> {
    b.js(
        &format!(
            "const t = document.querySelector('#flow-json'); const d = JSON.parse(t.value); ({f})(d);
             t.value = JSON.stringify(d, null, 2); t.dispatchEvent(new Event('input', {{bubbles: true}}));"
        ),
        vec![],
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn flow_errors_show_at_their_node_and_publish_and_rollback_make_versions() {
    scenario("flows", "es", |b, _s, (email, pw)| Box::pin(async move {
        b.go("/").await?;
        b.login(email, pw).await?;
        b.nav("/flows").await?;
        b.click("[data-flow]").await?;
        b.wait("#flow-json").await?;
        b.wait("#flow-nodes li[data-node=menu]").await?;

        // A menu option pointing nowhere: the API's error lands on the menu node.
        set_flow_json(b, "d => { d.nodes.menu.options[0].next = 'ninguna_parte'; }").await?;
        b.click("#flow-save").await?;
        b.wait("#flow-errors").await?;
        b.wait("#flow-nodes li.has-err[data-node=menu] .err").await?;
        let msg = b.text("#flow-nodes li[data-node=menu] .err").await?;
        ensure!(msg.contains("ninguna_parte"), "the error names the missing target: {msg}");
        b.click("#tab-graph").await?;
        b.wait(".graph g.n.bad[data-node=menu]").await?;
        b.click("#tab-editor").await?;

        // Fixed and published: version 2; rolling back to 1 publishes version 3.
        set_flow_json(b, "d => { d.nodes.menu.options[0].next = 'catalogo'; d.nodes.saludo.text = 'Hola de nuevo'; }").await?;
        b.click("#flow-publish").await?;
        b.until("version 2 is live", "document.querySelector('h1').textContent.includes('v2')").await?;
        ensure!(b.find_none("#flow-errors").await?, "errors are cleared");
        b.click("#tab-versions").await?;
        b.click("tr[data-version='1'] button").await?;
        b.until("version 3 is live", "document.querySelector('h1').textContent.includes('v3')").await?;
        b.click("#tab-editor").await?;
        b.until("the draft is version 1 again", "!document.querySelector('#flow-json').value.includes('Hola de nuevo')").await?;

        // A new flow starts from the example, which the API accepts as it is.
        b.nav("/flows").await?;
        b.click("#new-flow").await?;
        b.fill(".dialog input", "Promociones").await?;
        b.click(".dialog button.primary").await?;
        b.until("the new flow opens", "document.querySelector('h1') && document.querySelector('h1').textContent.includes('Promociones')").await?;
        b.wait("#flow-nodes li[data-node=menu]").await?;
        Ok(())
    }))
    .await;
}

/// Documentation screenshots of the overview, inbox and flow editor at 1280 and 375 px.
async fn tour(b: &Browser, dir: &std::path::Path) -> Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join(dir);
    for (w, h) in [(1280, 900), (375, 812)] {
        b.viewport(w, h).await?;
        b.nav("/").await?;
        b.until(
            "charts drawn",
            "document.querySelectorAll('.chart').length >= 4",
        )
        .await?;
        tokio::time::sleep(Duration::from_millis(700)).await;
        b.shot(&dir.join(format!("overview-{w}.png"))).await?;

        b.nav("/inbox").await?;
        b.click("[data-conv]").await?;
        b.wait("#conv-log .bubble").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.shot(&dir.join(format!("inbox-{w}.png"))).await?;

        b.nav("/flows").await?;
        b.click("[data-flow]").await?;
        b.wait("#flow-json").await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        b.shot(&dir.join(format!("flow-editor-{w}.png"))).await?;
        b.click("#tab-graph").await?;
        b.wait(".graph svg").await?;
        b.shot(&dir.join(format!("flow-graph-{w}.png"))).await?;
    }
    b.viewport(1280, 900).await?;
    let extra = [
        ("/orders", "tr[data-order]", "orders"),
        ("/products", "tr[data-sku]", "products"),
        ("/simulator", "#sim-log .bubble", "simulator"),
        ("/bots", "tr[data-bot]", "bots"),
        ("/settings", "#settings-form", "settings"),
    ];
    for (path, ready, name) in extra {
        b.nav(path).await?;
        b.click(ready)
            .await
            .or_else(|_| Ok::<(), anyhow::Error>(()))?;
        b.wait(ready).await?;
        tokio::time::sleep(Duration::from_millis(400)).await;
        b.shot(&dir.join(format!("{name}-1280.png"))).await?;
    }
    Ok(())
}
