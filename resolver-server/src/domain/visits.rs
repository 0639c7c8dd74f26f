//! What the tracker reports: page views and custom events of a visitor, the site a report
//! belongs to (site key *and* the page's origin), identity resolution (trackUser), and a
//! contact's history: the page views and events of every visitor linked to it.
//!
//! Spec: `shared/spec/tracker.md`, sections trackUser, Identity rules, Resolver endpoints.

use super::activities::Activity;
use super::email::Email;
use super::error::{DomainError, DomainResult, Entity};
use super::ids::{AccountId, ContactId, Suid};
use super::listing::{Page, Paging};
use super::model::{now_millis, Contact, Language, LinkCause, Millis, SiteDomain};
use super::phone::{Country, Phone};
use super::sessions::constant_time_eq;
use crate::store::Store;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

pub const MAX_URL_LEN: usize = 2048;
pub const MAX_TITLE_LEN: usize = 512;
pub const MAX_EVENT_NAME_LEN: usize = 100;
pub const MAX_EVENT_PROPS_LEN: usize = 4096;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageView {
    pub id: u64,
    pub suid: Suid,
    pub url: String,
    pub title: String,
    pub referrer: String,
    pub at: Millis,
}

/// A custom event (`trackEvent`); `props` is the JSON object the page passed, as text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackedEvent {
    pub id: u64,
    pub suid: Suid,
    pub name: String,
    pub props: String,
    pub url: String,
    pub at: Millis,
}

/// Control characters never belong in a URL or a title; drop them rather than refuse a beacon.
fn clean(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

fn limited(field: &'static str, text: &str, max: usize) -> DomainResult<String> {
    if text.chars().count() > max {
        return Err(DomainError::TooLong { field, max });
    }
    Ok(clean(text))
}

/// The site a tracker report belongs to: the domain named by `site_key`, provided the page's
/// `origin` (`https://shop.example.com:8443`) is that domain or one of its subdomains.
pub fn site_for_origin(
    store: &Store,
    site_key: &str,
    origin: &str,
) -> DomainResult<Option<(AccountId, SiteDomain)>> {
    if site_key.is_empty() || site_key.len() > 64 {
        return Ok(None);
    }
    let Some((account, domain)) = store.domain_by_site_key(site_key)? else {
        return Ok(None);
    };
    let Some(host) = origin_host(origin) else {
        return Ok(None);
    };
    let matches = host == domain.name
        || host
            .strip_suffix(&domain.name)
            .is_some_and(|rest| rest.ends_with('.'));
    Ok(matches.then_some((account, domain)))
}

/// The lower-case host of an `Origin` header value; `None` for `null` or anything malformed.
fn origin_host(origin: &str) -> Option<String> {
    let (scheme, rest) = origin.trim().split_once("://")?;
    if !matches!(scheme, "http" | "https") || rest.contains('/') {
        return None;
    }
    let host = if let Some(stripped) = rest.strip_prefix('[') {
        stripped.split(']').next()?
    } else {
        rest.rsplit_once(':').map_or(rest, |(host, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                host
            } else {
                rest
            }
        })
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// Records a page view of visitor `suid` (created if never seen).
pub fn record_page_view(
    store: &Store,
    account: AccountId,
    suid: Suid,
    url: &str,
    title: &str,
    referrer: &str,
) -> DomainResult<PageView> {
    let view = PageView {
        id: store.next_id()?,
        suid,
        url: limited("url", url, MAX_URL_LEN)?,
        title: limited("title", title, MAX_TITLE_LEN)?,
        referrer: limited("referrer", referrer, MAX_URL_LEN)?,
        at: now_millis(),
    };
    if view.url.is_empty() {
        return Err(DomainError::MissingField { field: "url" });
    }
    store.insert_page_view(account, &view)?;
    Ok(view)
}

/// Records a custom event of visitor `suid` (created if never seen). `props` must be a JSON
/// object of at most 4 KB, already serialised.
pub fn record_event(
    store: &Store,
    account: AccountId,
    suid: Suid,
    name: &str,
    props: &str,
    url: &str,
) -> DomainResult<TrackedEvent> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::MissingField { field: "name" });
    }
    if props.len() > MAX_EVENT_PROPS_LEN {
        return Err(DomainError::TooLong {
            field: "props",
            max: MAX_EVENT_PROPS_LEN,
        });
    }
    let event = TrackedEvent {
        id: store.next_id()?,
        suid,
        name: limited("name", name, MAX_EVENT_NAME_LEN)?,
        props: props.to_owned(),
        url: limited("url", url, MAX_URL_LEN)?,
        at: now_millis(),
    };
    store.insert_tracked_event(account, &event)?;
    Ok(event)
}

/// A visitor's page views, oldest first.
pub fn visitor_page_views(
    store: &Store,
    account: AccountId,
    suid: Suid,
) -> DomainResult<Vec<PageView>> {
    Ok(store.page_views(account, suid)?)
}

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

fn messages(language: Language) -> (&'static str, &'static str) {
    match language {
        Language::Pl => ("Kontakt pobrany", "Nie znaleziono kontaktu"),
        Language::En => ("Contact found", "Contact not found"),
    }
}

/// trackUser: finds the contact with this phone or e-mail among the account's contacts and
/// links the current visitor to it (only if the visitor is anonymous). Not found, invalid or
/// placeholder values, and a missing or wrong verification hash all give the same answer.
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
    let (found_message, missing_message) = messages(record.language);
    let missing = IdentityAnswer {
        success: false,
        suid: current,
        message: missing_message,
    };
    let Some(identity) = Identity::parse(value, country) else {
        return Ok(missing);
    };
    let verified = match hash {
        Some(hash) => constant_time_eq(
            identity_hash(&domain.secret, identity.normalised()).as_bytes(),
            hash.trim().to_ascii_lowercase().as_bytes(),
        ),
        None => false,
    };
    if domain.require_hash && !verified {
        return Ok(missing);
    }
    let candidates = match &identity {
        Identity::Email(email) => store.contacts_by_email(account, email)?,
        Identity::Phone(phone) => store.contacts_by_phone(account, phone)?,
    };
    let Some(contact) = choose(store, account, candidates)? else {
        return Ok(missing);
    };
    let cause = if verified {
        LinkCause::VerifiedTrackUser
    } else {
        LinkCause::TrackUser
    };
    let suid = store.link_visitor(account, contact, current, cause)?;
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

/// One entry of a contact's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HistoryEntry {
    PageView(PageView),
    Event(TrackedEvent),
}

impl HistoryEntry {
    pub fn at(&self) -> Millis {
        match self {
            HistoryEntry::PageView(view) => view.at,
            HistoryEntry::Event(event) => event.at,
        }
    }
}

/// The page views and events of every visitor linked to the contact, newest first.
pub fn contact_history(
    store: &Store,
    account: AccountId,
    contact: ContactId,
    paging: Paging,
) -> DomainResult<Page<HistoryEntry>> {
    store
        .contact(account, contact)?
        .ok_or(DomainError::NotFound(Entity::Contact))?;
    let mut entries = Vec::new();
    for visitor in store.contact_visitors(account, contact)? {
        entries.extend(
            store
                .page_views(account, visitor.suid)?
                .into_iter()
                .map(HistoryEntry::PageView),
        );
        entries.extend(
            store
                .tracked_events(account, visitor.suid)?
                .into_iter()
                .map(HistoryEntry::Event),
        );
    }
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.at()));
    Ok(Page::of(entries, paging))
}

/// One line of a contact's timeline: a logged call or SMS, a page view or a custom event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimelineEntry {
    Activity(Activity),
    PageView(PageView),
    Event(TrackedEvent),
}

impl TimelineEntry {
    pub fn at(&self) -> Millis {
        match self {
            TimelineEntry::Activity(activity) => activity.at,
            TimelineEntry::PageView(view) => view.at,
            TimelineEntry::Event(event) => event.at,
        }
    }
}

/// The contact card's timeline: activities, page views and events, newest first, one page.
pub fn contact_timeline(
    store: &Store,
    account: AccountId,
    contact: ContactId,
    paging: Paging,
) -> DomainResult<Page<TimelineEntry>> {
    let mut entries: Vec<TimelineEntry> = store
        .activities(account, contact)?
        .into_iter()
        .map(TimelineEntry::Activity)
        .collect();
    store
        .contact(account, contact)?
        .ok_or(DomainError::NotFound(Entity::Contact))?;
    for visitor in store.contact_visitors(account, contact)? {
        entries.extend(
            store
                .page_views(account, visitor.suid)?
                .into_iter()
                .map(TimelineEntry::PageView),
        );
        entries.extend(
            store
                .tracked_events(account, visitor.suid)?
                .into_iter()
                .map(TimelineEntry::Event),
        );
    }
    entries.sort_by_key(|entry| std::cmp::Reverse(entry.at()));
    Ok(Page::of(entries, paging))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{add_contact, add_domain, create_account, ContactInput, Principal};

    struct Fixture {
        store: Store,
        account: AccountId,
        domain: SiteDomain,
    }

    fn fixture() -> Fixture {
        let store = Store::open_temporary().expect("store");
        let account = create_account(&store, "shop", None).expect("account").id;
        let domain = add_domain(&store, account, "shop.example.com").expect("domain");
        Fixture {
            store,
            account,
            domain,
        }
    }

    fn contact(f: &Fixture, phone: &str, email: &str, suid: Option<Suid>) -> Contact {
        let principal = Principal {
            account: f.account,
            username: None,
        };
        let input = ContactInput {
            phone: Some(phone.into()),
            email: Some(email.into()),
            suid: suid.map(|s| s.to_string()),
            ..ContactInput::default()
        };
        add_contact(&f.store, &principal, &input).expect("contact")
    }

    #[test]
    fn origins_must_be_the_domain_or_a_subdomain() {
        let f = fixture();
        for (origin, accepted) in [
            ("https://shop.example.com", true),
            ("http://shop.example.com:8080", true),
            ("https://www.shop.example.com", true),
            ("https://evilshop.example.com", false),
            ("https://shop.example.com.evil.net", false),
            ("null", false),
            ("shop.example.com", false),
        ] {
            let site = site_for_origin(&f.store, &f.domain.site_key, origin).expect("store");
            assert_eq!(site.is_some(), accepted, "{origin}");
        }
        assert!(
            site_for_origin(&f.store, "unknown", "https://shop.example.com")
                .expect("store")
                .is_none()
        );
    }

    #[test]
    fn an_anonymous_visitor_is_linked_and_gets_the_canonical_suid() {
        let f = fixture();
        let canonical = Suid::random();
        let known = contact(&f, "500600700", "jan@example.com", Some(canonical));
        let device = Suid::random();
        record_page_view(
            &f.store,
            f.account,
            device,
            "https://shop.example.com/",
            "Home",
            "",
        )
        .expect("view");
        let answer = resolve_identity(
            &f.store,
            f.account,
            &f.domain,
            device,
            " JAN@example.com ",
            None,
        )
        .expect("resolve");
        assert_eq!(
            answer,
            IdentityAnswer {
                success: true,
                suid: canonical,
                message: "Kontakt pobrany"
            }
        );
        let history =
            contact_history(&f.store, f.account, known.id, Paging::default()).expect("history");
        assert_eq!(
            history.items.len(),
            1,
            "the new device's page view joined the contact"
        );
        let by_phone = resolve_identity(
            &f.store,
            f.account,
            &f.domain,
            Suid::random(),
            "500 600 700",
            None,
        )
        .expect("resolve");
        assert!(by_phone.success);
    }

    #[test]
    fn an_english_account_answers_in_english() {
        let store = Store::open_temporary().expect("store");
        let account =
            crate::domain::create_account_with_language(&store, "shop", None, Language::En)
                .expect("account")
                .id;
        let domain = add_domain(&store, account, "shop.example.com").expect("domain");
        let answer = resolve_identity(
            &store,
            account,
            &domain,
            Suid::random(),
            "nobody@example.com",
            None,
        )
        .expect("resolve");
        assert_eq!(answer.message, "Contact not found");
    }

    #[test]
    fn a_visitor_of_another_contact_is_never_relinked() {
        let f = fixture();
        let first = contact(&f, "500600700", "a@example.com", Some(Suid::random()));
        let shared = Suid::random();
        contact(&f, "600700800", "b@example.com", Some(shared));
        let answer = resolve_identity(
            &f.store,
            f.account,
            &f.domain,
            shared,
            "a@example.com",
            None,
        )
        .expect("resolve");
        assert_eq!(
            answer.suid,
            first.suid.expect("canonical"),
            "the cookie may move to the other contact"
        );
        let visitor = f
            .store
            .visitor(f.account, shared)
            .expect("store")
            .expect("visitor");
        assert_ne!(
            visitor.link.map(|l| l.contact),
            Some(first.id),
            "but the visitor stays with its contact"
        );
    }

    #[test]
    fn placeholders_unknown_values_and_bad_hashes_look_the_same() {
        let f = fixture();
        contact(&f, "500600700", "jan@example.com", None);
        let device = Suid::random();
        for value in [
            "",
            "null",
            "undefined",
            "0",
            "guest",
            "12",
            "not-an-email@",
            "nobody@example.com",
        ] {
            let answer = resolve_identity(&f.store, f.account, &f.domain, device, value, None)
                .expect("resolve");
            assert_eq!(
                answer,
                IdentityAnswer {
                    success: false,
                    suid: device,
                    message: "Nie znaleziono kontaktu"
                },
                "{value:?}"
            );
        }
        let strict = f
            .store
            .update_domain(f.account, &f.domain.name, |d| d.require_hash = true)
            .expect("require");
        let wrong = resolve_identity(
            &f.store,
            f.account,
            &strict,
            device,
            "jan@example.com",
            Some("00"),
        )
        .expect("resolve");
        assert!(!wrong.success);
        let hash = identity_hash(&strict.secret, "jan@example.com");
        let right = resolve_identity(
            &f.store,
            f.account,
            &strict,
            device,
            "Jan@Example.com",
            Some(&hash),
        )
        .expect("resolve");
        assert!(right.success);
        let link = f
            .store
            .visitor(f.account, device)
            .expect("store")
            .and_then(|v| v.link)
            .expect("linked");
        assert_eq!(link.cause, LinkCause::VerifiedTrackUser);
    }

    #[test]
    fn among_several_matches_the_recently_active_linked_one_wins_then_the_oldest() {
        let f = fixture();
        let oldest = contact(&f, "500600700", "x1@example.com", None);
        contact(&f, "500600700", "x2@example.com", None);
        let answer = resolve_identity(
            &f.store,
            f.account,
            &f.domain,
            Suid::random(),
            "500600700",
            None,
        )
        .expect("resolve");
        let chosen = f
            .store
            .contact(f.account, oldest.id)
            .expect("store")
            .expect("contact");
        assert_eq!(
            chosen.suid,
            Some(answer.suid),
            "no one linked yet: the oldest"
        );
    }
}
