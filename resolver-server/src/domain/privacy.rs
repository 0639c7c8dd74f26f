//! Data protection: who erased what (the audit log), the access export, retention.
//!
//! The audit log holds no personal data: the contact's id (never reused), when, who and
//! through which door. What erasing removes is listed in `store/privacy.rs`.

use super::model::{Millis, Principal};
use super::ContactId;
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// Who asked for a change: kept in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A SerwerSMS API user (by user name) or a token (no user name).
    Api { api: String, user: Option<String> },
    /// A signed-in admin.
    Admin { user: String },
    /// The operator at the command line.
    Operator,
}

impl Actor {
    /// The caller of an API, as its principal names it.
    pub fn api(api: &str, principal: &Principal) -> Actor {
        Actor::Api {
            api: api.to_owned(),
            user: principal.username.clone(),
        }
    }

    /// How the admin page and the CLI show it.
    pub fn describe(&self) -> String {
        match self {
            Actor::Api {
                api,
                user: Some(user),
            } => format!("{api} API user {user}"),
            Actor::Api { api, user: None } => format!("{api} API token"),
            Actor::Admin { user } => format!("admin {user}"),
            Actor::Operator => "operator (command line)".to_owned(),
        }
    }
}

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// The contact and everything stored about it was erased.
    ContactErased,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ContactErased => "contact_erased",
        }
    }
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Millis,
    pub action: AuditAction,
    pub contact: ContactId,
    pub by: Actor,
    /// The call or page it came through (`contacts/delete`, `groups/delete`, `admin`).
    pub via: String,
}

/// How a delete is recorded: who, through which call, at what time.
#[derive(Clone, Debug)]
pub struct Erasing {
    pub by: Actor,
    pub via: &'static str,
    pub at: Millis,
}

impl Erasing {
    pub fn new(by: Actor, via: &'static str) -> Erasing {
        Erasing {
            by,
            via,
            at: super::now_millis(),
        }
    }

    pub(crate) fn entry(&self, contact: ContactId) -> AuditEntry {
        AuditEntry {
            at: self.at,
            action: AuditAction::ContactErased,
            contact,
            by: self.by.clone(),
            via: self.via.to_owned(),
        }
    }
}

/// The account's audit log, oldest first.
pub fn audit_log(store: &Store, account: super::AccountId) -> Result<Vec<AuditEntry>, StoreError> {
    store.audit_log(account)
}

/// An erasure by the operator, for tests.
#[cfg(test)]
pub(crate) fn operator() -> Erasing {
    Erasing::new(Actor::Operator, "test")
}
