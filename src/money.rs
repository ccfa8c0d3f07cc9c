//! Money as integer minor units plus an ISO 4217 currency. No floats anywhere.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub minor: i64,
    pub currency: String,
}

/// ISO 4217 codes in use, with their minor-unit exponent.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("DOP", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("GTQ", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("JPY", 0),
    ("KRW", 0),
    ("MXN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PAB", 2),
    ("PEN", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("USD", 2),
    ("UYU", 2),
    ("VES", 2),
    ("ZAR", 2),
];

pub fn is_currency(code: &str) -> bool {
    CURRENCIES.iter().any(|(c, _)| *c == code)
}

/// Digits after the decimal point for `code` (2 when unknown).
pub fn exponent(code: &str) -> u32 {
    CURRENCIES
        .iter()
        .find(|(c, _)| *c == code)
        .map(|(_, e)| *e)
        .unwrap_or(2)
}

pub fn symbol(code: &str) -> &str {
    match code {
        "PEN" => "S/",
        "USD" | "MXN" | "ARS" | "CLP" | "COP" | "CAD" | "AUD" => "$",
        "EUR" => "€",
        "BRL" => "R$",
        "GBP" => "£",
        "BOB" => "Bs",
        "GTQ" => "Q",
        "PYG" => "₲",
        "CRC" => "₡",
        other => other,
    }
}

/// "S/ 1,234.50" style formatting (grouping with `,`, decimals with `.`).
pub fn format(minor: i64, currency: &str) -> String {
    let exp = exponent(currency);
    let neg = minor < 0;
    let abs = minor.unsigned_abs();
    let div = 10u64.pow(exp);
    let units = abs / div;
    let frac = abs % div;
    let digits = units.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if neg { "-" } else { "" };
    if exp == 0 {
        format!("{sign}{} {grouped}", symbol(currency))
    } else {
        format!(
            "{sign}{} {grouped}.{frac:0width$}",
            symbol(currency),
            width = exp as usize
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_minor_units_exactly() {
        assert_eq!(format(4590, "PEN"), "S/ 45.90");
        assert_eq!(format(123456789, "USD"), "$ 1,234,567.89");
        assert_eq!(format(5000, "CLP"), "$ 5,000");
        assert_eq!(format(-5, "PEN"), "-S/ 0.05");
        assert!(is_currency("PEN") && !is_currency("XXX"));
    }
}
