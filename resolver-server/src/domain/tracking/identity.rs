//! trackUser: the value normalised, placeholders refused, the optional HMAC checked, the
//! contact found and the visitor linked, and the answer the site's callback gets.

use super::*;

/// What trackUser answers (the tracker hands it to the site's callback as `this`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdentityAnswer {
    pub success: bool,
    pub suid: Suid,
    pub message: &'static str,
}

const PLACEHOLDERS: [&str; 8] = [
    "null",
    "undefined",
    "0",
    "guest",
    "anonymous",
    "none",
    "nan",
    "false",
];

/// A trackUser value read as an e-mail or a phone, in the normalised form the site's server
/// signs: the e-mail address, or the phone in E.164.
enum Identity {
    Email(Email),
    Phone(Phone),
}

impl Identity {
    fn parse(value: &str, country: Country) -> Option<Identity> {
        let value = value.trim();
        if value.is_empty() || PLACEHOLDERS.contains(&value.to_ascii_lowercase().as_str()) {
            return None;
        }
        if value.contains('@') {
            Email::parse(value).map(Identity::Email)
        } else {
            Phone::parse(value, country).map(Identity::Phone)
        }
    }

    fn normalised(&self) -> &str {
        match self {
            Identity::Email(email) => email.as_str(),
            Identity::Phone(phone) => phone.as_str(),
        }
    }
}

/// `hex(HMAC-SHA256(secret, value))`: what a site's server computes for identity verification.
pub fn identity_hash(secret: &str, normalised_value: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(normalised_value.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `hash` (hex, any case) is the HMAC of `normalised_value` under `secret`: decoded,
/// then compared by `Mac::verify_slice` in constant time.
fn identity_hash_matches(secret: &str, normalised_value: &str, hash: &str) -> bool {
    let Ok(given) = hex::decode(hash.trim()) else {
        return false;
    };
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(normalised_value.as_bytes());
    mac.verify_slice(&given).is_ok()
}

fn messages(language: Language) -> (&'static str, &'static str) {
    match language {
        Language::Pl => ("Kontakt pobrany", "Nie znaleziono kontaktu"),
        Language::En => ("Contact found", "Contact not found"),
    }
}

impl IdentityAnswer {
    /// The one refusal: not found, not allowed (missing or wrong hash), an invalid or
    /// placeholder value, rate-limited, or a site that is not recognised. The browser cannot
    /// tell these apart; `current` is the suid the browser sent, answered back unchanged.
    pub fn refused(current: Suid, language: Language) -> IdentityAnswer {
        IdentityAnswer {
            success: false,
            suid: current,
            message: messages(language).1,
        }
    }
}

/// The refusal of a trackUser that is not looked at (rate-limited), in the account's language.
pub fn refuse_identity(
    store: &Store,
    account: AccountId,
    current: Suid,
) -> DomainResult<IdentityAnswer> {
    let language = store
        .account(account)?
        .map(|a| a.language)
        .unwrap_or_default();
    Ok(IdentityAnswer::refused(current, language))
}

/// The refusal of a trackUser over the client's quota, counted on the dashboard as refused.
pub fn refuse_identity_over_quota(
    store: &Store,
    account: AccountId,
    domain: &SiteDomain,
    current: Suid,
) -> DomainResult<IdentityAnswer> {
    count_identity(store, account, domain, IdentityOutcome::Refused)?;
    refuse_identity(store, account, current)
}

fn count_identity(
    store: &Store,
    account: AccountId,
    domain: &SiteDomain,
    outcome: IdentityOutcome,
) -> DomainResult<()> {
    store.insert_tally(
        account,
        &Tally::TrackUser {
            domain: domain.name.clone(),
            outcome,
            at: now_millis(),
            count: 1,
        },
    )?;
    Ok(())
}

/// trackUser: finds the contact with this phone or e-mail among the account's contacts and
/// links the current visitor to it, only if that visitor is anonymous (or linked to a deleted
/// contact). Answers the contact's canonical suid. Not found, invalid or placeholder values,
/// and a missing or wrong verification hash where the domain requires one all give
/// [`IdentityAnswer::refused`], after the same work (the look-up runs in every case).
/// The link, the visitor and the contact's suid are written in one transaction; the caller
/// flushes before answering.
pub fn resolve_identity(
    store: &Store,
    account: AccountId,
    domain: &SiteDomain,
    current: Suid,
    value: &str,
    hash: Option<&str>,
) -> DomainResult<IdentityAnswer> {
    let record = store
        .account(account)?
        .ok_or(DomainError::NotFound(Entity::Account))?;
    let country = Country::parse(&record.country).unwrap_or(Country::POLAND);
    let found_message = messages(record.language).0;
    let missing = IdentityAnswer::refused(current, record.language);
    let Some(identity) = Identity::parse(value, country) else {
        count_identity(store, account, domain, IdentityOutcome::Refused)?;
        return Ok(missing);
    };
    let candidates = match &identity {
        Identity::Email(email) => store.contacts_by_email(account, email)?,
        Identity::Phone(phone) => store.contacts_by_phone(account, phone)?,
    };
    let verified =
        hash.is_some_and(|hash| identity_hash_matches(&domain.secret, identity.normalised(), hash));
    if domain.require_hash && !verified {
        count_identity(store, account, domain, IdentityOutcome::Refused)?;
        return Ok(missing);
    }
    let Some(contact) = choose(store, account, candidates)? else {
        count_identity(store, account, domain, IdentityOutcome::NotFound)?;
        return Ok(missing);
    };
    let cause = if verified {
        LinkCause::VerifiedTrackUser
    } else {
        LinkCause::TrackUser
    };
    let before = super::super::automation::link_of(store, account, current)?;
    let suid = store.link_visitor(account, contact, current, cause)?;
    if super::super::automation::newly_linked(store, account, current, before, contact)? {
        super::super::automation::after_link(store, account, contact, now_millis())?;
    }
    count_identity(store, account, domain, IdentityOutcome::Found)?;
    Ok(IdentityAnswer {
        success: true,
        suid,
        message: found_message,
    })
}

/// Among several contacts with the value, the one already linked to a visitor, most recently
/// active first; then the oldest.
fn choose(
    store: &Store,
    account: AccountId,
    candidates: Vec<Contact>,
) -> DomainResult<Option<ContactId>> {
    let mut best: Option<(bool, Millis, std::cmp::Reverse<ContactId>)> = None;
    for contact in candidates {
        let last_seen = store
            .contact_visitors(account, contact.id)?
            .iter()
            .map(|v| v.last_seen)
            .max();
        let rank = (
            last_seen.is_some(),
            last_seen.unwrap_or(0),
            std::cmp::Reverse(contact.id),
        );
        if best.is_none_or(|current| rank > current) {
            best = Some(rank);
        }
    }
    Ok(best.map(|(_, _, std::cmp::Reverse(id))| id))
}
