//! Agent access tokens: HS256 JWTs, short-lived, with issuer and audience, and
//! the algorithm pinned so `alg: none` or an RSA/HMAC confusion is refused.

use agentledger_domain::ids::{AgentId, TenantId};
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::CommandError;

pub const ISSUER: &str = "agentledger";
pub const AUDIENCE: &str = "agentledger-agents";
/// Access tokens live 15 minutes; the refresh token gets a new one.
pub const ACCESS_TTL_SECONDS: i64 = 15 * 60;
/// A refresh token (and its session) lasts 30 days from its last use.
pub const REFRESH_TTL_DAYS: i64 = 30;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub sub: AgentId,
    pub tid: TenantId,
    /// The session (refresh-token family) the token was issued in: ending the
    /// session (secret rotation, refresh-token reuse) ends its access tokens too.
    pub sid: Uuid,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl TokenIssuer {
    /// `secret` signs and checks every token; all servers of one deployment
    /// need the same one.
    pub fn new(secret: &[u8]) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn issue(
        &self,
        agent_id: AgentId,
        tenant_id: TenantId,
        session_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<String, CommandError> {
        let claims = Claims {
            sub: agent_id,
            tid: tenant_id,
            sid: session_id,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now.timestamp(),
            exp: now.timestamp() + ACCESS_TTL_SECONDS,
        };
        self.sign(&claims)
    }

    /// Signs `claims` as they are; `issue` is the way to make a token for an
    /// agent, this is for checking what `verify` makes of other claims.
    pub fn sign(&self, claims: &Claims) -> Result<String, CommandError> {
        encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| CommandError::Crypto(e.to_string()))
    }

    /// Checks the signature, issuer, audience and expiry, and that the token
    /// claims no longer a life than this server gives: whoever holds the key
    /// (or a future version with other settings) cannot mint tokens that
    /// outlive every revocation check by years.
    pub fn verify(&self, token: &str) -> Result<Claims, CommandError> {
        let refused =
            |why: String| CommandError::Unauthorized(format!("invalid access token: {why}"));
        let claims = decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| refused(e.to_string()))?;
        let leeway = self.validation.leeway as i64;
        if claims.exp.saturating_sub(claims.iat) > ACCESS_TTL_SECONDS {
            return Err(refused(format!(
                "it claims to live longer than {ACCESS_TTL_SECONDS} s"
            )));
        }
        if claims.iat > Utc::now().timestamp() + leeway {
            return Err(refused("it was issued in the future".into()));
        }
        Ok(claims)
    }
}

/// A token with `alg: none` and no signature, as an attacker would send it.
/// Kept here so every test that must see such tokens refused builds them alike.
pub fn unsigned_token(claims: &serde_json::Value) -> String {
    fn b64(bytes: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
    format!(
        "{}.{}.",
        b64(br#"{"alg":"none","typ":"JWT"}"#),
        b64(claims.to_string().as_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_verify_and_carry_their_claims() {
        let issuer = TokenIssuer::new(b"k1");
        let (agent, tenant) = (AgentId::new(), TenantId::new());
        let token = issuer
            .issue(agent, tenant, Uuid::nil(), Utc::now())
            .unwrap_or_default();
        let claims = issuer.verify(&token).ok();
        assert_eq!(claims.map(|c| (c.sub, c.tid)), Some((agent, tenant)));
        assert!(
            TokenIssuer::new(b"k2").verify(&token).is_err(),
            "another key"
        );
    }

    #[test]
    fn expired_and_unsigned_tokens_are_refused() {
        let issuer = TokenIssuer::new(b"k1");
        let old = Utc::now() - chrono::Duration::hours(2);
        let expired = issuer
            .issue(AgentId::new(), TenantId::new(), Uuid::nil(), old)
            .unwrap_or_default();
        assert!(issuer.verify(&expired).is_err());

        let claims = serde_json::json!({
            "sub": AgentId::new(), "tid": TenantId::new(), "iss": ISSUER, "aud": AUDIENCE,
            "iat": Utc::now().timestamp(), "exp": Utc::now().timestamp() + 600,
        });
        let none = unsigned_token(&claims);
        assert!(issuer.verify(&none).is_err(), "alg none");
    }

    #[test]
    fn tokens_claiming_a_longer_life_or_a_future_issue_are_refused() {
        let issuer = TokenIssuer::new(b"k1");
        let token = issuer
            .issue(AgentId::new(), TenantId::new(), Uuid::nil(), Utc::now())
            .unwrap_or_default();
        let Ok(claims) = issuer.verify(&token) else {
            panic!("a fresh token verifies");
        };
        let resign = |claims: &Claims| issuer.sign(claims).unwrap_or_default();
        assert!(issuer.verify(&resign(&claims)).is_ok(), "signed alike");
        let decade = 10 * 365 * 24 * 3600;
        let long = Claims {
            exp: claims.exp + decade,
            ..claims.clone()
        };
        assert!(issuer.verify(&resign(&long)).is_err(), "ten years");
        let future = Claims {
            iat: claims.iat + 3600,
            exp: claims.exp + 3600,
            ..claims
        };
        assert!(issuer.verify(&resign(&future)).is_err(), "issued later");
    }
}
