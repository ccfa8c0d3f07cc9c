//! Webhook signature checks, all constant-time. Test vectors from PROTOCOLS.md.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::AuthError;

type HmacSha256 = Hmac<Sha256>;
type HmacSha1 = Hmac<Sha1>;

/// Lowercase hex HMAC-SHA256 (Cloud `X-Hub-Signature-256`, bridge `X-Bridge-Signature`).
pub fn hmac_sha256_hex(key: &[u8], body: &[u8]) -> String {
    // new_from_slice accepts keys of any length for HMAC.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Checks a `sha256=<hex>` header value against HMAC-SHA256(key, body).
pub fn verify_sha256_header(
    header: Option<&str>,
    key: &[u8],
    body: &[u8],
) -> Result<(), AuthError> {
    let header = header.ok_or(AuthError::Missing)?;
    let hex_sig = header
        .trim()
        .strip_prefix("sha256=")
        .ok_or(AuthError::BadSignature)?;
    let given = hex::decode(hex_sig).map_err(|_| AuthError::BadSignature)?;
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&given)
        .map_err(|_| AuthError::BadSignature)
}

/// Twilio's `X-Twilio-Signature`: base64(HMAC-SHA1(token, url + sorted name+value pairs)).
/// Repeated names: values are deduplicated and sorted, as twilio-node does.
pub fn twilio_signature(token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut pairs: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    pairs.sort_unstable();
    pairs.dedup();
    let mut data = String::from(url);
    for (k, v) in pairs {
        data.push_str(k);
        data.push_str(v);
    }
    let mut mac = HmacSha1::new_from_slice(token.as_bytes()).expect("HMAC takes any key length");
    mac.update(data.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Constant-time string equality (tokens, base64 signatures).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// Lowercase hex SHA-256 of a body (Twilio `bodySHA256`, media file names).
pub fn sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloud_vector_from_protocols() {
        assert_eq!(
            hmac_sha256_hex(b"secret", b"test"),
            "0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
        );
        let header = "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914";
        assert_eq!(
            verify_sha256_header(Some(header), b"secret", b"test"),
            Ok(())
        );
        assert_eq!(
            verify_sha256_header(Some(header), b"secret", b"test "),
            Err(AuthError::BadSignature)
        );
        assert_eq!(
            verify_sha256_header(None, b"secret", b"test"),
            Err(AuthError::Missing)
        );
        assert_eq!(
            verify_sha256_header(Some("sha256=zz"), b"secret", b"test"),
            Err(AuthError::BadSignature)
        );
    }

    #[test]
    fn bridge_vector_shared_with_js() {
        assert_eq!(
            hmac_sha256_hex(b"bridge-secret", br#"{"id":"evt-1","type":"message"}"#),
            "50aa14ef0b047c8e9e268db630434a2fe7ffdb98b976fb51ce4fb77b9a28d4b3"
        );
    }

    #[test]
    fn twilio_vector_from_protocols() {
        let params: Vec<(String, String)> = [
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]
        .iter()
        .rev()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            twilio_signature(
                "12345",
                "https://mycompany.com/myapp.php?foo=1&bar=2",
                &params
            ),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
    }
}
