//! Orders: numbered per tenant from 1001, items snapshot the product at order time,
//! totals exact in minor units, a status machine that takes stock on confirm and gives
//! it back on cancel — all inside the caller's transaction.
//!
//! The conversation glue calls [`create`], [`set_status`] and [`by_number`] inside a
//! `Db::write` closure.

use std::collections::BTreeMap;

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::text::fts_query;
use super::{products, sellers, Cursor, Page, ShopError};
use crate::audit;
use crate::error::FieldError;
use crate::ids::{now_text, CustomerId, OrderId, ProductId, SellerId, TenantId};
use crate::money;

/// Most units of one line.
pub const MAX_QUANTITY: i64 = 1_000_000;
/// Most lines in one order.
pub const MAX_ITEMS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Confirmed,
    Paid,
    Shipped,
    Delivered,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::Confirmed,
        Status::Paid,
        Status::Shipped,
        Status::Delivered,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Confirmed => "confirmed",
            Status::Paid => "paid",
            Status::Shipped => "shipped",
            Status::Delivered => "delivered",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// pending -> confirmed -> paid -> shipped -> delivered; any non-final -> cancelled.
    pub fn allowed(self) -> &'static [Status] {
        match self {
            Status::Pending => &[Status::Confirmed, Status::Cancelled],
            Status::Confirmed => &[Status::Paid, Status::Cancelled],
            Status::Paid => &[Status::Shipped, Status::Cancelled],
            Status::Shipped => &[Status::Delivered, Status::Cancelled],
            Status::Delivered | Status::Cancelled => &[],
        }
    }

    /// The items' stock has been taken in this state (from confirm on, until cancelled).
    pub fn holds_stock(self) -> bool {
        matches!(
            self,
            Status::Confirmed | Status::Paid | Status::Shipped | Status::Delivered
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Bot,
    Api,
    Dashboard,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Bot => "bot",
            Source::Api => "api",
            Source::Dashboard => "dashboard",
        }
    }
    fn parse(s: &str) -> Source {
        match s {
            "bot" => Source::Bot,
            "dashboard" => Source::Dashboard,
            _ => Source::Api,
        }
    }
}

/// One line of a new order: the product by id or SKU, and how many.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewItem {
    pub product_id: Option<ProductId>,
    pub sku: Option<String>,
    pub quantity: i64,
}

/// Everything needed to create an order. Prices come from the catalogue, not the caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub customer_id: CustomerId,
    pub items: Vec<NewItem>,
    pub discount_minor: i64,
    pub shipping_minor: i64,
    pub notes: String,
    pub source: Source,
    /// `None`: round-robin among active sellers (none if the tenant has no active seller).
    pub seller_id: Option<SellerId>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDraft {
    pub product_id: Option<ProductId>,
    /// Alternative to `product_id`.
    pub sku: Option<String>,
    pub quantity: Option<i64>,
}

/// A new order as a client sends it.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OrderDraft {
    pub customer_id: Option<CustomerId>,
    pub items: Option<Vec<ItemDraft>>,
    pub discount_minor: Option<i64>,
    pub shipping_minor: Option<i64>,
    pub notes: Option<String>,
    /// Defaults to `api`.
    pub source: Option<Source>,
    /// Omit for round-robin assignment.
    pub seller_id: Option<SellerId>,
}

impl OrderDraft {
    pub fn validate(self) -> Result<NewOrder, Vec<FieldError>> {
        let mut errs = vec![];
        if self.customer_id.is_none() {
            errs.push(FieldError::new("customer_id", "is required"));
        }
        let drafts = self.items.unwrap_or_default();
        if drafts.is_empty() {
            errs.push(FieldError::new("items", "needs at least one item"));
        }
        let items = drafts
            .into_iter()
            .map(|d| NewItem {
                product_id: d.product_id,
                sku: d.sku,
                quantity: d.quantity.unwrap_or(0),
            })
            .collect();
        let new = NewOrder {
            customer_id: self
                .customer_id
                .unwrap_or_else(|| CustomerId(uuid::Uuid::nil())),
            items,
            discount_minor: self.discount_minor.unwrap_or(0),
            shipping_minor: self.shipping_minor.unwrap_or(0),
            notes: self.notes.unwrap_or_default().trim().to_string(),
            source: self.source.unwrap_or(Source::Api),
            seller_id: self.seller_id,
        };
        errs.extend(new.check());
        if errs.is_empty() {
            Ok(new)
        } else {
            Err(errs)
        }
    }
}

impl NewOrder {
    /// Shape checks that need no database.
    pub fn check(&self) -> Vec<FieldError> {
        let mut errs = vec![];
        if self.items.len() > MAX_ITEMS {
            errs.push(FieldError::new(
                "items",
                format!("at most {MAX_ITEMS} lines"),
            ));
        }
        for (i, it) in self.items.iter().enumerate() {
            if it.product_id.is_none() && it.sku.as_deref().is_none_or(|s| s.trim().is_empty()) {
                errs.push(FieldError::new(
                    format!("items[{i}].product_id"),
                    "product_id or sku is required",
                ));
            }
            if it.quantity <= 0 || it.quantity > MAX_QUANTITY {
                errs.push(FieldError::new(
                    format!("items[{i}].quantity"),
                    format!("must be between 1 and {MAX_QUANTITY}"),
                ));
            }
        }
        if self.discount_minor < 0 {
            errs.push(FieldError::new("discount_minor", "must not be negative"));
        }
        if self.shipping_minor < 0 || self.shipping_minor > products::MAX_PRICE_MINOR {
            errs.push(FieldError::new(
                "shipping_minor",
                "must be between 0 and 10^13",
            ));
        }
        if self.notes.chars().count() > 5000 {
            errs.push(FieldError::new("notes", "must be at most 5000 characters"));
        }
        errs
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct OrderItem {
    /// `null` once the product has been deleted; the snapshot stays.
    pub product_id: Option<ProductId>,
    pub sku: String,
    pub name: String,
    pub unit_price_minor: i64,
    pub quantity: i64,
    pub line_total_minor: i64,
}

/// One status change: who, when, from, to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct StatusChange {
    /// `null` for the creation.
    pub from: Option<Status>,
    pub to: Status,
    pub actor: String,
    pub note: String,
    pub at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Order {
    pub id: OrderId,
    /// Per-tenant, increasing from 1001.
    pub number: i64,
    pub status: Status,
    /// Statuses this order may move to next.
    pub allowed_transitions: Vec<Status>,
    pub customer_id: CustomerId,
    pub customer_name: String,
    pub customer_phone: String,
    pub seller_id: Option<SellerId>,
    pub seller_name: Option<String>,
    pub currency: String,
    pub subtotal_minor: i64,
    pub discount_minor: i64,
    pub shipping_minor: i64,
    /// subtotal - discount + shipping.
    pub total_minor: i64,
    /// The total formatted for people, e.g. "S/ 95.80".
    pub total_text: String,
    pub source: Source,
    pub notes: String,
    pub items: Vec<OrderItem>,
    pub history: Vec<StatusChange>,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<Status>,
    pub seller_id: Option<SellerId>,
    pub customer_id: Option<CustomerId>,
    /// Created at or after (RFC 3339 text).
    pub from: Option<String>,
    /// Created before (RFC 3339 text).
    pub to: Option<String>,
    /// An order number, or words of the customer's name / phone.
    pub q: Option<String>,
}

impl OrderFilter {
    /// No predicate besides the tenant: the page is the first `limit` entries of the index.
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.seller_id.is_none()
            && self.customer_id.is_none()
            && self.from.is_none()
            && self.to.is_none()
            && self.q.is_none()
    }
}

const COLS: &str = "o.id, o.number, o.status, o.customer_id, k.name, k.phone, o.seller_id, s.name,
    o.currency, o.subtotal_minor, o.discount_minor, o.shipping_minor, o.total_minor, o.source,
    o.notes, o.created_by, o.created_at, o.updated_at";
const FROM: &str = "orders o JOIN customers k ON k.id = o.customer_id
    LEFT JOIN sellers s ON s.id = o.seller_id";

fn bad_col(i: usize) -> rusqlite::Error {
    rusqlite::Error::InvalidColumnType(i, "status".into(), rusqlite::types::Type::Text)
}

fn row(r: &Row) -> rusqlite::Result<Order> {
    let status: String = r.get(2)?;
    let status = Status::parse(&status).ok_or_else(|| bad_col(2))?;
    let currency: String = r.get(8)?;
    let total_minor: i64 = r.get(12)?;
    let source: String = r.get(13)?;
    Ok(Order {
        id: r.get(0)?,
        number: r.get(1)?,
        status,
        allowed_transitions: status.allowed().to_vec(),
        customer_id: r.get(3)?,
        customer_name: r.get(4)?,
        customer_phone: r.get(5)?,
        seller_id: r.get(6)?,
        seller_name: r.get(7)?,
        total_text: money::format(total_minor, &currency),
        currency,
        subtotal_minor: r.get(9)?,
        discount_minor: r.get(10)?,
        shipping_minor: r.get(11)?,
        total_minor,
        source: Source::parse(&source),
        notes: r.get(14)?,
        items: vec![],
        history: vec![],
        created_by: r.get(15)?,
        created_at: r.get(16)?,
        updated_at: r.get(17)?,
    })
}

fn fill(c: &Connection, o: &mut Order) -> Result<(), ShopError> {
    let mut st = c.prepare_cached(
        "SELECT product_id, sku, name, unit_price_minor, quantity, line_total_minor
         FROM order_items WHERE order_id = ?1 ORDER BY id",
    )?;
    o.items = st
        .query_map([o.id], |r| {
            Ok(OrderItem {
                product_id: r.get(0)?,
                sku: r.get(1)?,
                name: r.get(2)?,
                unit_price_minor: r.get(3)?,
                quantity: r.get(4)?,
                line_total_minor: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let mut st = c.prepare_cached(
        "SELECT from_status, to_status, actor, note, at FROM order_status_history
         WHERE order_id = ?1 ORDER BY id",
    )?;
    o.history = st
        .query_map([o.id], |r| {
            let from: Option<String> = r.get(0)?;
            let to: String = r.get(1)?;
            Ok(StatusChange {
                from: from.as_deref().and_then(Status::parse),
                to: Status::parse(&to).ok_or_else(|| bad_col(1))?,
                actor: r.get(2)?,
                note: r.get(3)?,
                at: r.get(4)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(())
}

pub fn get(c: &Connection, tenant: TenantId, id: OrderId) -> Result<Option<Order>, ShopError> {
    let sql = format!("SELECT {COLS} FROM {FROM} WHERE o.tenant_id = ?1 AND o.id = ?2");
    let Some(mut o) = c
        .prepare_cached(&sql)?
        .query_row(params![tenant, id], row)
        .optional()?
    else {
        return Ok(None);
    };
    fill(c, &mut o)?;
    Ok(Some(o))
}

/// The order with this per-tenant number ("pedido 1001").
pub fn by_number(
    c: &Connection,
    tenant: TenantId,
    number: i64,
) -> Result<Option<Order>, ShopError> {
    let sql = format!("SELECT {COLS} FROM {FROM} WHERE o.tenant_id = ?1 AND o.number = ?2");
    let Some(mut o) = c
        .prepare_cached(&sql)?
        .query_row(params![tenant, number], row)
        .optional()?
    else {
        return Ok(None);
    };
    fill(c, &mut o)?;
    Ok(Some(o))
}

pub fn list(
    c: &Connection,
    tenant: TenantId,
    filter: &OrderFilter,
    cursor: &Cursor,
) -> Result<Page<Order>, ShopError> {
    let q = filter.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
    let number: Option<i64> = q.and_then(|q| q.trim_start_matches('#').parse().ok());
    let words = if number.is_some() {
        None
    } else {
        q.and_then(fts_query)
    };
    let sql = format!(
        "SELECT {COLS} FROM {FROM} WHERE o.tenant_id = ?1
           AND (?2 IS NULL OR o.status = ?2)
           AND (?3 IS NULL OR o.seller_id = ?3)
           AND (?4 IS NULL OR o.customer_id = ?4)
           AND (?5 IS NULL OR o.created_at >= ?5)
           AND (?6 IS NULL OR o.created_at < ?6)
           AND (?7 IS NULL OR o.number = ?7)
           AND (?8 IS NULL OR o.customer_id IN (
                SELECT k2.id FROM customers_fts f JOIN customers k2 ON k2.seq = f.rowid
                WHERE customers_fts MATCH ?8 AND k2.tenant_id = ?1))
           AND (?9 IS NULL OR o.id < ?9)
         ORDER BY o.id DESC LIMIT ?10"
    );
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(
        params![
            tenant,
            filter.status.map(Status::as_str),
            filter.seller_id,
            filter.customer_id,
            filter.from,
            filter.to,
            number,
            words,
            cursor.after_id()?,
            cursor.fetch()
        ],
        row,
    )?;
    let mut rows = rows.collect::<Result<Vec<_>, _>>()?;
    for o in rows.iter_mut().take(cursor.limit as usize) {
        fill(c, o)?;
    }
    Ok(cursor.finish(rows, |o| o.id.to_string()))
}

struct Line {
    product: products::Product,
    quantity: i64,
    total: i64,
}

/// Creates a pending order: resolves the products, snapshots them, computes exact totals,
/// numbers it and assigns a seller. Run it inside `Db::write`; on `Err` nothing of it
/// was written (it runs in its own savepoint), so the caller may record the failure and
/// commit.
pub fn create(
    c: &Connection,
    tenant: TenantId,
    new: NewOrder,
    actor: &str,
) -> Result<Order, ShopError> {
    super::atomic(c, |c| create_in(c, tenant, new, actor))
}

fn create_in(
    c: &Connection,
    tenant: TenantId,
    new: NewOrder,
    actor: &str,
) -> Result<Order, ShopError> {
    let mut errs = new.check();
    if new.items.is_empty() {
        errs.push(FieldError::new("items", "needs at least one item"));
    }
    if !errs.is_empty() {
        return Err(ShopError::Invalid(errs));
    }
    if super::customers::get(c, tenant, new.customer_id)?.is_none() {
        errs.push(FieldError::new("customer_id", "no such customer"));
    }
    let seller = match new.seller_id {
        Some(id) => match sellers::get(c, tenant, id)? {
            Some(s) if s.active => Some(id),
            Some(_) => {
                errs.push(FieldError::new("seller_id", "the seller is not active"));
                None
            }
            None => {
                errs.push(FieldError::new("seller_id", "no such seller"));
                None
            }
        },
        None => None,
    };

    let mut lines: Vec<Line> = vec![];
    for (i, it) in new.items.iter().enumerate() {
        let found = match (it.product_id, it.sku.as_deref()) {
            (Some(id), _) => products::get(c, tenant, id)?,
            (None, Some(sku)) => products::by_sku(c, tenant, sku)?,
            (None, None) => None,
        };
        let field = if it.product_id.is_some() {
            format!("items[{i}].product_id")
        } else {
            format!("items[{i}].sku")
        };
        let Some(p) = found else {
            errs.push(FieldError::new(field, "no such product"));
            continue;
        };
        if !p.active {
            errs.push(FieldError::new(field, format!("{} is not for sale", p.sku)));
            continue;
        }
        if let Some(first) = lines.first() {
            if first.product.currency != p.currency {
                errs.push(FieldError::new(
                    field,
                    format!(
                        "is priced in {}, the order in {}",
                        p.currency, first.product.currency
                    ),
                ));
                continue;
            }
        }
        let Some(total) = p.price_minor.checked_mul(it.quantity) else {
            errs.push(FieldError::new(
                format!("items[{i}].quantity"),
                "is too large",
            ));
            continue;
        };
        lines.push(Line {
            product: p,
            quantity: it.quantity,
            total,
        });
    }
    if !errs.is_empty() {
        return Err(ShopError::Invalid(errs));
    }

    let subtotal = lines
        .iter()
        .try_fold(0i64, |acc, l| acc.checked_add(l.total))
        .ok_or_else(|| ShopError::field("items", "the subtotal is too large"))?;
    if new.discount_minor > subtotal {
        return Err(ShopError::field(
            "discount_minor",
            format!("must not exceed the subtotal ({subtotal})"),
        ));
    }
    let total = (subtotal - new.discount_minor)
        .checked_add(new.shipping_minor)
        .ok_or_else(|| ShopError::field("shipping_minor", "the total is too large"))?;

    // Tell the buyer now if there is not enough; stock is only taken on confirm.
    for (id, (qty, l)) in per_product(lines.iter().map(|l| (l.product.id, l.quantity, l))) {
        if let Some(available) = l.product.stock {
            if available < qty {
                return Err(ShopError::InsufficientStock {
                    product_id: id.to_string(),
                    sku: l.product.sku.clone(),
                    name: l.product.name.clone(),
                    requested: qty,
                    available,
                });
            }
        }
    }

    let seller = match seller {
        Some(s) => Some(s),
        None => sellers::next_round_robin(c, tenant)?,
    };
    let number: i64 = c
        .prepare_cached(
            "INSERT INTO shop_counters (tenant_id, last_order_number) VALUES (?1, 1001)
             ON CONFLICT (tenant_id) DO UPDATE SET last_order_number = last_order_number + 1
             RETURNING last_order_number",
        )?
        .query_row([tenant], |r| r.get(0))?;
    let id = OrderId::new();
    let now = now_text();
    let currency = lines
        .first()
        .map(|l| l.product.currency.clone())
        .unwrap_or_default();
    c.prepare_cached(
        "INSERT INTO orders (id, tenant_id, number, customer_id, seller_id, status, currency,
                             subtotal_minor, discount_minor, shipping_minor, total_minor, source,
                             notes, created_by, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, 'pending', ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?14)",
    )?
    .execute(params![
        id,
        tenant,
        number,
        new.customer_id,
        seller,
        currency,
        subtotal,
        new.discount_minor,
        new.shipping_minor,
        total,
        new.source.as_str(),
        new.notes,
        actor,
        now
    ])?;
    let mut st = c.prepare_cached(
        "INSERT INTO order_items (order_id, product_id, sku, name, unit_price_minor, quantity, line_total_minor)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for l in &lines {
        st.execute(params![
            id,
            l.product.id,
            l.product.sku,
            l.product.name,
            l.product.price_minor,
            l.quantity,
            l.total
        ])?;
    }
    history(c, id, None, Status::Pending, actor, "", &now)?;
    audit::record(
        c,
        tenant,
        actor,
        "create",
        "order",
        Some(&id.to_string()),
        json!({"after": {"number": number, "status": "pending", "total_minor": total,
                         "currency": currency, "items": lines.len(), "seller_id": seller}}),
    )?;
    let order = get(c, tenant, id)?.ok_or(ShopError::NotFound("order"))?;
    crate::analytics::record(
        c,
        &crate::analytics::Event::new(
            tenant,
            crate::analytics::EventKind::OrderCreated {
                total_minor: order.total_minor,
                currency: order.currency.clone(),
            },
        )
        .data(json!({"order_id": order.id, "number": order.number, "source": order.source})),
    )?;
    Ok(order)
}

/// Sums quantities per product, keeping the first line of each for names.
fn per_product<'a, T>(
    lines: impl Iterator<Item = (ProductId, i64, &'a T)>,
) -> BTreeMap<ProductId, (i64, &'a T)> {
    let mut m: BTreeMap<ProductId, (i64, &'a T)> = BTreeMap::new();
    for (id, qty, l) in lines {
        m.entry(id).or_insert((0, l)).0 += qty;
    }
    m
}

fn history(
    c: &Connection,
    id: OrderId,
    from: Option<Status>,
    to: Status,
    actor: &str,
    note: &str,
    at: &str,
) -> Result<(), ShopError> {
    c.prepare_cached(
        "INSERT INTO order_status_history (order_id, from_status, to_status, actor, note, at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        from.map(Status::as_str),
        to.as_str(),
        actor,
        note,
        at
    ])?;
    Ok(())
}

/// Moves an order to `to`. Confirming takes the items' stock, cancelling a confirmed
/// (paid, shipped) order gives it back, in the caller's transaction. An illegal move is
/// [`ShopError::IllegalTransition`] with the allowed ones; too little stock is
/// [`ShopError::InsufficientStock`]; on any `Err` nothing of it was written.
pub fn set_status(
    c: &Connection,
    tenant: TenantId,
    id: OrderId,
    to: Status,
    actor: &str,
    note: &str,
) -> Result<Order, ShopError> {
    super::atomic(c, |c| set_status_in(c, tenant, id, to, actor, note))
}

fn set_status_in(
    c: &Connection,
    tenant: TenantId,
    id: OrderId,
    to: Status,
    actor: &str,
    note: &str,
) -> Result<Order, ShopError> {
    let order = get(c, tenant, id)?.ok_or(ShopError::NotFound("order"))?;
    let from = order.status;
    if !from.allowed().contains(&to) {
        return Err(ShopError::IllegalTransition {
            from: from.as_str(),
            to: to.as_str(),
            allowed: from.allowed().iter().map(|s| s.as_str()).collect(),
        });
    }
    let held = order
        .items
        .iter()
        .filter_map(|i| i.product_id.map(|p| (p, i.quantity, i)));
    if to.holds_stock() && !from.holds_stock() {
        for (pid, (qty, item)) in per_product(held) {
            products::take_stock(c, tenant, pid, &item.sku, &item.name, qty)?;
        }
    } else if from.holds_stock() && !to.holds_stock() {
        for (pid, (qty, _)) in per_product(held) {
            products::return_stock(c, tenant, pid, qty)?;
        }
    }
    let now = now_text();
    c.prepare_cached(
        "UPDATE orders SET status = ?3, updated_at = ?4 WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![tenant, id, to.as_str(), now])?;
    history(c, id, Some(from), to, actor, note.trim(), &now)?;
    audit::record(
        c,
        tenant,
        actor,
        "status",
        "order",
        Some(&id.to_string()),
        json!({"before": {"status": from}, "after": {"status": to}, "number": order.number}),
    )?;
    if to == Status::Cancelled {
        crate::analytics::record(
            c,
            &crate::analytics::Event::new(tenant, crate::analytics::EventKind::OrderCancelled)
                .data(json!({"order_id": id, "number": order.number})),
        )?;
    }
    get(c, tenant, id)?.ok_or(ShopError::NotFound("order"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_non_final_state_may_cancel_and_final_states_go_nowhere() {
        for s in Status::ALL {
            let finals = matches!(s, Status::Delivered | Status::Cancelled);
            assert_eq!(s.allowed().is_empty(), finals, "{s:?}");
            assert_eq!(s.allowed().contains(&Status::Cancelled), !finals, "{s:?}");
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
    }

    #[test]
    fn stock_is_held_from_confirm_until_cancel() {
        let held: Vec<Status> = Status::ALL
            .into_iter()
            .filter(|s| s.holds_stock())
            .collect();
        assert_eq!(
            held,
            [
                Status::Confirmed,
                Status::Paid,
                Status::Shipped,
                Status::Delivered
            ]
        );
    }
}
