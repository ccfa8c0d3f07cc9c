//! Access JWTs (short-lived), refresh tokens (opaque, stored hashed) and API keys.

use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::Role;
use crate::error::AppError;
use crate::ids::{TenantId, UserId};

pub const API_KEY_PREFIX: &str = "dok_";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: UserId,
    pub tid: TenantId,
    pub role: Role,
    /// Refresh-token family: logging out revokes it, and with it this token.
    pub sid: String,
    pub iat: i64,
    pub exp: i64,
}

pub struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl_secs: i64,
}

impl Keys {
    pub fn new(secret: &[u8], access_ttl_secs: u64) -> Keys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Keys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl_secs: access_ttl_secs as i64,
        }
    }

    pub fn issue_access(
        &self,
        user: UserId,
        tenant: TenantId,
        role: Role,
        sid: &str,
    ) -> Result<(String, i64), AppError> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user,
            tid: tenant,
            role,
            sid: sid.to_string(),
            iat: now,
            exp: now + self.access_ttl_secs,
        };
        let token = encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok((token, claims.exp))
    }

    pub fn verify_access(&self, token: &str) -> Result<Claims, AppError> {
        decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|d| d.claims)
            .map_err(|e| match e.kind() {
                jsonwebtoken::errors::ErrorKind::ExpiredSignature => AppError::unauthorized(
                    "token_expired",
                    "the access token has expired; refresh it",
                ),
                _ => AppError::unauthorized("bad_token", "the access token is not valid"),
            })
    }
}

/// A random URL-safe secret of 32 bytes.
pub fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// What we store for refresh tokens and API keys: never the secret itself.
pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

pub fn new_api_key() -> String {
    format!(
        "{API_KEY_PREFIX}{}",
        random_secret().replace(['-', '_'], "x")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_tokens_round_trip_and_expire() {
        let keys = Keys::new(b"0123456789abcdef0123456789abcdef", 900);
        let (t, _) = keys
            .issue_access(UserId::new(), TenantId::new(), Role::Agent, "fam")
            .unwrap();
        assert_eq!(keys.verify_access(&t).unwrap().role, Role::Agent);
        let mut expired = Keys::new(b"0123456789abcdef0123456789abcdef", 0);
        expired.access_ttl_secs = -5;
        let (t, _) = expired
            .issue_access(UserId::new(), TenantId::new(), Role::Agent, "fam")
            .unwrap();
        let err = keys.verify_access(&t).unwrap_err();
        assert_eq!(err.code(), "token_expired");
        let other = Keys::new(b"another-key-another-key-another!", 900);
        assert_eq!(other.verify_access(&t).unwrap_err().code(), "bad_token");
    }

    #[test]
    fn api_keys_have_the_prefix_and_hash_stably() {
        let k = new_api_key();
        assert!(k.starts_with("dok_") && k.len() > 40);
        assert_eq!(hash_secret(&k), hash_secret(&k));
    }
}
