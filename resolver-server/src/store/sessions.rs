//! Admin sessions in the `auth` tree, keyed by the SHA-256 of their cookie value.

use super::{decode, encode, keys, Store, StoreError};
use crate::domain::Session;

impl Store {
    pub fn insert_session(&self, sha256_hex: &str, session: &Session) -> Result<(), StoreError> {
        let _guard = self.write_guard();
        self.auth
            .insert(keys::auth::session(sha256_hex), encode(session))?;
        Ok(())
    }

    pub fn session(&self, sha256_hex: &str) -> Result<Option<Session>, StoreError> {
        self.auth
            .get(keys::auth::session(sha256_hex))?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    pub fn remove_session(&self, sha256_hex: &str) -> Result<(), StoreError> {
        let _guard = self.write_guard();
        self.auth.remove(keys::auth::session(sha256_hex))?;
        Ok(())
    }
}
