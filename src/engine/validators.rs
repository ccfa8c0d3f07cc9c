//! Checks a customer's answer and turns it into the value a flow stores: numbers as JSON
//! numbers, phones as E.164, dates as ISO, choices as their value.

use std::str::FromStr;
use std::sync::OnceLock;

use chrono::NaiveDate;
use regex::{Regex, RegexBuilder};
use serde_json::Value;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization;

use super::model::{Choice, Validator};

/// Why an answer was refused (for logs and tests; the customer sees the node's error text).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}

/// What the tenant's defaults say about reading answers.
#[derive(Debug, Clone, Copy)]
pub struct Locale<'a> {
    /// e.g. "es-PE"
    pub locale: &'a str,
    /// ISO 3166 country for phone numbers without a country code, e.g. "PE".
    pub country: &'a str,
}

/// Compare-friendly text: accents stripped, lower case, single spaces, no edge punctuation.
pub fn normalize(s: &str) -> String {
    let stripped: String = s.nfd().filter(|c| !is_combining_mark(*c)).collect();
    let lower = stripped.to_lowercase();
    let words: Vec<&str> = lower.split_whitespace().collect();
    words
        .join(" ")
        .trim_matches(|c: char| c.is_ascii_punctuation() || "¡¿".contains(c))
        .to_string()
}

/// Validate an answer. `picked` is the id of a tapped button or list row, if any.
pub fn check(
    v: &Validator,
    text: Option<&str>,
    picked: Option<&str>,
    loc: Locale<'_>,
) -> Result<Value, Invalid> {
    if let Validator::OneOf { options } = v {
        return one_of(options, text, picked).map(|i| Value::String(options[i].value.clone()));
    }
    let text = text.map(str::trim).unwrap_or("");
    match v {
        Validator::Text { min, max } => {
            let n = text.chars().count();
            if n == 0 {
                return Err(invalid("empty answer"));
            }
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(invalid(format!("length {n} outside the allowed range")));
            }
            Ok(Value::String(text.to_string()))
        }
        Validator::Number { min, max, integer } => {
            let n = parse_number(text, decimal_comma(loc.locale))
                .ok_or_else(|| invalid("not a number"))?;
            if *integer && n.fract() != 0.0 {
                return Err(invalid("not a whole number"));
            }
            if min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m) {
                return Err(invalid(format!("{n} outside the allowed range")));
            }
            Ok(number_value(n))
        }
        Validator::Email => email(text),
        Validator::Phone => phone(text, loc.country),
        Validator::Date => date(text).map(|d| Value::String(d.format("%Y-%m-%d").to_string())),
        Validator::Regex { pattern } => {
            let re = compile_regex(pattern).map_err(|e| invalid(format!("bad pattern: {e}")))?;
            if text.is_empty() || !re.is_match(text) {
                return Err(invalid("does not match the pattern"));
            }
            Ok(Value::String(text.to_string()))
        }
        Validator::OneOf { .. } => Err(invalid("unreachable")),
    }
}

/// Compile a flow author's regex with a size cap (the regex crate is linear-time).
pub fn compile_regex(pattern: &str) -> Result<Regex, regex::Error> {
    RegexBuilder::new(pattern).size_limit(1 << 20).build()
}

fn number_value(n: f64) -> Value {
    if n.fract() == 0.0 && n.abs() < 9.0e15 {
        Value::from(n as i64)
    } else {
        serde_json::Number::from_f64(n)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    }
}

/// Locales that write "1.234,50" (decimal comma); the others write "1,234.50".
pub fn decimal_comma(locale: &str) -> bool {
    let l = locale.to_ascii_lowercase().replace('_', "-");
    const POINT: &[&str] = &[
        "es-pe", "es-mx", "es-us", "es-gt", "es-hn", "es-ni", "es-pa", "es-sv", "es-do", "es-pr",
    ];
    if l.starts_with("en") || POINT.contains(&l.as_str()) {
        return false;
    }
    l.starts_with("es")
        || l.starts_with("pt")
        || l.starts_with("fr")
        || l.starts_with("de")
        || l.starts_with("it")
}

/// Read "1.234,50", "1,234.50", "1234", "-3,5", "S/ 45.90". A lone separator followed by
/// exactly three digits ("1.234") is read by the locale.
pub fn parse_number(raw: &str, decimal_comma: bool) -> Option<f64> {
    let mut s: String = raw.chars().filter(|c| !c.is_whitespace()).collect();
    for prefix in ["US$", "S/", "s/", "R$", "$", "€"] {
        if let Some(rest) = s.strip_prefix(prefix) {
            s = rest.to_string();
            break;
        }
    }
    let (negative, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.to_string()),
        None => (false, s),
    };
    if body.is_empty()
        || !body
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
    {
        return None;
    }
    let dots = body.matches('.').count();
    let commas = body.matches(',').count();
    let (thousands, decimal): (Option<char>, Option<char>) = match (dots, commas) {
        (0, 0) => (None, None),
        (_, 0) | (0, _) => {
            let sep = if dots > 0 { '.' } else { ',' };
            if dots + commas > 1 {
                (Some(sep), None)
            } else {
                let (before, after) = body.split_once(sep)?;
                let ambiguous =
                    after.len() == 3 && !before.is_empty() && before.len() <= 3 && before != "0";
                let sep_is_decimal = if ambiguous {
                    (sep == ',') == decimal_comma
                } else {
                    true
                };
                if sep_is_decimal {
                    (None, Some(sep))
                } else {
                    (Some(sep), None)
                }
            }
        }
        _ => {
            let last_dot = body.rfind('.')?;
            let last_comma = body.rfind(',')?;
            if last_dot > last_comma {
                (Some(','), Some('.'))
            } else {
                (Some('.'), Some(','))
            }
        }
    };
    let (int_part, frac_part) = match decimal {
        Some(d) => {
            let (i, f) = body.rsplit_once(d)?;
            if f.is_empty() || f.contains(['.', ',']) {
                return None;
            }
            (i.to_string(), f.to_string())
        }
        None => (body.clone(), String::new()),
    };
    let int_digits = match thousands {
        Some(t) => {
            let groups: Vec<&str> = int_part.split(t).collect();
            let first_ok = groups.first().is_some_and(|g| (1..=3).contains(&g.len()));
            if !first_ok || groups.iter().skip(1).any(|g| g.len() != 3) {
                return None;
            }
            groups.concat()
        }
        None => int_part,
    };
    if int_digits.contains(['.', ',']) || (int_digits.is_empty() && frac_part.is_empty()) {
        return None;
    }
    let text = format!(
        "{}{}.{}",
        if negative { "-" } else { "" },
        if int_digits.is_empty() {
            "0"
        } else {
            &int_digits
        },
        if frac_part.is_empty() {
            "0"
        } else {
            &frac_part
        }
    );
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}

fn email(text: &str) -> Result<Value, Invalid> {
    static RE: OnceLock<Option<Regex>> = OnceLock::new();
    let re = RE
        .get_or_init(|| {
            Regex::new(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.[A-Za-z]{2,}$").ok()
        })
        .as_ref()
        .ok_or_else(|| invalid("email pattern unavailable"))?;
    if text.len() > 254 || !re.is_match(text) || text.contains("..") {
        return Err(invalid("not an email address"));
    }
    let (local, domain) = text
        .split_once('@')
        .ok_or_else(|| invalid("not an email address"))?;
    Ok(Value::String(format!("{local}@{}", domain.to_lowercase())))
}

fn phone(text: &str, country: &str) -> Result<Value, Invalid> {
    let id = phonenumber::country::Id::from_str(&country.to_ascii_uppercase()).ok();
    let number =
        phonenumber::parse(id, text).map_err(|e| invalid(format!("not a phone number: {e}")))?;
    if !phonenumber::is_valid(&number) {
        return Err(invalid("not a valid phone number"));
    }
    Ok(Value::String(
        number.format().mode(phonenumber::Mode::E164).to_string(),
    ))
}

fn date(text: &str) -> Result<NaiveDate, Invalid> {
    for fmt in ["%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%Y-%m-%d"] {
        if let Ok(d) = NaiveDate::parse_from_str(text, fmt) {
            // "%Y" accepts short years like 26; shops mean full dates.
            if (1000..=9999).contains(&chrono::Datelike::year(&d)) {
                return Ok(d);
            }
        }
    }
    Err(invalid("not a date (dd/mm/yyyy or yyyy-mm-dd)"))
}

/// Which choice an answer means: the tapped id, its number (1-based), value, title or a
/// synonym, compared without accents or case.
pub fn one_of(
    options: &[Choice],
    text: Option<&str>,
    picked: Option<&str>,
) -> Result<usize, Invalid> {
    let items: Vec<(&str, &str, &[String])> = options
        .iter()
        .map(|c| (c.value.as_str(), c.title(), c.synonyms.as_slice()))
        .collect();
    pick(&items, text, picked).ok_or_else(|| invalid("not one of the options"))
}

/// Shared by questions, menus and the catalog: (id, title, synonyms) per option.
pub fn pick(
    items: &[(&str, &str, &[String])],
    text: Option<&str>,
    picked: Option<&str>,
) -> Option<usize> {
    if let Some(id) = picked {
        if let Some(i) = items.iter().position(|(item_id, _, _)| *item_id == id) {
            return Some(i);
        }
    }
    let answer = normalize(text?);
    if answer.is_empty() {
        return None;
    }
    if let Ok(n) = answer.parse::<usize>() {
        return (1..=items.len()).contains(&n).then(|| n - 1);
    }
    items.iter().position(|(id, title, synonyms)| {
        normalize(id) == answer
            || normalize(title) == answer
            || synonyms.iter().any(|s| normalize(s) == answer)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PE: Locale<'static> = Locale {
        locale: "es-PE",
        country: "PE",
    };
    const AR: Locale<'static> = Locale {
        locale: "es-AR",
        country: "AR",
    };

    fn num() -> Validator {
        Validator::Number {
            min: None,
            max: None,
            integer: false,
        }
    }

    #[test]
    fn normalize_strips_accents_case_and_edge_punctuation() {
        assert_eq!(normalize("  ¡Catálogo!  "), "catalogo");
        assert_eq!(normalize("Hablar   con  PERSONA."), "hablar con persona");
    }

    #[test]
    fn text_accepts_within_length_and_refuses_outside() {
        let v = Validator::Text {
            min: Some(2),
            max: Some(5),
        };
        assert_eq!(check(&v, Some(" Ana "), None, PE).unwrap(), json!("Ana"));
        assert!(check(&v, Some("A"), None, PE).is_err());
        assert!(check(&v, Some("Anastasia"), None, PE).is_err());
        assert!(check(&v, None, None, PE).is_err());
    }

    #[test]
    fn number_reads_both_separator_styles() {
        assert_eq!(
            check(&num(), Some("1.234,50"), None, PE).unwrap(),
            json!(1234.5)
        );
        assert_eq!(
            check(&num(), Some("1,234.50"), None, PE).unwrap(),
            json!(1234.5)
        );
        assert_eq!(
            check(&num(), Some("1.234,50"), None, AR).unwrap(),
            json!(1234.5)
        );
        assert_eq!(
            check(&num(), Some("S/ 45.90"), None, PE).unwrap(),
            json!(45.9)
        );
        assert_eq!(check(&num(), Some("12"), None, PE).unwrap(), json!(12));
        assert_eq!(check(&num(), Some("-3,5"), None, AR).unwrap(), json!(-3.5));
    }

    #[test]
    fn an_ambiguous_number_is_read_by_the_tenant_locale() {
        assert_eq!(
            check(&num(), Some("1.234"), None, PE).unwrap(),
            json!(1.234)
        );
        assert_eq!(check(&num(), Some("1.234"), None, AR).unwrap(), json!(1234));
        assert_eq!(check(&num(), Some("1,234"), None, PE).unwrap(), json!(1234));
        assert_eq!(
            check(&num(), Some("1.234.567"), None, PE).unwrap(),
            json!(1234567)
        );
    }

    #[test]
    fn number_refuses_words_bad_grouping_and_out_of_range() {
        assert!(check(&num(), Some("doce"), None, PE).is_err());
        assert!(check(&num(), Some("1,23,4"), None, PE).is_err());
        assert!(check(&num(), Some("1.2.3,4,5"), None, PE).is_err());
        let v = Validator::Number {
            min: Some(1.0),
            max: Some(10.0),
            integer: true,
        };
        assert!(check(&v, Some("11"), None, PE).is_err());
        assert!(check(&v, Some("2,5"), None, AR).is_err());
        assert_eq!(check(&v, Some("3"), None, PE).unwrap(), json!(3));
    }

    #[test]
    fn email_accepts_addresses_and_lowercases_the_domain() {
        assert_eq!(
            check(&Validator::Email, Some("Ana.P@Tienda.PE"), None, PE).unwrap(),
            json!("Ana.P@tienda.pe")
        );
        for bad in ["ana", "ana@", "ana@tienda", "a b@c.pe", "ana@@c.pe"] {
            assert!(
                check(&Validator::Email, Some(bad), None, PE).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn phone_uses_the_tenant_country_and_stores_e164() {
        assert_eq!(
            check(&Validator::Phone, Some("987 654 321"), None, PE).unwrap(),
            json!("+51987654321")
        );
        assert_eq!(
            check(&Validator::Phone, Some("+54 9 11 2345-6789"), None, PE).unwrap(),
            json!("+5491123456789")
        );
        assert!(check(&Validator::Phone, Some("12"), None, PE).is_err());
        assert!(check(&Validator::Phone, Some("hola"), None, PE).is_err());
    }

    #[test]
    fn date_accepts_day_first_and_iso_and_stores_iso() {
        assert_eq!(
            check(&Validator::Date, Some("05/03/2026"), None, PE).unwrap(),
            json!("2026-03-05")
        );
        assert_eq!(
            check(&Validator::Date, Some("2026-03-05"), None, PE).unwrap(),
            json!("2026-03-05")
        );
        assert!(check(&Validator::Date, Some("31/02/2026"), None, PE).is_err());
        assert!(check(&Validator::Date, Some("mañana"), None, PE).is_err());
    }

    #[test]
    fn regex_must_match_and_a_bad_pattern_refuses() {
        let v = Validator::Regex {
            pattern: r"^[A-Z]{3}-\d{3}$".into(),
        };
        assert!(check(&v, Some("ABC-123"), None, PE).is_ok());
        assert!(check(&v, Some("abc"), None, PE).is_err());
        let bad = Validator::Regex {
            pattern: "(".into(),
        };
        assert!(check(&bad, Some("x"), None, PE).is_err());
    }

    #[test]
    fn one_of_matches_number_title_synonym_or_tap_ignoring_accents() {
        let v = Validator::OneOf {
            options: vec![
                Choice {
                    value: "si".into(),
                    title: Some("Sí".into()),
                    synonyms: vec!["claro".into(), "ok".into()],
                },
                Choice {
                    value: "no".into(),
                    title: Some("No".into()),
                    synonyms: vec![],
                },
            ],
        };
        assert_eq!(check(&v, Some("SI"), None, PE).unwrap(), json!("si"));
        assert_eq!(check(&v, Some("¡Claro!"), None, PE).unwrap(), json!("si"));
        assert_eq!(check(&v, Some("2"), None, PE).unwrap(), json!("no"));
        assert_eq!(
            check(&v, Some("whatever"), Some("no"), PE).unwrap(),
            json!("no")
        );
        assert!(check(&v, Some("3"), None, PE).is_err());
        assert!(check(&v, Some("quizás"), None, PE).is_err());
    }
}
