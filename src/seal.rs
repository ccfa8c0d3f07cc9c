//! Secrets at rest: AES-256-GCM with the data-dir key. Text form: base64(nonce || ciphertext).

use aes_gcm::aead::{Aead, KeyInit, OsRng};
use aes_gcm::{AeadCore, Aes256Gcm, Key, Nonce};
use base64::Engine;

const PREFIX: &str = "sealed:v1:";

pub fn seal(key: &[u8; 32], plaintext: &[u8]) -> String {
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    // Encryption with a fresh nonce and an in-memory buffer cannot fail.
    let ct = cipher.encrypt(&nonce, plaintext).unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    format!(
        "{PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(out)
    )
}

pub fn open(key: &[u8; 32], text: &str) -> Result<Vec<u8>, String> {
    let b64 = text.strip_prefix(PREFIX).ok_or("not a sealed value")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|e| e.to_string())?;
    if raw.len() < 12 {
        return Err("sealed value too short".into());
    }
    let (nonce, ct) = raw.split_at(12);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key));
    cipher
        .decrypt(Nonce::from_slice(nonce), ct)
        .map_err(|_| "cannot decrypt: wrong key or tampered value".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_round_trip_and_hide_the_plaintext() {
        let key = [7u8; 32];
        let s = seal(&key, b"{\"access_token\":\"EAAG-secret\"}");
        assert!(!s.contains("EAAG"));
        assert_eq!(
            open(&key, &s).unwrap(),
            b"{\"access_token\":\"EAAG-secret\"}"
        );
        assert!(open(&[8u8; 32], &s).is_err());
    }
}
