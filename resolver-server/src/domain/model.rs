//! The records the domain keeps. They are plain data: the store persists them as they are and
//! the wire modules render them; neither adds rules of its own.

use super::email::Email;
use super::ids::{AccountId, ContactId, GroupId, Suid};
use super::phone::Phone;
use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

pub fn now_millis() -> Millis {
    let now = time::OffsetDateTime::now_utc();
    (now.unix_timestamp_nanos() / 1_000_000) as Millis
}

/// `at` as RFC 3339 UTC (`2026-11-23T08:21:11.5Z`), the one way the APIs and the CLI write a
/// time; `None` for a value outside the calendar `time` knows.
pub fn rfc3339(at: Millis) -> Option<String> {
    formatted(at, &time::format_description::well_known::Rfc3339)
}

/// `at` (milliseconds since the epoch) in UTC, written in `format` (a `time` format
/// description); `None` for a value outside the calendar `time` knows. The one conversion of
/// stored times for every wire format and page.
pub fn formatted(
    at: Millis,
    format: &(impl time::formatting::Formattable + ?Sized),
) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at) * 1_000_000)
        .ok()
        .and_then(|t| t.format(format).ok())
}

/// Language of the messages an account's visitors and API clients read by default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    #[default]
    Pl,
    En,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    pub id: AccountId,
    pub name: String,
    /// ISO 3166-1 alpha-2 code used to read phone numbers typed without a prefix.
    pub country: String,
    #[serde(default)]
    pub language: Language,
    pub created_at: Millis,
}

/// A login for the APIs and admin pages. The password is kept only as an argon2 PHC string.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiUser {
    pub username: String,
    pub password_hash: String,
    pub created_at: Millis,
}

/// An API token. The token itself is shown once; only its SHA-256 is kept, plus a short public
/// prefix that names it in lists and in `token revoke`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    pub prefix: String,
    pub sha256: String,
    /// The user the token acts as (author of events, creator of contacts), if any.
    pub username: Option<String>,
    pub created_at: Millis,
    pub expires_at: Option<Millis>,
    pub revoked_at: Option<Millis>,
}

/// A website registered by an account; the tracker on its pages names it by `site_key`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteDomain {
    /// Lower-case host name in IDNA ASCII form (`shop.example.com`).
    pub name: String,
    /// Public: it appears in the site's snippet.
    pub site_key: String,
    /// Secret shared with the site's server for identity verification (HMAC of trackUser values).
    pub secret: String,
    /// Whether trackUser must carry a valid HMAC of its value.
    pub require_hash: bool,
    /// Whether requests carrying Global Privacy Control (`Sec-GPC: 1`) or Do Not Track
    /// (`DNT: 1`) are treated as a refusal of tracking: nothing from them is stored.
    #[serde(default)]
    pub honour_browser_signals: bool,
    pub created_at: Millis,
}

/// Contact types known to TelefUM; SerwerSMS contacts are `Contact`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContactKind {
    Lead,
    #[default]
    Contact,
    Company,
}

impl ContactKind {
    /// The wire name: `lead`, `contact`, `company`.
    pub fn as_str(self) -> &'static str {
        match self {
            ContactKind::Lead => "lead",
            ContactKind::Contact => "contact",
            ContactKind::Company => "company",
        }
    }

    /// Reads a type in any of its spellings: `lead`/`contact`/`company`, capitalised, or
    /// Russian (`Лид`, `Контакт`, `Компания`), as TelefUM and its links send it.
    pub fn parse(text: &str) -> Option<ContactKind> {
        match text.trim().to_lowercase().as_str() {
            "lead" | "лид" => Some(ContactKind::Lead),
            "contact" | "контакт" => Some(ContactKind::Contact),
            "company" | "компания" => Some(ContactKind::Company),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    pub id: ContactId,
    pub phone: Phone,
    pub email: Option<Email>,
    pub first_name: String,
    pub last_name: String,
    pub company: String,
    pub tax_id: String,
    pub address: String,
    pub city: String,
    pub description: String,
    pub blacklist: bool,
    /// Sorted, without duplicates; only groups of the same account.
    pub groups: Vec<GroupId>,
    /// The contact's canonical visitor id: the value trackUser hands back.
    pub suid: Option<Suid>,
    #[serde(default)]
    pub kind: ContactKind,
    /// Where the contact came from (TelefUM's `x_pstn`: the advertised line that was called).
    #[serde(default)]
    pub source: Option<String>,
    /// The user whose credentials created it, when known.
    #[serde(default)]
    pub created_by: Option<String>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Contact {
    /// The free-text fields a search looks in besides the phone and e-mail (as typed; a search
    /// compares them lower-cased).
    pub fn searched_texts(&self) -> [&str; 7] {
        [
            &self.first_name,
            &self.last_name,
            &self.company,
            &self.tax_id,
            &self.address,
            &self.city,
            &self.description,
        ]
    }

    /// What the contact is called: first and last name, else the company (empty if neither).
    pub fn name(&self) -> String {
        let name = format!("{} {}", self.first_name, self.last_name)
            .trim()
            .to_owned();
        if name.is_empty() {
            self.company.clone()
        } else {
            name
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    /// Number of contacts in the group, kept in the same transaction as the memberships.
    pub count: u64,
    pub created_at: Millis,
}

/// Why a visitor was linked to a contact; kept so a wrong link can be found and undone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkCause {
    /// `contacts/add` (or `contacts/edit`) carried the visitor's suid.
    ContactsAdd,
    /// The tracker's trackUser found the contact by phone or e-mail.
    TrackUser,
    /// trackUser with a valid identity-verification hash.
    VerifiedTrackUser,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VisitorLink {
    pub contact: ContactId,
    pub cause: LinkCause,
    pub at: Millis,
}

/// A browser, known by the suid in its `ssrm_user` cookie.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visitor {
    pub suid: Suid,
    pub link: Option<VisitorLink>,
    pub first_seen: Millis,
    pub last_seen: Millis,
}

impl Visitor {
    pub fn new(suid: Suid, now: Millis) -> Visitor {
        Visitor {
            suid,
            link: None,
            first_seen: now,
            last_seen: now,
        }
    }
}

/// Who is acting: the account every call is scoped to and, when known, the user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    pub account: AccountId,
    pub username: Option<String>,
}
