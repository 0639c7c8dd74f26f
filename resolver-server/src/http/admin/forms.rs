//! The admin pages' form bodies; each carries the session's CSRF token.

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct CsrfOnly {
    pub(super) csrf: String,
}

#[derive(Deserialize)]
pub(super) struct ContactEditForm {
    pub(super) csrf: String,
    pub(super) phone: Option<String>,
    pub(super) email: Option<String>,
    pub(super) first_name: Option<String>,
    pub(super) last_name: Option<String>,
    pub(super) company: Option<String>,
    pub(super) tax_id: Option<String>,
    pub(super) address: Option<String>,
    pub(super) city: Option<String>,
    pub(super) description: Option<String>,
    #[serde(default)]
    pub(super) groups: Vec<u64>,
}

#[derive(Deserialize)]
pub(super) struct NameForm {
    pub(super) csrf: String,
    pub(super) name: String,
}

#[derive(Deserialize)]
pub(super) struct DomainForm {
    pub(super) csrf: String,
    pub(super) domain: String,
}

#[derive(Deserialize)]
pub(super) struct VerificationForm {
    pub(super) csrf: String,
    pub(super) domain: String,
    pub(super) required: String,
}

#[derive(Deserialize)]
pub(super) struct TokenForm {
    pub(super) csrf: String,
    pub(super) expires_days: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct RevokeForm {
    pub(super) csrf: String,
    pub(super) prefix: String,
}

#[derive(Deserialize)]
pub(super) struct StatusForm {
    pub(super) csrf: String,
    pub(super) name: String,
    pub(super) system: String,
    pub(super) dictionary_status_id: Option<String>,
}
