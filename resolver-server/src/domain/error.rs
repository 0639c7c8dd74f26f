//! The one error type of the domain layer. Each wire API maps it to its own format in exactly
//! one place (`http::*::error`).

use crate::store::StoreError;

/// What kind of record a "not found" is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Entity {
    Account,
    User,
    Token,
    Domain,
    Contact,
    Group,
    Campaign,
    /// A phone on the account's blacklist.
    BlacklistedPhone,
}

impl Entity {
    pub fn name(self) -> &'static str {
        match self {
            Entity::Account => "account",
            Entity::User => "user",
            Entity::Token => "token",
            Entity::Domain => "domain",
            Entity::Contact => "contact",
            Entity::Group => "group",
            Entity::Campaign => "campaign",
            Entity::BlacklistedPhone => "blacklisted phone",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    /// The record does not exist in the caller's account (it may exist in another one; the
    /// caller is never told).
    #[error("{} not found", .0.name())]
    NotFound(Entity),
    #[error("{} already exists", .0.name())]
    AlreadyExists(Entity),
    #[error("missing required parameter `{field}`")]
    MissingField { field: &'static str },
    #[error("`{field}` is not a valid phone number")]
    InvalidPhone { field: &'static str },
    #[error("`{field}` is not a valid e-mail address")]
    InvalidEmail { field: &'static str },
    #[error("`{field}` is longer than {max} characters")]
    TooLong { field: &'static str, max: usize },
    #[error("`{field}` is invalid: {reason}")]
    InvalidField {
        field: &'static str,
        reason: &'static str,
    },
    #[error("storage failure: {0}")]
    Store(#[from] StoreError),
}

pub type DomainResult<T> = Result<T, DomainError>;
