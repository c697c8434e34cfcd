//! Approval links for external stakeholders: signed (HMAC-SHA256 with the
//! installation's secret), expiring, and single-use (the caller records the
//! nonce when the link is used, in the transaction of the decision).
//!
//! A token is `base64url(claims JSON) "." base64url(MAC)`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Tokens longer than this are refused before any work.
const MAX_TOKEN: usize = 2048;

/// What a link grants: one decision on one task, by one recipient, until it expires.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    #[serde(rename = "i")]
    pub instance: Uuid,
    #[serde(rename = "t")]
    pub task: u32,
    /// Who the link was sent to: a login, or an address.
    #[serde(rename = "r")]
    pub recipient: String,
    /// Expiry, as seconds since the epoch.
    #[serde(rename = "e")]
    pub expires: i64,
    /// Names this link: a used nonce cannot be used again.
    #[serde(rename = "n")]
    pub nonce: String,
    /// A batch link: `instance` names the batch, `task` is 0, and each of
    /// its items is decided once (nonce `n:<item>`).
    #[serde(rename = "b", default, skip_serializing_if = "std::ops::Not::not")]
    pub batch: bool,
}

impl Claims {
    pub fn new(instance: Uuid, task: u32, recipient: &str, expires: DateTime<Utc>) -> Claims {
        Claims {
            instance,
            task,
            recipient: recipient.to_string(),
            expires: expires.timestamp(),
            nonce: Uuid::new_v4().simple().to_string(),
            batch: false,
        }
    }

    /// A link to a batch of approvals.
    pub fn batch(batch: Uuid, recipient: &str, expires: DateTime<Utc>) -> Claims {
        Claims { batch: true, ..Claims::new(batch, 0, recipient, expires) }
    }

    /// The single-use record of one item of a batch.
    pub fn item_nonce(&self, item: usize) -> String {
        format!("{}:{item}", self.nonce)
    }

    pub fn expired(&self, now: DateTime<Utc>) -> bool {
        now.timestamp() >= self.expires
    }

    pub fn expires_at(&self) -> Option<DateTime<Utc>> {
        DateTime::from_timestamp(self.expires, 0)
    }
}

/// Why a token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a token at all, or its signature does not match: changed or made up.
    #[error("this link is not valid: it was changed or cut short")]
    Invalid,
}

/// HMAC takes keys of any length, so this never fails in practice; the
/// error path refuses rather than signing with anything else.
fn mac(secret: &[u8]) -> Result<HmacSha256, LinkError> {
    HmacSha256::new_from_slice(secret).map_err(|_| LinkError::Invalid)
}

/// Signs the claims.
pub fn sign(secret: &[u8], claims: &Claims) -> Result<String, LinkError> {
    let json = serde_json::to_vec(claims).map_err(|_| LinkError::Invalid)?;
    let body = URL_SAFE_NO_PAD.encode(json);
    let mut m = mac(secret)?;
    m.update(body.as_bytes());
    let sig = URL_SAFE_NO_PAD.encode(m.finalize().into_bytes());
    Ok(format!("{body}.{sig}"))
}

/// Checks the signature (in constant time) and reads the claims. Expiry is
/// the caller's to check, so it can say "expired" rather than "invalid".
pub fn verify(secret: &[u8], token: &str) -> Result<Claims, LinkError> {
    if token.len() > MAX_TOKEN {
        return Err(LinkError::Invalid);
    }
    let (body, sig) = token.split_once('.').ok_or(LinkError::Invalid)?;
    let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| LinkError::Invalid)?;
    let mut m = mac(secret)?;
    m.update(body.as_bytes());
    m.verify_slice(&sig).map_err(|_| LinkError::Invalid)?;
    let json = URL_SAFE_NO_PAD.decode(body).map_err(|_| LinkError::Invalid)?;
    serde_json::from_slice(&json).map_err(|_| LinkError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims() -> Claims {
        Claims::new(Uuid::nil(), 3, "client@acme.example", DateTime::from_timestamp(2_000_000_000, 0).unwrap())
    }

    #[test]
    fn a_signed_link_verifies_and_round_trips() {
        let c = claims();
        let token = sign(b"secret", &c).unwrap();
        assert_eq!(verify(b"secret", &token), Ok(c));
    }

    #[test]
    fn a_changed_token_or_another_secret_is_refused() {
        let token = sign(b"secret", &claims()).unwrap();
        assert_eq!(verify(b"other", &token), Err(LinkError::Invalid));
        // Change the claims (task 3 -> 4) and keep the signature.
        let (body, sig) = token.split_once('.').unwrap();
        let json = String::from_utf8(URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap().replace("\"t\":3", "\"t\":4");
        let forged = format!("{}.{sig}", URL_SAFE_NO_PAD.encode(json));
        assert_eq!(verify(b"secret", &forged), Err(LinkError::Invalid));
        for junk in ["", ".", "abc", "a.b.c", &"x".repeat(5000), &token[..token.len() - 2]] {
            assert_eq!(verify(b"secret", junk), Err(LinkError::Invalid), "{junk}");
        }
    }

    #[test]
    fn expiry_is_a_claim() {
        let c = claims();
        assert!(!c.expired(DateTime::from_timestamp(1_999_999_999, 0).unwrap()));
        assert!(c.expired(DateTime::from_timestamp(2_000_000_000, 0).unwrap()));
    }
}
