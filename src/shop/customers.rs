//! Customers: WhatsApp contacts of a tenant, one per E.164 phone number.

use rusqlite::{params, Connection, OptionalExtension, Row};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::products::some_option;
use super::text::{clean_list, fts_query, list_from_json, list_to_json, normalize_phone};
use super::{Cursor, Page, ShopError, TenantDefaults};
use crate::audit;
use crate::error::FieldError;
use crate::ids::{now_text, CustomerId, TenantId};

#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Customer {
    pub id: CustomerId,
    /// E.164, e.g. "+51987654321".
    pub phone: String,
    pub name: String,
    pub email: Option<String>,
    pub tags: Vec<String>,
    pub notes: String,
    /// The customer asked not to receive messages.
    pub opted_out: bool,
    pub created_at: String,
    pub updated_at: String,
}

/// A customer as a client sends it; on update, absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerDraft {
    /// Any common notation; national numbers are read with the tenant's country.
    pub phone: Option<String>,
    pub name: Option<String>,
    #[serde(default, deserialize_with = "some_option")]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    pub tags: Option<Vec<String>>,
    pub notes: Option<String>,
    pub opted_out: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CustomerInput {
    pub phone: String,
    pub name: String,
    pub email: Option<String>,
    pub tags: Vec<String>,
    pub notes: String,
    pub opted_out: bool,
}

impl CustomerDraft {
    pub fn over(self, c: &Customer) -> CustomerDraft {
        CustomerDraft {
            phone: self.phone.or_else(|| Some(c.phone.clone())),
            name: self.name.or_else(|| Some(c.name.clone())),
            email: self.email.or_else(|| Some(c.email.clone())),
            tags: self.tags.or_else(|| Some(c.tags.clone())),
            notes: self.notes.or_else(|| Some(c.notes.clone())),
            opted_out: self.opted_out.or(Some(c.opted_out)),
        }
    }

    pub fn validate(self, defaults: &TenantDefaults) -> Result<CustomerInput, Vec<FieldError>> {
        let mut errs = vec![];
        let phone = match normalize_phone(self.phone.as_deref().unwrap_or(""), &defaults.country) {
            Ok(p) => p,
            Err(m) => {
                errs.push(FieldError::new("phone", m));
                String::new()
            }
        };
        let name = self.name.unwrap_or_default().trim().to_string();
        if name.chars().count() > 200 {
            errs.push(FieldError::new("name", "must be at most 200 characters"));
        }
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
        let tags = clean_list(&self.tags.unwrap_or_default());
        if tags.len() > 50 || tags.iter().any(|t| t.chars().count() > 50) {
            errs.push(FieldError::new(
                "tags",
                "at most 50 tags of at most 50 characters",
            ));
        }
        let notes = self.notes.unwrap_or_default().trim().to_string();
        if notes.chars().count() > 5000 {
            errs.push(FieldError::new("notes", "must be at most 5000 characters"));
        }
        if !errs.is_empty() {
            return Err(errs);
        }
        Ok(CustomerInput {
            phone,
            name,
            email,
            tags,
            notes,
            opted_out: self.opted_out.unwrap_or(false),
        })
    }
}

#[derive(Debug, Clone, Default)]
pub struct CustomerFilter {
    pub opted_out: Option<bool>,
    pub tag: Option<String>,
    /// Words in name, phone, e-mail, tags or notes (accents ignored).
    pub q: Option<String>,
}

const COLS: &str = "k.id, k.phone, k.name, k.email, k.tags, k.notes, k.opted_out, k.created_at, \
                    k.updated_at, k.seq";

fn row(r: &Row) -> rusqlite::Result<Customer> {
    let tags: String = r.get(4)?;
    Ok(Customer {
        id: r.get(0)?,
        phone: r.get(1)?,
        name: r.get(2)?,
        email: r.get(3)?,
        tags: list_from_json(&tags),
        notes: r.get(5)?,
        opted_out: r.get(6)?,
        created_at: r.get(7)?,
        updated_at: r.get(8)?,
    })
}

pub fn get(
    c: &Connection,
    tenant: TenantId,
    id: CustomerId,
) -> Result<Option<Customer>, ShopError> {
    let sql = format!("SELECT {COLS} FROM customers k WHERE k.tenant_id = ?1 AND k.id = ?2");
    Ok(c.prepare_cached(&sql)?
        .query_row(params![tenant, id], row)
        .optional()?)
}

/// By E.164 phone (already normalised).
pub fn by_phone(
    c: &Connection,
    tenant: TenantId,
    phone: &str,
) -> Result<Option<Customer>, ShopError> {
    let sql = format!("SELECT {COLS} FROM customers k WHERE k.tenant_id = ?1 AND k.phone = ?2");
    Ok(c.prepare_cached(&sql)?
        .query_row(params![tenant, phone], row)
        .optional()?)
}

pub fn list(
    c: &Connection,
    tenant: TenantId,
    filter: &CustomerFilter,
    cursor: &Cursor,
) -> Result<Page<Customer>, ShopError> {
    let after = cursor.after_seq()?;
    let conditions = "k.tenant_id = ?1
        AND (?2 IS NULL OR k.opted_out = ?2)
        AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(k.tags) WHERE value = ?3))";
    let q = filter.q.as_deref().and_then(fts_query);
    let sql = if q.is_some() {
        format!(
            "SELECT {COLS} FROM customers_fts f CROSS JOIN customers k ON k.seq = f.rowid
             WHERE customers_fts MATCH ?5 AND (?4 IS NULL OR f.rowid < ?4) AND {conditions}
             ORDER BY f.rowid DESC LIMIT ?6"
        )
    } else {
        format!(
            "SELECT {COLS} FROM customers k WHERE ?5 IS NULL AND (?4 IS NULL OR k.seq < ?4)
             AND {conditions} ORDER BY k.seq DESC LIMIT ?6"
        )
    };
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map(
        params![
            tenant,
            filter.opted_out,
            filter.tag.as_deref().map(str::trim),
            after,
            q,
            cursor.fetch()
        ],
        |r| Ok((r.get::<_, i64>(9)?, row(r)?)),
    )?;
    let rows = rows.collect::<Result<Vec<_>, _>>()?;
    Ok(cursor.finish_seq(rows))
}

pub fn all(c: &Connection, tenant: TenantId) -> Result<Vec<Customer>, ShopError> {
    let sql = format!("SELECT {COLS} FROM customers k WHERE k.tenant_id = ?1 ORDER BY k.seq");
    let mut st = c.prepare_cached(&sql)?;
    let rows = st.query_map([tenant], row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn summary(k: &Customer) -> serde_json::Value {
    json!({"phone": k.phone, "name": k.name, "email": k.email, "tags": k.tags, "opted_out": k.opted_out})
}

fn unique_phone(e: rusqlite::Error, phone: &str) -> ShopError {
    let err = crate::store::DbError::Sqlite(e);
    if crate::auth::store::is_unique_violation(&err) {
        ShopError::Duplicate {
            field: "phone",
            value: phone.to_string(),
        }
    } else {
        ShopError::Db(err)
    }
}

pub fn create(
    c: &Connection,
    tenant: TenantId,
    k: &CustomerInput,
    actor: &str,
) -> Result<Customer, ShopError> {
    let id = CustomerId::new();
    c.prepare_cached(
        "INSERT INTO customers (id, tenant_id, phone, name, email, tags, notes, opted_out, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
    )?
    .execute(params![
        id,
        tenant,
        k.phone,
        k.name,
        k.email,
        list_to_json(&k.tags),
        k.notes,
        k.opted_out,
        now_text()
    ])
    .map_err(|e| unique_phone(e, &k.phone))?;
    let created = get(c, tenant, id)?.ok_or(ShopError::NotFound("customer"))?;
    audit::record(
        c,
        tenant,
        actor,
        "create",
        "customer",
        Some(&id.to_string()),
        json!({"after": summary(&created)}),
    )?;
    Ok(created)
}

pub fn update(
    c: &Connection,
    tenant: TenantId,
    id: CustomerId,
    k: &CustomerInput,
    actor: &str,
) -> Result<Customer, ShopError> {
    let before = get(c, tenant, id)?.ok_or(ShopError::NotFound("customer"))?;
    c.prepare_cached(
        "UPDATE customers SET phone = ?3, name = ?4, email = ?5, tags = ?6, notes = ?7,
                opted_out = ?8, updated_at = ?9
         WHERE tenant_id = ?1 AND id = ?2",
    )?
    .execute(params![
        tenant,
        id,
        k.phone,
        k.name,
        k.email,
        list_to_json(&k.tags),
        k.notes,
        k.opted_out,
        now_text()
    ])
    .map_err(|e| unique_phone(e, &k.phone))?;
    let after = get(c, tenant, id)?.ok_or(ShopError::NotFound("customer"))?;
    audit::record(
        c,
        tenant,
        actor,
        "update",
        "customer",
        Some(&id.to_string()),
        json!({"before": summary(&before), "after": summary(&after)}),
    )?;
    Ok(after)
}

/// Deletes a customer without orders; one with orders is kept (409).
pub fn delete(
    c: &Connection,
    tenant: TenantId,
    id: CustomerId,
    actor: &str,
) -> Result<(), ShopError> {
    let before = get(c, tenant, id)?.ok_or(ShopError::NotFound("customer"))?;
    let orders: i64 = c
        .prepare_cached("SELECT COUNT(*) FROM orders WHERE tenant_id = ?1 AND customer_id = ?2")?
        .query_row(params![tenant, id], |r| r.get(0))?;
    if orders > 0 {
        return Err(ShopError::InUse(format!(
            "the customer has {orders} order(s) and cannot be deleted; set opted_out instead"
        )));
    }
    c.prepare_cached("DELETE FROM customers WHERE tenant_id = ?1 AND id = ?2")?
        .execute(params![tenant, id])?;
    audit::record(
        c,
        tenant,
        actor,
        "delete",
        "customer",
        Some(&id.to_string()),
        json!({"before": summary(&before)}),
    )?;
    Ok(())
}

/// The customer with this phone (any notation), created with `name` if new. For the
/// conversation glue: an inbound WhatsApp number becomes a customer.
pub fn find_or_create_by_phone(
    c: &Connection,
    tenant: TenantId,
    phone: &str,
    name: &str,
    actor: &str,
) -> Result<Customer, ShopError> {
    let defaults = super::tenant_defaults(c, tenant)?;
    let e164 =
        normalize_phone(phone, &defaults.country).map_err(|m| ShopError::field("phone", m))?;
    if let Some(k) = by_phone(c, tenant, &e164)? {
        return Ok(k);
    }
    let input = CustomerDraft {
        phone: Some(e164),
        name: Some(name.to_string()),
        ..Default::default()
    }
    .validate(&defaults)
    .map_err(ShopError::Invalid)?;
    create(c, tenant, &input, actor)
}
