//! CSV import and export of products and customers (owners arrive with spreadsheets).
//!
//! An import is all-or-nothing: every row is checked first, and any bad cell fails the
//! whole file with errors that name the line and the column. Prices are decimal text
//! ("45.90") read exactly; existing SKUs / phones are updated, new ones created.

use std::collections::HashMap;

use rusqlite::Connection;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::customers::{self, CustomerDraft};
use super::products::{self, ProductDraft};
use super::text::{format_decimal, parse_decimal};
use super::{tenant_defaults, ShopError};
use crate::audit;
use crate::error::FieldError;
use crate::ids::TenantId;
use crate::money;

pub const PRODUCT_COLUMNS: &[&str] = &[
    "sku",
    "name",
    "description",
    "price",
    "currency",
    "stock",
    "category",
    "tags",
    "images",
    "active",
];
pub const CUSTOMER_COLUMNS: &[&str] = &["phone", "name", "email", "tags", "notes", "opted_out"];
const MAX_REPORTED: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub struct ImportSummary {
    pub created: usize,
    pub updated: usize,
}

/// A spreadsheet's rows keyed by column name, with their line numbers.
struct Sheet {
    header: Vec<String>,
    rows: Vec<(u64, Vec<String>)>,
}

struct Report(Vec<FieldError>);

impl Report {
    fn at(&mut self, line: u64, col: usize, name: &str, msg: impl std::fmt::Display) {
        if self.0.len() < MAX_REPORTED {
            self.0.push(FieldError::new(
                format!("line {line}, column {} ({name})", col + 1),
                msg.to_string(),
            ));
        }
    }
}

fn read_sheet(
    data: &[u8],
    known: &[&str],
    required: &[&str],
    report: &mut Report,
) -> Option<Sheet> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    // Spreadsheets in Spanish locales save with ';'.
    let first_line = data.split(|b| *b == b'\n').next().unwrap_or(&[]);
    let delimiter = if first_line.contains(&b';') && !first_line.contains(&b',') {
        b';'
    } else {
        b','
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .trim(csv::Trim::All)
        .from_reader(data);
    let header: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.to_ascii_lowercase()).collect(),
        Err(e) => {
            report.at(1, 0, "header", format!("cannot read the header: {e}"));
            return None;
        }
    };
    for (i, h) in header.iter().enumerate() {
        if !known.contains(&h.as_str()) {
            report.at(
                1,
                i,
                h,
                format!("unknown column; known: {}", known.join(", ")),
            );
        }
        if header[..i].contains(h) {
            report.at(1, i, h, "column appears twice");
        }
    }
    for r in required {
        if !header.iter().any(|h| h == r) {
            report.at(1, header.len(), r, "required column is missing");
        }
    }
    let mut rows = vec![];
    for rec in rdr.records() {
        match rec {
            Ok(rec) => {
                let line = rec.position().map(|p| p.line()).unwrap_or(0);
                if rec.iter().all(|f| f.is_empty()) {
                    continue;
                }
                rows.push((line, rec.iter().map(str::to_string).collect()));
            }
            Err(e) => {
                let line = e.position().map(|p| p.line()).unwrap_or(0);
                let col = match e.kind() {
                    // The first missing column of a short row, the first extra of a long one.
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => (*len).min(*expected_len) as usize,
                    csv::ErrorKind::Utf8 { err, .. } => err.field(),
                    _ => 0,
                };
                let name = header.get(col).map(String::as_str).unwrap_or("extra");
                let msg = match e.kind() {
                    csv::ErrorKind::UnequalLengths {
                        expected_len, len, ..
                    } => {
                        format!("has {len} fields, the header has {expected_len}")
                    }
                    _ => e.to_string(),
                };
                report.at(line, col, name, msg);
            }
        }
    }
    if report.0.is_empty() {
        Some(Sheet { header, rows })
    } else {
        None
    }
}

fn cell<'a>(sheet: &Sheet, row: &'a [String], name: &str) -> Option<&'a str> {
    let i = sheet.header.iter().position(|h| h == name)?;
    row.get(i).map(String::as_str)
}

fn col_of(sheet: &Sheet, name: &str) -> usize {
    sheet
        .header
        .iter()
        .position(|h| h == name)
        .unwrap_or(sheet.header.len())
}

fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_lowercase().as_str() {
        "true" | "1" | "yes" | "y" | "si" | "sí" | "x" => Some(true),
        "false" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

fn split_list(s: &str) -> Vec<String> {
    s.split('|').map(|t| t.trim().to_string()).collect()
}

/// Imports products from CSV in the caller's transaction. All rows or none.
pub fn import_products(
    c: &Connection,
    tenant: TenantId,
    data: &[u8],
    actor: &str,
) -> Result<ImportSummary, ShopError> {
    super::atomic(c, |c| import_products_in(c, tenant, data, actor))
}

fn import_products_in(
    c: &Connection,
    tenant: TenantId,
    data: &[u8],
    actor: &str,
) -> Result<ImportSummary, ShopError> {
    let defaults = tenant_defaults(c, tenant)?;
    let mut report = Report(vec![]);
    let Some(sheet) = read_sheet(
        data,
        PRODUCT_COLUMNS,
        &["sku", "name", "price"],
        &mut report,
    ) else {
        return Err(ShopError::Invalid(report.0));
    };
    let mut inputs = vec![];
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (line, row) in &sheet.rows {
        let line = *line;
        let get = |n: &str| cell(&sheet, row, n).filter(|v| !v.is_empty());
        let currency = get("currency")
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_else(|| defaults.currency.clone());
        let mut draft = ProductDraft {
            sku: get("sku").map(str::to_string),
            name: get("name").map(str::to_string),
            description: get("description").map(str::to_string),
            currency: Some(currency.clone()),
            category: get("category").map(str::to_string),
            tags: get("tags").map(split_list),
            images: get("images").map(split_list),
            ..Default::default()
        };
        let price_col = col_of(&sheet, "price");
        let mut price_reported = true;
        match get("price").map(|p| parse_decimal(p, money::exponent(&currency))) {
            Some(Ok(minor)) => {
                draft.price_minor = Some(minor);
                price_reported = false;
            }
            Some(Err(m)) => report.at(line, price_col, "price", m),
            None => report.at(line, price_col, "price", "is required"),
        }
        match get("stock").map(|s| s.parse::<i64>()) {
            Some(Ok(n)) => draft.stock = Some(Some(n)),
            Some(Err(_)) => report.at(
                line,
                col_of(&sheet, "stock"),
                "stock",
                "must be a whole number (empty = unlimited)",
            ),
            None => draft.stock = Some(None),
        }
        match get("active").map(parse_bool) {
            Some(Some(b)) => draft.active = Some(b),
            Some(None) => report.at(
                line,
                col_of(&sheet, "active"),
                "active",
                "must be true or false",
            ),
            None => {}
        }
        match draft.validate(&defaults) {
            Ok(p) => {
                if let Some(first) = seen.insert(p.sku.clone(), line) {
                    report.at(
                        line,
                        col_of(&sheet, "sku"),
                        "sku",
                        format!("{} already appears on line {first}", p.sku),
                    );
                }
                inputs.push(p);
            }
            Err(errs) => {
                for e in errs {
                    let name = if e.field == "price_minor" {
                        "price"
                    } else {
                        e.field.as_str()
                    };
                    if name != "price" || !price_reported {
                        report.at(line, col_of(&sheet, name), name, &e.message);
                    }
                }
            }
        }
    }
    if !report.0.is_empty() {
        return Err(ShopError::Invalid(report.0));
    }
    let mut summary = ImportSummary {
        created: 0,
        updated: 0,
    };
    for p in &inputs {
        match products::by_sku(c, tenant, &p.sku)? {
            Some(existing) => {
                products::update(c, tenant, existing.id, p, actor)?;
                summary.updated += 1;
            }
            None => {
                products::create(c, tenant, p, actor)?;
                summary.created += 1;
            }
        }
    }
    audit::record(
        c,
        tenant,
        actor,
        "import",
        "product",
        None,
        json!({"created": summary.created, "updated": summary.updated}),
    )?;
    Ok(summary)
}

/// Imports customers from CSV in the caller's transaction, keyed by phone. All or none.
pub fn import_customers(
    c: &Connection,
    tenant: TenantId,
    data: &[u8],
    actor: &str,
) -> Result<ImportSummary, ShopError> {
    super::atomic(c, |c| import_customers_in(c, tenant, data, actor))
}

fn import_customers_in(
    c: &Connection,
    tenant: TenantId,
    data: &[u8],
    actor: &str,
) -> Result<ImportSummary, ShopError> {
    let defaults = tenant_defaults(c, tenant)?;
    let mut report = Report(vec![]);
    let Some(sheet) = read_sheet(data, CUSTOMER_COLUMNS, &["phone"], &mut report) else {
        return Err(ShopError::Invalid(report.0));
    };
    let mut inputs = vec![];
    let mut seen: HashMap<String, u64> = HashMap::new();
    for (line, row) in &sheet.rows {
        let line = *line;
        let get = |n: &str| cell(&sheet, row, n).filter(|v| !v.is_empty());
        let mut draft = CustomerDraft {
            phone: get("phone").map(str::to_string),
            name: get("name").map(str::to_string),
            email: Some(get("email").map(str::to_string)),
            tags: get("tags").map(split_list),
            notes: get("notes").map(str::to_string),
            ..Default::default()
        };
        match get("opted_out").map(parse_bool) {
            Some(Some(b)) => draft.opted_out = Some(b),
            Some(None) => report.at(
                line,
                col_of(&sheet, "opted_out"),
                "opted_out",
                "must be true or false",
            ),
            None => {}
        }
        match draft.validate(&defaults) {
            Ok(k) => {
                if let Some(first) = seen.insert(k.phone.clone(), line) {
                    report.at(
                        line,
                        col_of(&sheet, "phone"),
                        "phone",
                        format!("{} already appears on line {first}", k.phone),
                    );
                }
                inputs.push(k);
            }
            Err(errs) => {
                for e in errs {
                    report.at(line, col_of(&sheet, &e.field), &e.field, &e.message);
                }
            }
        }
    }
    if !report.0.is_empty() {
        return Err(ShopError::Invalid(report.0));
    }
    let mut summary = ImportSummary {
        created: 0,
        updated: 0,
    };
    for k in &inputs {
        match customers::by_phone(c, tenant, &k.phone)? {
            Some(existing) => {
                customers::update(c, tenant, existing.id, k, actor)?;
                summary.updated += 1;
            }
            None => {
                customers::create(c, tenant, k, actor)?;
                summary.created += 1;
            }
        }
    }
    audit::record(
        c,
        tenant,
        actor,
        "import",
        "customer",
        None,
        json!({"created": summary.created, "updated": summary.updated}),
    )?;
    Ok(summary)
}

fn finish(w: csv::Writer<Vec<u8>>) -> Result<Vec<u8>, ShopError> {
    w.into_inner()
        .map_err(|e| ShopError::Db(crate::store::DbError::Other(e.to_string())))
}

fn csv_err(e: csv::Error) -> ShopError {
    ShopError::Db(crate::store::DbError::Other(e.to_string()))
}

/// All the tenant's products as CSV, in the import's format.
pub fn export_products(c: &Connection, tenant: TenantId) -> Result<Vec<u8>, ShopError> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(PRODUCT_COLUMNS).map_err(csv_err)?;
    for p in products::all(c, tenant)? {
        w.write_record([
            p.sku.as_str(),
            &p.name,
            &p.description,
            &format_decimal(p.price_minor, money::exponent(&p.currency)),
            &p.currency,
            &p.stock.map(|s| s.to_string()).unwrap_or_default(),
            &p.category,
            &p.tags.join("|"),
            &p.images.join("|"),
            if p.active { "true" } else { "false" },
        ])
        .map_err(csv_err)?;
    }
    finish(w)
}

/// All the tenant's customers as CSV, in the import's format.
pub fn export_customers(c: &Connection, tenant: TenantId) -> Result<Vec<u8>, ShopError> {
    let mut w = csv::Writer::from_writer(vec![]);
    w.write_record(CUSTOMER_COLUMNS).map_err(csv_err)?;
    for k in customers::all(c, tenant)? {
        w.write_record([
            k.phone.as_str(),
            &k.name,
            k.email.as_deref().unwrap_or(""),
            &k.tags.join("|"),
            &k.notes,
            if k.opted_out { "true" } else { "false" },
        ])
        .map_err(csv_err)?;
    }
    finish(w)
}
