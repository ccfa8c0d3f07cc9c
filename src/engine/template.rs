//! Templates and expressions: one minijinja environment for every flow, with the shop's
//! filters (`money`, `date`; `upper`, `lower` and the rest come built in).

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::format::{Item, StrftimeItems};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, ErrorKind, State, Value};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

impl From<minijinja::Error> for TemplateError {
    fn from(e: minijinja::Error) -> Self {
        let mut msg = e.kind().to_string();
        if let Some(d) = e.detail() {
            msg.push_str(": ");
            msg.push_str(d);
        }
        if let Some(line) = e.line() {
            msg.push_str(&format!(" (line {line})"));
        }
        TemplateError(msg)
    }
}

/// Names a template may read without any node setting them.
pub const GLOBALS: &[&str] = &[
    "contact",
    "cart",
    "cart_total",
    "cart_count",
    "currency",
    "now",
    "tz",
    "input",
    // minijinja globals and loop helpers
    "range",
    "dict",
    "namespace",
    "debug",
    "loop",
    "true",
    "false",
    "none",
];

fn env() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Environment::new();
        env.set_recursion_limit(50);
        env.add_filter("money", money_filter);
        env.add_filter("date", date_filter);
        env
    })
}

/// minijinja 2.24's lexer can panic on some malformed input (found by fuzzing, e.g.
/// `" }}{{ "`): a flow author's typo must be a validation error, never a crashed request.
fn guarded<T>(f: impl FnOnce() -> Result<T, TemplateError>) -> Result<T, TemplateError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(TemplateError(
            "the template engine cannot read this text (check {{ }} and {% %} pairs)".into(),
        ))
    })
}

/// Render a template against a JSON context.
pub fn render(source: &str, ctx: &serde_json::Value) -> Result<String, TemplateError> {
    if !source.contains("{{") && !source.contains("{%") && !source.contains("{#") {
        return Ok(source.to_string());
    }
    guarded(|| Ok(env().render_str(source, ctx)?))
}

/// Evaluate an expression to a JSON value.
pub fn eval(expr: &str, ctx: &serde_json::Value) -> Result<serde_json::Value, TemplateError> {
    guarded(|| {
        let compiled = env().compile_expression(expr)?;
        let value = compiled.eval(ctx)?;
        if value.is_undefined() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::to_value(&value).map_err(|e| TemplateError(e.to_string()))
    })
}

/// Evaluate an expression as a condition.
pub fn truthy(expr: &str, ctx: &serde_json::Value) -> Result<bool, TemplateError> {
    guarded(|| {
        let compiled = env().compile_expression(expr)?;
        Ok(compiled.eval(ctx)?.is_true())
    })
}

/// Check a template's syntax; returns the top-level names it reads.
pub fn check_template(source: &str) -> Result<HashSet<String>, TemplateError> {
    guarded(|| {
        let t = env().template_from_str(source)?;
        Ok(t.undeclared_variables(false))
    })
}

/// Check an expression's syntax; returns the top-level names it reads.
pub fn check_expression(expr: &str) -> Result<HashSet<String>, TemplateError> {
    guarded(|| {
        let e = env().compile_expression(expr)?;
        Ok(e.undeclared_variables(false))
    })
}

/// Symbol, decimals and separators (thousands, decimal) of a currency as shops write it.
fn currency_style(currency: &str) -> (&'static str, u32, char, char) {
    match currency.to_ascii_uppercase().as_str() {
        "PEN" => ("S/", 2, ',', '.'),
        "USD" => ("US$", 2, ',', '.'),
        "MXN" => ("$", 2, ',', '.'),
        "GTQ" => ("Q", 2, ',', '.'),
        "BOB" => ("Bs", 2, '.', ','),
        "ARS" => ("$", 2, '.', ','),
        "COP" => ("$", 2, '.', ','),
        "UYU" => ("$", 2, '.', ','),
        "CLP" => ("$", 0, '.', ','),
        "PYG" => ("₲", 0, '.', ','),
        "BRL" => ("R$", 2, '.', ','),
        "EUR" => ("€", 2, '.', ','),
        _ => ("", 2, ',', '.'),
    }
}

/// 4590 PEN -> "S/ 45.90"; 1234500 CLP -> "$ 1.234.500".
pub fn format_money(minor: i64, currency: &str) -> String {
    let (symbol, decimals, thousands, decimal) = currency_style(currency);
    let negative = minor < 0;
    let abs = minor.unsigned_abs();
    let scale = 10u64.pow(decimals);
    let (units, cents) = (abs / scale, abs % scale);
    let digits = units.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(thousands);
        }
        grouped.push(ch);
    }
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if symbol.is_empty() {
        out.push_str(&currency.to_ascii_uppercase());
    } else {
        out.push_str(symbol);
    }
    out.push(' ');
    out.push_str(&grouped);
    if decimals > 0 {
        out.push(decimal);
        out.push_str(&format!("{:0width$}", cents, width = decimals as usize));
    }
    out
}

fn money_filter(
    state: &State,
    value: Value,
    currency: Option<String>,
) -> Result<String, minijinja::Error> {
    let minor = if let Some(i) = value.as_i64() {
        i
    } else if let Ok(f) = f64::try_from(value.clone()) {
        f.round() as i64
    } else if let Some(s) = value.as_str().and_then(|s| s.trim().parse::<i64>().ok()) {
        s
    } else {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            "money expects an amount in minor units",
        ));
    };
    let currency = currency
        .or_else(|| {
            state
                .lookup("currency")
                .and_then(|v| v.as_str().map(str::to_string))
        })
        .unwrap_or_else(|| "PEN".to_string());
    Ok(format_money(minor, &currency))
}

fn date_filter(
    state: &State,
    value: Value,
    format: Option<String>,
) -> Result<String, minijinja::Error> {
    let format = format.unwrap_or_else(|| "%d/%m/%Y".to_string());
    if StrftimeItems::new(&format).any(|i| matches!(i, Item::Error)) {
        return Err(minijinja::Error::new(
            ErrorKind::InvalidOperation,
            format!("bad date format {format:?}"),
        ));
    }
    let text = value
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| value.to_string());
    if let Ok(dt) = DateTime::parse_from_rfc3339(&text) {
        let tz: Tz = state
            .lookup("tz")
            .and_then(|v| v.as_str().and_then(|s| s.parse().ok()))
            .unwrap_or(chrono_tz::UTC);
        return write_date(dt.with_timezone(&Utc).with_timezone(&tz).format(&format));
    }
    if let Ok(d) = NaiveDate::parse_from_str(&text, "%Y-%m-%d") {
        return write_date(d.format(&format));
    }
    Err(minijinja::Error::new(
        ErrorKind::InvalidOperation,
        format!("date expects an ISO date or RFC 3339 time, got {text:?}"),
    ))
}

/// Format without panicking: a date has no hours, so "%H" on one is an error, not a crash.
fn write_date(f: impl std::fmt::Display) -> Result<String, minijinja::Error> {
    use std::fmt::Write;
    let mut out = String::new();
    write!(out, "{f}").map_err(|_| {
        minijinja::Error::new(ErrorKind::InvalidOperation, "format does not fit a date")
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money_formats_minor_units_with_the_currency_symbol() {
        assert_eq!(format_money(4590, "PEN"), "S/ 45.90");
        assert_eq!(format_money(123456789, "PEN"), "S/ 1,234,567.89");
        assert_eq!(format_money(1234500, "CLP"), "$ 1.234.500");
        assert_eq!(format_money(-5, "EUR"), "-€ 0,05");
        assert_eq!(format_money(100, "xyz"), "XYZ 1.00");
    }

    #[test]
    fn money_filter_uses_the_argument_or_the_context_currency() {
        let ctx = json!({"total": 4590, "currency": "USD"});
        assert_eq!(render("{{ total | money }}", &ctx).unwrap(), "US$ 45.90");
        assert_eq!(
            render("{{ total | money('PEN') }}", &ctx).unwrap(),
            "S/ 45.90"
        );
    }

    #[test]
    fn date_filter_formats_iso_dates_and_times_in_the_tenant_zone() {
        let ctx = json!({"d": "2026-03-05", "t": "2026-03-05T03:00:00Z", "tz": "America/Lima"});
        assert_eq!(render("{{ d | date }}", &ctx).unwrap(), "05/03/2026");
        assert_eq!(
            render("{{ t | date('%d/%m %H:%M') }}", &ctx).unwrap(),
            "04/03 22:00"
        );
        assert!(render("{{ 'ayer' | date }}", &ctx).is_err());
        assert!(render("{{ d | date('%H:%M') }}", &ctx).is_err());
    }

    #[test]
    fn upper_and_lower_are_available() {
        let ctx = json!({"n": "Ana"});
        assert_eq!(
            render("{{ n | upper }} {{ n | lower }}", &ctx).unwrap(),
            "ANA ana"
        );
    }

    #[test]
    fn expressions_evaluate_conditions_over_variables() {
        let ctx = json!({"cart_total": 6000, "city": "Lima"});
        assert!(truthy("cart_total > 5000 and city == \"Lima\"", &ctx).unwrap());
        assert!(!truthy("cart_total > 9000", &ctx).unwrap());
        assert_eq!(eval("cart_total // 100", &ctx).unwrap(), json!(60));
    }

    #[test]
    fn syntax_errors_are_reported_and_read_variables_listed() {
        assert!(check_template("Hola {{ nombre").is_err());
        assert!(check_expression("a >").is_err());
        let vars = check_template("Hola {{ contact.name }} {{ nombre | upper }}").unwrap();
        assert!(vars.contains("contact") && vars.contains("nombre"));
    }
}
