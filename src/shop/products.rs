//! The catalogue: products with a per-tenant SKU, exact prices and optional stock.
//!
//! The conversation engine reads it through [`categories`], [`list`] and [`get`].

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::text::{clean_list, fts_query, list_from_json, list_to_json};
use super::{Cursor, Page, ShopError, TenantDefaults};
use crate::audit;
use crate::error::FieldError;
use crate::ids::{now_text, ProductId, TenantId};
use crate::money;

/// Highest price accepted (10^13 minor units), far below i64 overflow even times quantity.
pub const MAX_PRICE_MINOR: i64 = 10_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Product {
    pub id: ProductId,
    pub sku: String,
    pub name: String,
    pub description: String,
    /// Price in minor units of `currency` (4590 = 45.90).
    pub price_minor: i64,
    pub currency: String,
    /// The price formatted for people, e.g. "S/ 45.90".
    pub price_text: String,
    /// Units in stock; `null` = unlimited.
    pub stock: Option<i64>,
    pub category: String,
    pub tags: Vec<String>,
    /// Image references (URLs or media ids).
    pub images: Vec<String>,
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A product as a client sends it. Every field is optional so that one answer can name
/// all missing ones; on update, absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductDraft {
    pub sku: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub price_minor: Option<i64>,
    /// ISO 4217; defaults to the tenant's currency.
    pub currency: Option<String>,
    /// `null` = unlimited stock.
    #[serde(default, deserialize_with = "some_option")]
    #[schema(value_type = Option<i64>)]
    pub stock: Option<Option<i64>>,
    pub category: Option<String>,
    pub tags: Option<Vec<String>>,
    pub images: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// Present-but-null becomes `Some(None)`, absent stays `None`.
pub(crate) fn some_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A checked product, ready to store.
#[derive(Debug, Clone, PartialEq)]
pub struct ProductInput {
    pub sku: String,
    pub name: String,
    pub description: String,
    pub price_minor: i64,
    pub currency: String,
    pub stock: Option<i64>,
    pub category: String,
    pub tags: Vec<String>,
    pub images: Vec<String>,
    pub active: bool,
}

impl ProductDraft {
    /// Fills absent fields from the stored product (for updates).
    pub fn over(self, p: &Product) -> ProductDraft {
        ProductDraft {
            sku: self.sku.or_else(|| Some(p.sku.clone())),
            name: self.name.or_else(|| Some(p.name.clone())),
            description: self.description.or_else(|| Some(p.description.clone())),
            price_minor: self.price_minor.or(Some(p.price_minor)),
            currency: self.currency.or_else(|| Some(p.currency.clone())),
            stock: self.stock.or(Some(p.stock)),
            category: self.category.or_else(|| Some(p.category.clone())),
            tags: self.tags.or_else(|| Some(p.tags.clone())),
            images: self.images.or_else(|| Some(p.images.clone())),
            active: self.active.or(Some(p.active)),
        }
    }

    /// Checks every field; the error names each bad one.
    pub fn validate(self, defaults: &TenantDefaults) -> Result<ProductInput, Vec<FieldError>> {
        let mut errs = vec![];
        let mut bad = |f: &str, m: &str| errs.push(FieldError::new(f, m));
        let sku = self.sku.unwrap_or_default().trim().to_string();
        if sku.is_empty() {
            bad("sku", "is required");
        } else if sku.chars().count() > 64 || sku.chars().any(|c| c.is_whitespace()) {
            bad("sku", "must be 1-64 characters without spaces");
        }
        let name = self.name.unwrap_or_default().trim().to_string();
        if name.is_empty() {
            bad("name", "is required");
        } else if name.chars().count() > 200 {
            bad("name", "must be at most 200 characters");
        }
        let description = self.description.unwrap_or_default().trim().to_string();
        if description.chars().count() > 5000 {
            bad("description", "must be at most 5000 characters");
        }
        let price_minor = self.price_minor.unwrap_or(-1);
        match self.price_minor {
            None => bad(
                "price_minor",
                "is required (integer minor units, 4590 = 45.90)",
            ),
            Some(p) if p < 0 => bad("price_minor", "must not be negative"),
            Some(p) if p > MAX_PRICE_MINOR => bad("price_minor", "is too large"),
            _ => {}
        }
        let currency = self
            .currency
            .map(|c| c.trim().to_ascii_uppercase())
            .unwrap_or_else(|| defaults.currency.clone());
        if !money::is_currency(&currency) {
            bad("currency", "is not a known ISO 4217 currency code");
        }
        let stock = self.stock.flatten();
        if stock.is_some_and(|s| s < 0) {
            bad("stock", "must not be negative (null = unlimited)");
        }
        let category = self.category.unwrap_or_default().trim().to_string();
        if category.chars().count() > 100 {
            bad("category", "must be at most 100 characters");
        }
        let tags = clean_list(&self.tags.unwrap_or_default());
        if tags.len() > 50 || tags.iter().any(|t| t.chars().count() > 50) {
            bad("tags", "at most 50 tags of at most 50 characters");
        }
        let images = clean_list(&self.images.unwrap_or_default());
        if images.len() > 20 || images.iter().any(|t| t.len() > 2000) {
            bad("images", "at most 20 references of at most 2000 characters");
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(ProductInput {
            sku,
            name,
            description,
            price_minor,
            currency,
            stock,
            category,
            tags,
            images,
            active: self.active.unwrap_or(true),
        })
    }
}

/// List filters; all optional.
#[derive(Debug, Clone, Default)]
pub struct ProductFilter {
    pub category: Option<String>,
    pub active: Option<bool>,
    /// true: unlimited or stock > 0; false: stock = 0.
    pub in_stock: Option<bool>,
    /// Words to find in sku, name, description, category or tags (accents ignored).
    pub q: Option<String>,
}

impl ProductFilter {
    /// No predicate besides the tenant: the page is the first `limit` entries of the index.
    pub fn is_empty(&self) -> bool {
        self.category.is_none()
            && self.active.is_none()
            && self.in_stock.is_none()
            && self.q.is_none()
    }
}

const COLS: &str = "p.id, p.sku, p.name, p.description, p.price_minor, p.currency, p.stock, \
                    p.category, p.tags, p.images, p.active, p.created_at, p.updated_at, p.seq";

fn row(r: &Row) -> rusqlite::Result<Product> {
    let price_minor: i64 = r.get(4)?;
    let currency: String = r.get(5)?;
    let tags: String = r.get(8)?;
    let images: String = r.get(9)?;
    Ok(Product {
        id: r.get(0)?,
        sku: r.get(1)?,
        name: r.get(2)?,
        description: r.get(3)?,
        price_text: money::format(price_minor, &currency),
        price_minor,
        currency,
        stock: r.get(6)?,
        category: r.get(7)?,
        tags: list_from_json(&tags),
        images: list_from_json(&images),
        active: r.get(10)?,
        created_at: r.get(11)?,
        updated_at: r.get(12)?,
    })
}

pub fn get(c: &Connection, tenant: TenantId, id: ProductId) -> Result<Option<Product>, ShopError> {
    let sql = format!("SELECT {COLS} FROM products p WHERE p.tenant_id = ?1 AND p.id = ?2");
    Ok(c.prepare_cached(&sql)?
        .query_row(params![tenant, id], row)
        .optional()?)
}

pub fn by_sku(c: &Connection, tenant: TenantId, sku: &str) -> Result<Option<Product>, ShopError> {
    let sql = format!("SELECT {COLS} FROM products p WHERE p.tenant_id = ?1 AND p.sku = ?2");
    Ok(c.prepare_cached(&sql)?
        .query_row(params![tenant, sku.trim()], row)
        .optional()?)
}

/// A page of products, newest first, filtered and optionally searched.
pub fn list(
    c: &Connection,
    tenant: TenantId,
    filter: &ProductFilter,
    cursor: &Cursor,
) -> Result<Page<Product>, ShopError> {
    let after = cursor.after_seq()?;
    let conditions = "p.tenant_id = ?1
        AND (?2 IS NULL OR p.category = ?2)
        AND (?3 IS NULL OR p.active = ?3)
        AND (?4 IS NULL OR (CASE WHEN ?4 THEN (p.stock IS NULL OR p.stock > 0) ELSE p.stock = 0 END))";
    let q = filter.q.as_deref().and_then(fts_query);
    // A search walks the index's matches newest first and stops at the page size;
    // a plain list walks the tenant's (tenant_id, seq) index the same way.
    let sql = if q.is_some() {
        format!(
            "SELECT {COLS} FROM products_fts f CROSS JOIN products p ON p.seq = f.rowid
             WHERE products_fts MATCH ?6 AND (?5 IS NULL OR f.rowid < ?5) AND {conditions}
             ORDER BY f.rowid DESC LIMIT ?7"
        )
    } else {
        format!(
            "SELECT {COLS} FROM products p WHERE ?6 IS NULL AND (?5 IS NULL OR p.seq < ?5)
             AND {conditions} ORDER BY p.seq DESC LIMIT ?7"
        )
    };
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(
        params![
            tenant,
            filter.category.as_deref().map(str::trim),
            filter.active,
            filter.in_stock,
            after,
            q,
            cursor.fetch()
        ],
        |r| Ok((r.get::<_, i64>(13)?, row(r)?)),
    )?;
    let rows = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(cursor.finish_seq(rows))
}

/// Every product of the tenant, oldest first (for export).
pub fn all(c: &Connection, tenant: TenantId) -> Result<Vec<Product>, ShopError> {
    let sql = format!("SELECT {COLS} FROM products p WHERE p.tenant_id = ?1 ORDER BY p.seq");
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map([tenant], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// A category and how many active products it has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Category {
    pub name: String,
    pub products: i64,
}

/// Categories that have active products, by name.
pub fn categories(c: &Connection, tenant: TenantId) -> Result<Vec<Category>, ShopError> {
    let mut st = c.prepare_cached(
        "SELECT category, COUNT(*) FROM products
         WHERE tenant_id = ?1 AND active = 1 AND category <> ''
         GROUP BY category ORDER BY category",
    )?;
    let rows = st.query_map([tenant], |r| {
        Ok(Category {
            name: r.get(0)?,
            products: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn summary(p: &Product) -> serde_json::Value {
    json!({"sku": p.sku, "name": p.name, "price_minor": p.price_minor, "currency": p.currency,
           "stock": p.stock, "category": p.category, "active": p.active})
}

fn unique_sku(e: rusqlite::Error, sku: &str) -> ShopError {
    let err = crate::store::DbError::Sqlite(e);
    if crate::auth::store::is_unique_violation(&err) {
        ShopError::Duplicate {
            field: "sku",
            value: sku.to_string(),
        }
    } else {
        ShopError::Db(err)
    }
}

pub fn create(
    c: &Connection,
    tenant: TenantId,
    p: &ProductInput,
    actor: &str,
) -> Result<Product, ShopError> {
    let id = ProductId::new();
    let now = now_text();
    c.prepare_cached(
        "INSERT INTO products (id, tenant_id, sku, name, description, price_minor, currency, stock,
                               category, tags, images, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?13)",
    )?
    .execute(params![
        id,
        tenant,
        p.sku,
        p.name,
        p.description,
        p.price_minor,
        p.currency,
        p.stock,
        p.category,
        list_to_json(&p.tags),
        list_to_json(&p.images),
        p.active,
        now
    ])
    .map_err(|e| unique_sku(e, &p.sku))?;
    let created = get(c, tenant, id)?.ok_or(ShopError::NotFound("product"))?;
    audit::record(
        c,
        tenant,
        actor,
        "create",
        "product",
        Some(&id.to_string()),
        json!({"after": summary(&created)}),
    )?;
    Ok(created)
}

pub fn update(
    c: &Connection,
    tenant: TenantId,
    id: ProductId,
    p: &ProductInput,
    actor: &str,
) -> Result<Product, ShopError> {
    let before = get(c, tenant, id)?.ok_or(ShopError::NotFound("product"))?;
    c.prepare_cached(
        "UPDATE products SET sku = ?3, name = ?4, description = ?5, price_minor = ?6, currency = ?7,
                stock = ?8, category = ?9, tags = ?10, images = ?11, active = ?12, updated_at = ?13
         WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![
        tenant,
        id,
        p.sku,
        p.name,
        p.description,
        p.price_minor,
        p.currency,
        p.stock,
        p.category,
        list_to_json(&p.tags),
        list_to_json(&p.images),
        p.active,
        now_text()
    ])
    .map_err(|e| unique_sku(e, &p.sku))?;
    let after = get(c, tenant, id)?.ok_or(ShopError::NotFound("product"))?;
    audit::record(
        c,
        tenant,
        actor,
        "update",
        "product",
        Some(&id.to_string()),
        json!({"before": summary(&before), "after": summary(&after)}),
    )?;
    Ok(after)
}

/// Deletes a product; orders keep their item snapshots.
pub fn delete(
    c: &Connection,
    tenant: TenantId,
    id: ProductId,
    actor: &str,
) -> Result<(), ShopError> {
    let before = get(c, tenant, id)?.ok_or(ShopError::NotFound("product"))?;
    c.prepare_cached("DELETE FROM products WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant, id])?;
    audit::record(
        c,
        tenant,
        actor,
        "delete",
        "product",
        Some(&id.to_string()),
        json!({"before": summary(&before)}),
    )?;
    Ok(())
}

/// Takes `qty` units; unlimited stock always succeeds. Insufficient stock names what is left.
pub(crate) fn take_stock(
    c: &Connection,
    tenant: TenantId,
    id: ProductId,
    sku: &str,
    name: &str,
    qty: i64,
) -> Result<(), ShopError> {
    let changed = c
        .prepare_cached(
            "UPDATE products SET stock = stock - ?3, updated_at = ?4
             WHERE tenant_id = ?1 AND id = ?2 AND stock IS NOT NULL AND stock >= ?3",
        )?
        .execute(params![tenant, id, qty, now_text()])?;
    if changed == 1 {
        return Ok(());
    }
    let stock: Option<Option<i64>> = c
        .prepare_cached("SELECT stock FROM products WHERE tenant_id = ?1 AND id = ?2")?
        .query_row(params![tenant, id], |r| r.get(0))
        .optional()?;
    match stock {
        Some(None) => Ok(()),
        Some(Some(available)) => Err(ShopError::InsufficientStock {
            product_id: id.to_string(),
            sku: sku.to_string(),
            name: name.to_string(),
            requested: qty,
            available,
        }),
        // The product was deleted after the order: nothing to take.
        None => Ok(()),
    }
}

/// Gives `qty` units back (a cancelled order). Unlimited or deleted products: no-op.
pub(crate) fn return_stock(
    c: &Connection,
    tenant: TenantId,
    id: ProductId,
    qty: i64,
) -> Result<(), ShopError> {
    c.prepare_cached(
        "UPDATE products SET stock = stock + ?3, updated_at = ?4
         WHERE tenant_id = ?1 AND id = ?2 AND stock IS NOT NULL",
    )?
    .execute(params![tenant, id, qty, now_text()])?;
    Ok(())
}
