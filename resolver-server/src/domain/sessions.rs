//! Admin-page sessions: a random token in an HttpOnly cookie, kept only as its SHA-256, with a
//! per-session CSRF token every form must echo.

use super::error::{DomainError, DomainResult};
use super::ids::AccountId;
use super::model::{now_millis, Millis, Principal};
use crate::store::Store;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How long a session lasts without a new login.
pub const SESSION_LIFETIME_MILLIS: Millis = 12 * 3_600_000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    pub account: AccountId,
    pub username: String,
    /// Echoed by every form of the session (hidden field `csrf`).
    pub csrf: String,
    pub expires_at: Millis,
}

impl Session {
    pub fn principal(&self) -> Principal {
        Principal {
            account: self.account,
            username: Some(self.username.clone()),
        }
    }

    /// Whether `candidate` is this session's CSRF token (compared in constant time).
    pub fn csrf_matches(&self, candidate: &str) -> bool {
        constant_time_eq(self.csrf.as_bytes(), candidate.as_bytes())
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(subtle::ConstantTimeEq::ct_eq(a, b))
}

/// A random token of `bytes` bytes, hex-encoded.
pub fn random_token(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Opens a session for a logged-in user; returns the cookie value (shown once) and the session.
pub fn open_session(store: &Store, principal: &Principal) -> DomainResult<(String, Session)> {
    let username = principal
        .username
        .clone()
        .ok_or(DomainError::MissingField { field: "username" })?;
    let token = random_token(32);
    let session = Session {
        account: principal.account,
        username,
        csrf: random_token(16),
        expires_at: now_millis() + SESSION_LIFETIME_MILLIS,
    };
    store.insert_session(&digest(&token), &session)?;
    Ok((token, session))
}

/// The live session of a cookie value, if any (expired sessions are removed when seen).
pub fn find_session(store: &Store, token: &str) -> DomainResult<Option<Session>> {
    if token.len() != 64 {
        return Ok(None);
    }
    let key = digest(token);
    match store.session(&key)? {
        Some(session) if session.expires_at > now_millis() => Ok(Some(session)),
        Some(_) => {
            store.remove_session(&key)?;
            Ok(None)
        }
        None => Ok(None),
    }
}

/// Ends a session (logout).
pub fn close_session(store: &Store, token: &str) -> DomainResult<()> {
    store.remove_session(&digest(token))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::create_account;

    #[test]
    fn a_session_lives_until_closed_and_only_its_digest_is_stored() {
        let store = Store::open_temporary().expect("store");
        let account = create_account(&store, "shop", None).expect("account").id;
        let principal = Principal {
            account,
            username: Some("jan".into()),
        };
        let (token, session) = open_session(&store, &principal).expect("open");
        assert_eq!(
            find_session(&store, &token).expect("find"),
            Some(session.clone())
        );
        assert!(
            store.session(&token).expect("store").is_none(),
            "the token itself is not a key"
        );
        assert!(session.csrf_matches(&session.csrf.clone()) && !session.csrf_matches("forged"));
        close_session(&store, &token).expect("close");
        assert_eq!(find_session(&store, &token).expect("find"), None);
        assert_eq!(find_session(&store, "short").expect("find"), None);
    }
}
