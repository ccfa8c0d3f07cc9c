//! The shop's catalogue as the engine's `Catalog`, read through one SQLite connection.

use rusqlite::Connection;

use crate::engine::{Catalog, ProductView};
use crate::ids::TenantId;
use crate::shop::page::Cursor;
use crate::shop::products::{self, Product, ProductFilter};

pub struct SqlCatalog<'a> {
    pub conn: &'a Connection,
    pub tenant: TenantId,
}

fn view(p: Product) -> ProductView {
    ProductView {
        id: p.id.to_string(),
        sku: p.sku,
        name: p.name,
        price_minor: p.price_minor,
        currency: p.currency,
        stock: p.stock,
        category: (!p.category.is_empty()).then_some(p.category),
    }
}

impl Catalog for SqlCatalog<'_> {
    fn categories(&self) -> Vec<String> {
        products::categories(self.conn, self.tenant)
            .map(|cs| cs.into_iter().map(|c| c.name).filter(|n| !n.is_empty()).collect())
            .unwrap_or_default()
    }

    fn products(&self, category: Option<&str>, search: Option<&str>, limit: usize) -> Vec<ProductView> {
        let filter = ProductFilter {
            category: category.map(str::to_string),
            active: Some(true),
            in_stock: None,
            q: search.map(str::to_string),
        };
        let cursor = Cursor {
            after: None,
            limit: limit.clamp(1, 200) as u32,
        };
        products::list(self.conn, self.tenant, &filter, &cursor)
            .map(|page| page.items.into_iter().map(view).collect())
            .unwrap_or_default()
    }

    fn product(&self, id: &str) -> Option<ProductView> {
        let id = crate::ids::ProductId::parse(id)?;
        products::get(self.conn, self.tenant, id)
            .ok()
            .flatten()
            .filter(|p| p.active)
            .map(view)
    }
}
