//! Rules for the `http` node that need no network: which targets are allowed, and reading
//! values out of a JSON response by a simple path.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use reqwest::Url;
use serde_json::Value;

/// Refuse URLs that point inside the appliance's network: loopback, private, link-local,
/// unspecified and `localhost`, unless the tenant allows private targets. Literal
/// addresses only; the glue checks the resolved addresses as well.
pub fn http_target_allowed(url: &str, allow_private: bool) -> Result<(), String> {
    let parsed = Url::parse(url).map_err(|e| format!("bad url: {e}"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!("scheme {} not allowed", parsed.scheme()));
    }
    let host = parsed
        .host_str()
        .ok_or_else(|| "url has no host".to_string())?
        .to_ascii_lowercase();
    if allow_private {
        return Ok(());
    }
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return check_ip(ip);
    }
    let d = host.trim_end_matches('.');
    if d == "localhost" || d.ends_with(".localhost") {
        return Err(format!("{d} is not allowed"));
    }
    Ok(())
}

/// Whether an address is one an `http` node may reach without the tenant's permission.
pub fn ip_is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4_is_public(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_is_public(v4),
            None => v6_is_public(v6),
        },
    }
}

fn check_ip(ip: IpAddr) -> Result<(), String> {
    if ip_is_public(ip) {
        Ok(())
    } else {
        Err(format!("address {ip} is private, loopback or link-local"))
    }
}

fn v4_is_public(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    let cgnat = o[0] == 100 && (64..128).contains(&o[1]);
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || cgnat
        || o[0] == 0)
}

fn v6_is_public(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let unique_local = (s[0] & 0xfe00) == 0xfc00;
    let link_local = (s[0] & 0xffc0) == 0xfe80;
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || unique_local || link_local)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// Parse `data.items[0].name` (a leading `$.` is allowed).
pub fn parse_path(path: &str) -> Result<Vec<PathSeg>, String> {
    let p = path.trim();
    let p = p
        .strip_prefix("$.")
        .or_else(|| p.strip_prefix('$'))
        .unwrap_or(p);
    if p.is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for part in p.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && rest.is_empty() {
            return Err(format!("empty segment in {path:?}"));
        }
        if !key.is_empty() {
            out.push(PathSeg::Key(key.to_string()));
        }
        while !rest.is_empty() {
            let close = rest
                .find(']')
                .ok_or_else(|| format!("unclosed [ in {path:?}"))?;
            let idx = rest[1..close]
                .parse::<usize>()
                .map_err(|_| format!("bad index in {path:?}"))?;
            out.push(PathSeg::Index(idx));
            rest = &rest[close + 1..];
            if !rest.is_empty() && !rest.starts_with('[') {
                return Err(format!("unexpected {rest:?} in {path:?}"));
            }
        }
    }
    Ok(out)
}

/// The value at a path, if the path is well formed and present.
pub fn json_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let segs = parse_path(path).ok()?;
    let mut cur = value;
    for seg in &segs {
        cur = match seg {
            PathSeg::Key(k) => cur.get(k.as_str())?,
            PathSeg::Index(i) => cur.get(*i)?,
        };
    }
    Some(cur)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn public_hosts_are_allowed() {
        assert!(http_target_allowed("https://api.example.com/x", false).is_ok());
        assert!(http_target_allowed("http://8.8.8.8/", false).is_ok());
    }

    #[test]
    fn private_loopback_link_local_and_localhost_are_refused() {
        for url in [
            "http://localhost:8080/",
            "http://api.localhost/",
            "http://127.0.0.1/",
            "http://10.0.0.5/",
            "http://192.168.1.1/",
            "http://172.16.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "ftp://example.com/",
            "not a url",
        ] {
            assert!(http_target_allowed(url, false).is_err(), "{url}");
        }
    }

    #[test]
    fn the_tenant_may_allow_private_targets() {
        assert!(http_target_allowed("http://192.168.1.10/api", true).is_ok());
        assert!(http_target_allowed("file:///etc/passwd", true).is_err());
    }

    #[test]
    fn json_paths_read_keys_and_indexes() {
        let v = json!({"data": {"items": [{"name": "Polo"}, {"name": "Gorra"}]}, "n": 2});
        assert_eq!(json_path(&v, "data.items[1].name"), Some(&json!("Gorra")));
        assert_eq!(json_path(&v, "$.n"), Some(&json!(2)));
        assert_eq!(json_path(&v, "data.items[5].name"), None);
        assert!(parse_path("a..b").is_err());
        assert!(parse_path("a[x]").is_err());
        assert!(parse_path("a[0").is_err());
    }
}
