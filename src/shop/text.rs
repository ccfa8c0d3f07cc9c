//! Small parsers shared by the shop: search queries, phone numbers, tag lists, decimals.

use std::str::FromStr;

/// Turns what a person typed into an FTS5 query: every word must match, as a prefix,
/// with case and accents ignored by the index tokenizer. `None` when nothing searchable.
pub fn fts_query(q: &str) -> Option<String> {
    let words: Vec<String> = q
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(16)
        .map(|w| format!("\"{w}\"*"))
        .collect();
    if words.is_empty() {
        None
    } else {
        Some(words.join(" "))
    }
}

/// A phone number in E.164 (`+51987654321`), reading national numbers with `country`.
pub fn normalize_phone(raw: &str, country: &str) -> Result<String, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("is required".into());
    }
    let id = phonenumber::country::Id::from_str(&country.to_ascii_uppercase()).ok();
    let n = phonenumber::parse(id, raw)
        .map_err(|_| format!("{raw:?} is not a phone number (country {country})"))?;
    if !phonenumber::is_valid(&n) {
        return Err(format!(
            "{raw:?} is not a valid phone number (country {country})"
        ));
    }
    Ok(n.format().mode(phonenumber::Mode::E164).to_string())
}

/// Trims, drops empties and duplicates, keeps order.
pub fn clean_list(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = vec![];
    for t in items {
        let t = t.trim();
        if !t.is_empty() && !out.iter().any(|o| o == t) {
            out.push(t.to_string());
        }
    }
    out
}

pub fn list_to_json(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

pub fn list_from_json(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// Exact decimal text ("45.90", "1,234.5", "45") to minor units for a currency with
/// `exponent` decimals. No floats.
pub fn parse_decimal(s: &str, exponent: u32) -> Result<i64, String> {
    let s = s.trim().replace(',', "");
    if s.is_empty() {
        return Err("is required".into());
    }
    if s.starts_with('-') {
        return Err("must not be negative".into());
    }
    let (units, frac) = match s.split_once('.') {
        Some((u, f)) => (u, f),
        None => (s.as_str(), ""),
    };
    let digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    if !digits(units) || !digits(frac) || (units.is_empty() && frac.is_empty()) {
        return Err(format!("{s:?} is not a number like 45.90"));
    }
    if frac.len() > exponent as usize {
        return Err(format!("has more than {exponent} decimals"));
    }
    let scale = 10i64.pow(exponent);
    let u: i64 = if units.is_empty() {
        0
    } else {
        units.parse().map_err(|_| "is too large".to_string())?
    };
    let f: i64 = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = exponent as usize);
        padded.parse().map_err(|_| "is not a number".to_string())?
    };
    u.checked_mul(scale)
        .and_then(|v| v.checked_add(f))
        .ok_or_else(|| "is too large".to_string())
}

/// Minor units back to plain decimal text ("45.90"), the inverse of [`parse_decimal`].
pub fn format_decimal(minor: i64, exponent: u32) -> String {
    if exponent == 0 {
        return minor.to_string();
    }
    let scale = 10u64.pow(exponent);
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = exponent as usize
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peruvian_national_number_becomes_e164() {
        assert_eq!(
            normalize_phone("987 654 321", "PE").unwrap(),
            "+51987654321"
        );
        assert_eq!(
            normalize_phone("+51 987-654-321", "US").unwrap(),
            "+51987654321"
        );
        assert!(normalize_phone("12", "PE").is_err());
        assert!(normalize_phone("hello", "PE").is_err());
    }

    #[test]
    fn search_words_become_prefix_terms_without_fts_syntax() {
        assert_eq!(
            fts_query("camisa básica").unwrap(),
            "\"camisa\"* \"básica\"*"
        );
        assert_eq!(fts_query("\"OR NEAR(").unwrap(), "\"OR\"* \"NEAR\"*");
        assert!(fts_query(" -* ").is_none());
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(parse_decimal("45.90", 2).unwrap(), 4590);
        assert_eq!(parse_decimal("45.9", 2).unwrap(), 4590);
        assert_eq!(parse_decimal("1,234", 2).unwrap(), 123400);
        assert_eq!(parse_decimal("5000", 0).unwrap(), 5000);
        assert!(parse_decimal("0.001", 2).is_err());
        assert!(parse_decimal("-1", 2).is_err());
        assert!(parse_decimal("1e3", 2).is_err());
        assert!(parse_decimal("99999999999999999999", 2).is_err());
        assert_eq!(format_decimal(4590, 2), "45.90");
        assert_eq!(format_decimal(5, 2), "0.05");
        assert_eq!(format_decimal(5000, 0), "5000");
    }
}
