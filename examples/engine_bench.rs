//! Engine throughput on the demo purchase script, one core, no I/O:
//! `cargo run --release --example engine_bench`.

use std::time::Instant;

use chrono::{TimeZone, Utc};
use dashoffice::engine::demo::demo_program;
use dashoffice::engine::{
    step, ContactView, Ctx, Input, MemoryCatalog, ProductView, TenantSettings,
};

fn main() {
    let bot = demo_program();
    let cat = MemoryCatalog {
        products: (0..30)
            .map(|i| ProductView {
                id: format!("p{i}"),
                sku: format!("S{i}"),
                name: format!("Producto {i}"),
                price_minor: 1000 + i,
                currency: "PEN".into(),
                stock: Some(100),
                category: Some(if i % 2 == 0 { "Ropa" } else { "Hogar" }.into()),
            })
            .collect(),
    };
    let ctx = Ctx {
        now: Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap(),
        tenant: TenantSettings::default(),
        contact: ContactView {
            phone: "+51987654321".into(),
            name: Some("Lucía".into()),
        },
        catalog: &cat,
    };
    let script: Vec<Input> = [
        "hola",
        "1",
        "ropa",
        "1",
        "2",
        "finalizar",
        "Lucía",
        "Av. Lima 123",
    ]
    .iter()
    .map(|t| Input::Text { text: (*t).into() })
    .chain(std::iter::once(Input::OrderResult {
        ok: true,
        order_id: Some("o".into()),
        number: Some(1),
        total_minor: Some(2000),
        currency: Some("PEN".into()),
        error: None,
    }))
    .collect();
    let rounds = 2000;
    let t = Instant::now();
    let mut steps = 0u64;
    for _ in 0..rounds {
        let mut s = None;
        for i in &script {
            let out = step(&bot, s.as_ref(), i, &ctx);
            s = out.session;
            steps += 1;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{steps} steps in {secs:.3}s = {:.0} steps/s",
        steps as f64 / secs
    );
}
