//! Sellers: the people orders are assigned to, with a commission in basis points.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::products::some_option;
use super::text::normalize_phone;
use super::{Cursor, Page, ShopError, TenantDefaults};
use crate::audit;
use crate::error::FieldError;
use crate::ids::{now_text, SellerId, TenantId};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Seller {
    pub id: SellerId,
    pub name: String,
    /// E.164.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// Commission in basis points (250 = 2.5 %).
    pub commission_bps: i64,
    /// Only active sellers take round-robin assignments.
    pub active: bool,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SellerDraft {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "some_option")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    #[serde(default, deserialize_with = "some_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub commission_bps: Option<i64>,
    pub active: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SellerInput {
    pub name: String,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub commission_bps: i64,
    pub active: bool,
}

impl SellerDraft {
    pub fn over(self, s: &Seller) -> SellerDraft {
        SellerDraft {
            name: self.name.or_else(|| Some(s.name.clone())),
            phone: self.phone.or_else(|| Some(s.phone.clone())),
            email: self.email.or_else(|| Some(s.email.clone())),
            commission_bps: self.commission_bps.or(Some(s.commission_bps)),
            active: self.active.or(Some(s.active)),
        }
    }

    pub fn validate(self, defaults: &TenantDefaults) -> Result<SellerInput, Vec<FieldError>> {
        let mut errs = vec![];
        let name = self.name.unwrap_or_default().trim().to_string();
        if name.is_empty() {
            errs.push(FieldError::new("name", "is required"));
        } else if name.chars().count() > 200 {
            errs.push(FieldError::new("name", "must be at most 200 characters"));
        }
        let phone = match self.phone.flatten().filter(|p| !p.trim().is_empty()) {
            Some(p) => match normalize_phone(&p, &defaults.country) {
                Ok(p) => Some(p),
                Err(m) => {
                    errs.push(FieldError::new("phone", m));
                    None
                }
            },
            None => None,
        };
        let email = self
            .email
            .flatten()
            .map(|e| e.trim().to_lowercase())
            .filter(|e| !e.is_empty());
        if email
            .as_deref()
            .is_some_and(|e| !crate::api::json::is_email(e))
        {
            errs.push(FieldError::new("email", "must be a valid e-mail address"));
        }
        let commission_bps = self.commission_bps.unwrap_or(0);
        if !(0..=10_000).contains(&commission_bps) {
            errs.push(FieldError::new(
                "commission_bps",
                "must be between 0 and 10000 basis points",
            ));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(SellerInput {
            name,
            phone,
            email,
            commission_bps,
            active: self.active.unwrap_or(true),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct SellerFilter {
    pub active: Option<bool>,
    /// Part of the name (case-insensitive).
    pub q: Option<String>,
}

const COLS: &str =
    "s.id, s.name, s.phone, s.email, s.commission_bps, s.active, s.created_at, s.updated_at";

fn row(r: &Row) -> rusqlite::Result<Seller> {
    Ok(Seller {
        id: r.get(0)?,
        name: r.get(1)?,
        phone: r.get(2)?,
        email: r.get(3)?,
        commission_bps: r.get(4)?,
        active: r.get(5)?,
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
    })
}

pub fn get(c: &Connection, tenant: TenantId, id: SellerId) -> Result<Option<Seller>, ShopError> {
    let sql = format!("SELECT {COLS} FROM sellers s WHERE s.tenant_id = ?1 AND s.id = ?2");
    Ok(c.prepare_cached(&sql)?
        .query_row(params![tenant, id], row)
        .optional()?)
}

pub fn list(
    c: &Connection,
    tenant: TenantId,
    filter: &SellerFilter,
    cursor: &Cursor,
) -> Result<Page<Seller>, ShopError> {
    let sql = format!(
        "SELECT {COLS} FROM sellers s WHERE s.tenant_id = ?1
           AND (?2 IS NULL OR s.active = ?2)
           AND (?3 IS NULL OR instr(lower(s.name), lower(?3)) > 0)
           AND (?4 IS NULL OR s.id < ?4)
         ORDER BY s.id DESC LIMIT ?5"
    );
    let mut st = c.prepare_cached(&sql)?;
    let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let rows = st.query_map(
        params![tenant, filter.active, q, cursor.after_id()?, cursor.fetch()],
        row,
    )?;
    let rows = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(cursor.finish(rows, |s| s.id.to_string()))
}

fn summary(s: &Seller) -> serde_json::Value {
    json!({"name": s.name, "phone": s.phone, "email": s.email,
           "commission_bps": s.commission_bps, "active": s.active})
}

pub fn create(
    c: &Connection,
    tenant: TenantId,
    s: &SellerInput,
    actor: &str,
) -> Result<Seller, ShopError> {
    let id = SellerId::new();
    c.prepare_cached(
        "INSERT INTO sellers (id, tenant_id, name, phone, email, commission_bps, active, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
    )?
    .execute(params![
        id,
        tenant,
        s.name,
        s.phone,
        s.email,
        s.commission_bps,
        s.active,
        now_text()
    ])?;
    let created = get(c, tenant, id)?.ok_or(ShopError::NotFound("seller"))?;
    audit::record(
        c,
        tenant,
        actor,
        "create",
        "seller",
        Some(&id.to_string()),
        json!({"after": summary(&created)}),
    )?;
    Ok(created)
}

pub fn update(
    c: &Connection,
    tenant: TenantId,
    id: SellerId,
    s: &SellerInput,
    actor: &str,
) -> Result<Seller, ShopError> {
    let before = get(c, tenant, id)?.ok_or(ShopError::NotFound("seller"))?;
    c.prepare_cached(
        "UPDATE sellers SET name = ?3, phone = ?4, email = ?5, commission_bps = ?6, active = ?7,
                updated_at = ?8
         WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![
        tenant,
        id,
        s.name,
        s.phone,
        s.email,
        s.commission_bps,
        s.active,
        now_text()
    ])?;
    let after = get(c, tenant, id)?.ok_or(ShopError::NotFound("seller"))?;
    audit::record(
        c,
        tenant,
        actor,
        "update",
        "seller",
        Some(&id.to_string()),
        json!({"before": summary(&before), "after": summary(&after)}),
    )?;
    Ok(after)
}

/// Deletes a seller without orders; one with orders is kept for the stats (409).
pub fn delete(
    c: &Connection,
    tenant: TenantId,
    id: SellerId,
    actor: &str,
) -> Result<(), ShopError> {
    let before = get(c, tenant, id)?.ok_or(ShopError::NotFound("seller"))?;
    let orders: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM orders WHERE tenant_id = ?1 AND seller_id = ?2")?
        .query_row(params![tenant, id], |r| r.get(0))?;
    if orders > 0 {
        return Err(ShopError::InUse(format!(
            "the seller has {orders} order(s) and cannot be deleted; set active to false instead"
        )));
    }
    c.prepare_cached("UPDATE shop_counters SET last_seller_id = NULL WHERE tenant_id = ?1 AND last_seller_id = ?2")?
        .execute(params![tenant, id])?;
    c.prepare_cached("DELETE FROM sellers WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant, id])?;
    audit::record(
        c,
        tenant,
        actor,
        "delete",
        "seller",
        Some(&id.to_string()),
        json!({"before": summary(&before)}),
    )?;
    Ok(())
}

/// The next active seller after the last one assigned (by id, wrapping), and remembers
/// it. `None` when the tenant has no active seller.
pub(crate) fn next_round_robin(
    c: &Connection,
    tenant: TenantId,
) -> Result<Option<SellerId>, ShopError> {
    let last: Option<SellerId> = c
        .prepare_cached("SELECT last_seller_id FROM shop_counters WHERE tenant_id = ?1")?
        .query_row([tenant], |r| r.get(0))
        .optional()?
        .flatten();
    let next: Option<SellerId> = c
        .prepare_cached(
            "SELECT id FROM sellers WHERE tenant_id = ?1 AND active = 1
             ORDER BY (?2 IS NOT NULL AND id > ?2) DESC, id LIMIT 1",
        )?
        .query_row(params![tenant, last], |r| r.get(0))
        .optional()?;
    if let Some(id) = next {
        c.prepare_cached(
            "INSERT INTO shop_counters (tenant_id, last_seller_id) VALUES (?1, ?2)
             ON CONFLICT (tenant_id) DO UPDATE SET last_seller_id = excluded.last_seller_id",
        )?
        .execute(params![tenant, id])?;
    }
    Ok(next)
}

/// Orders and revenue of one seller in one currency over a period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct SellerStats {
    pub seller_id: SellerId,
    pub name: String,
    /// Orders created in the period, cancelled ones excluded.
    pub orders: i64,
    /// Sum of those orders' totals, minor units.
    pub revenue_minor: i64,
    pub currency: String,
    /// `revenue_minor * commission_bps / 10000`, rounded down.
    pub commission_minor: i64,
    pub cancelled: i64,
}

/// Per seller (and currency): orders, revenue and commission for orders created in
/// `[from, to)` (RFC 3339 text; either may be open).
pub fn stats(
    c: &Connection,
    tenant: TenantId,
    from: Option<&str>,
    to: Option<&str>,
) -> Result<Vec<SellerStats>, ShopError> {
    let mut st = c.prepare_cached(
        "SELECT s.id, s.name, s.commission_bps, o.currency,
                SUM(o.status <> 'cancelled'),
                SUM(CASE WHEN o.status <> 'cancelled' THEN o.total_minor ELSE 0 END),
                SUM(o.status = 'cancelled')
         FROM orders o JOIN sellers s ON s.id = o.seller_id AND s.tenant_id = o.tenant_id
         WHERE o.tenant_id = ?1 AND (?2 IS NULL OR o.created_at >= ?2)
           AND (?3 IS NULL OR o.created_at < ?3)
         GROUP BY s.id, o.currency ORDER BY s.name, s.id, o.currency",
    )?;
    let rows = st.query_map(params![tenant, from, to], |r| {
        let bps: i64 = r.get(2)?;
        let revenue: i64 = r.get(5)?;
        Ok(SellerStats {
            seller_id: r.get(0)?,
            name: r.get(1)?,
            currency: r.get(3)?,
            orders: r.get(4)?,
            revenue_minor: revenue,
            // i128: revenue * 10000 could pass i64 for very large totals.
            commission_minor: i64::try_from(i128::from(revenue) * i128::from(bps) / 10_000)
                .unwrap_or(i64::MAX),
            cancelled: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}
