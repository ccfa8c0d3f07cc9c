//! What a step may read besides the session: the time, the tenant's settings, the contact
//! and the shop's catalogue (behind a trait so the engine stays pure).

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// Everything around one step; the glue builds it per inbound message.
pub struct Ctx<'a> {
    pub now: DateTime<Utc>,
    pub tenant: TenantSettings,
    pub contact: ContactView,
    pub catalog: &'a dyn Catalog,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TenantSettings {
    pub tz: Tz,
    /// ISO 3166 country for phone numbers written without a country code, e.g. "PE".
    pub country: String,
    /// ISO 4217, e.g. "PEN".
    pub currency: String,
    /// e.g. "es-PE"; decides how "1.234" is read.
    pub locale: String,
    /// Lets `http` nodes call private, loopback and link-local addresses.
    pub allow_private_http: bool,
}

impl Default for TenantSettings {
    fn default() -> Self {
        TenantSettings {
            tz: chrono_tz::America::Lima,
            country: "PE".into(),
            currency: "PEN".into(),
            locale: "es-PE".into(),
            allow_private_http: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactView {
    /// E.164
    pub phone: String,
    pub name: Option<String>,
}

/// The shop's products as a flow sees them.
pub trait Catalog {
    fn categories(&self) -> Vec<String>;
    /// Active products, optionally in one category and/or matching a search, at most `limit`.
    fn products(
        &self,
        category: Option<&str>,
        search: Option<&str>,
        limit: usize,
    ) -> Vec<ProductView>;
    fn product(&self, id: &str) -> Option<ProductView>;
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductView {
    pub id: String,
    pub sku: String,
    pub name: String,
    pub price_minor: i64,
    pub currency: String,
    /// None = not tracked (unlimited).
    pub stock: Option<i64>,
    pub category: Option<String>,
}

/// A catalogue held in memory: for tests, the sandbox and the demo.
#[derive(Debug, Clone, Default)]
pub struct MemoryCatalog {
    pub products: Vec<ProductView>,
}

impl Catalog for MemoryCatalog {
    fn categories(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for c in self.products.iter().filter_map(|p| p.category.clone()) {
            if !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    fn products(
        &self,
        category: Option<&str>,
        search: Option<&str>,
        limit: usize,
    ) -> Vec<ProductView> {
        let search = search.map(super::validators::normalize);
        self.products
            .iter()
            .filter(|p| category.is_none_or(|c| p.category.as_deref() == Some(c)))
            .filter(|p| {
                search
                    .as_deref()
                    .is_none_or(|s| super::validators::normalize(&p.name).contains(s))
            })
            .take(limit)
            .cloned()
            .collect()
    }

    fn product(&self, id: &str) -> Option<ProductView> {
        self.products.iter().find(|p| p.id == id).cloned()
    }
}
