//! What the tracker reports: page views and custom events of a visitor, the site a report
//! belongs to (site key *and* the page's origin), identity resolution (trackUser), and a
//! contact's history: the page views and events of every visitor linked to it.
//!
//! Spec: `shared/spec/tracker.md`, sections trackUser, Identity rules, Resolver endpoints.

use super::activities::Activity;
use super::deliveries::Delivery;
use super::email::Email;
use super::error::{DomainError, DomainResult, Entity};
use super::ids::{AccountId, ContactId, Suid};
use super::listing::{Page, Paging};
use super::model::{now_millis, Contact, Language, LinkCause, Millis, SiteDomain};
use super::phone::{Country, Phone};
use super::text::is_xml_char;
use super::traffic::{IdentityOutcome, Tally};
use crate::store::Store;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

mod history;
mod identity;
mod site;

pub use history::*;
pub use identity::*;
pub use site::*;

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

/// Control characters and the non-characters XML cannot hold never belong in a URL or a title;
/// drop them rather than refuse a beacon.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|&c| !c.is_control() && is_xml_char(c))
        .collect()
}

fn limited(field: &'static str, text: &str, max: usize) -> DomainResult<String> {
    if text.chars().count() > max {
        return Err(DomainError::TooLong { field, max });
    }
    Ok(clean(text))
}

/// Records a page view of visitor `suid` (created if never seen; its `last_seen` moves to now),
/// in one transaction with the visitor. Control characters are dropped. Errors: `MissingField`
/// without a URL, `TooLong` for a URL or referrer over [`MAX_URL_LEN`] characters or a title
/// over [`MAX_TITLE_LEN`]. Not flushed.
pub fn record_page_view(
    store: &Store,
    account: AccountId,
    suid: Suid,
    url: &str,
    title: &str,
    referrer: &str,
) -> DomainResult<PageView> {
    record_page_view_at(store, account, suid, url, title, referrer, now_millis())
}

/// [`record_page_view`] at a given time (imports of older data, tests of time windows). The
/// account's page-view rules are evaluated before it returns: a firing's deliveries are in the
/// outbox by then.
pub fn record_page_view_at(
    store: &Store,
    account: AccountId,
    suid: Suid,
    url: &str,
    title: &str,
    referrer: &str,
    at: Millis,
) -> DomainResult<PageView> {
    let view = PageView {
        id: store.next_id()?,
        suid,
        url: limited("url", url, MAX_URL_LEN)?,
        title: limited("title", title, MAX_TITLE_LEN)?,
        referrer: limited("referrer", referrer, MAX_URL_LEN)?,
        at,
    };
    if view.url.is_empty() {
        return Err(DomainError::MissingField { field: "url" });
    }
    store.insert_page_view(account, &view)?;
    super::automation::after_page_view(store, account, &view)?;
    Ok(view)
}

/// Records a custom event of visitor `suid` (created if never seen; its `last_seen` moves to
/// now). `props` is a JSON object already serialised. Errors: `MissingField` without a name,
/// `TooLong` for a name over [`MAX_EVENT_NAME_LEN`] characters, props over
/// [`MAX_EVENT_PROPS_LEN`] bytes or a URL over [`MAX_URL_LEN`]. Not flushed.
pub fn record_event(
    store: &Store,
    account: AccountId,
    suid: Suid,
    name: &str,
    props: &str,
    url: &str,
) -> DomainResult<TrackedEvent> {
    record_event_at(store, account, suid, name, props, url, now_millis())
}

/// [`record_event`] at a given time. The account's event rules are evaluated before it
/// returns.
pub fn record_event_at(
    store: &Store,
    account: AccountId,
    suid: Suid,
    name: &str,
    props: &str,
    url: &str,
    at: Millis,
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
        at,
    };
    store.insert_tracked_event(account, &event)?;
    super::automation::after_event(store, account, &event)?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::privacy::operator;
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

    impl Fixture {
        /// trackUser with `value` and no hash, from the visitor `current` of the fixture's site.
        fn resolve(&self, current: Suid, value: &str) -> IdentityAnswer {
            resolve_identity(
                &self.store,
                self.account,
                &self.domain,
                current,
                value,
                None,
            )
            .expect("resolve")
        }
    }

    fn site_of(store: &Store, origin: &str) -> Option<(AccountId, String)> {
        site_for_origin(store, "", origin)
            .expect("store")
            .map(|(account, domain)| (account, domain.name))
    }

    #[test]
    fn without_a_key_the_longest_registered_domain_of_the_origin_decides() {
        let f = fixture();
        let parent = create_account(&f.store, "parent", None)
            .expect("account")
            .id;
        add_domain(&f.store, parent, "example.com").expect("parent domain");
        let shop = Some((f.account, "shop.example.com".to_owned()));
        let example = Some((parent, "example.com".to_owned()));
        assert_eq!(site_of(&f.store, "https://shop.example.com"), shop);
        assert_eq!(site_of(&f.store, "https://m.shop.example.com:8443"), shop);
        assert_eq!(site_of(&f.store, "https://example.com"), example);
        assert_eq!(site_of(&f.store, "https://blog.example.com"), example);
        assert_eq!(site_of(&f.store, "https://other.org"), None);
        assert_eq!(site_of(&f.store, "https://shop.example.com.evil.org"), None);
        assert_eq!(site_of(&f.store, "null"), None);
    }

    #[test]
    fn a_domain_of_another_account_is_refused_with_a_clear_message() {
        let f = fixture();
        let other = create_account(&f.store, "other", None).expect("account").id;
        let refused = add_domain(&f.store, other, "https://SHOP.example.com/").expect_err("taken");
        assert!(
            refused
                .to_string()
                .contains("another account has registered this domain"),
            "{refused}"
        );
        assert!(f.store.domains(other).expect("domains").is_empty());
        // The owner's own second registration is the old "already exists".
        assert!(matches!(
            add_domain(&f.store, f.account, "shop.example.com"),
            Err(DomainError::AlreadyExists(_))
        ));
        add_domain(&f.store, other, "eu.shop.example.com").expect("a subdomain is another domain");
    }

    #[test]
    fn a_domain_two_accounts_share_from_before_the_rule_needs_the_key_and_is_reported() {
        let f = fixture();
        let other = create_account(&f.store, "other", None).expect("account").id;
        // A store from before domain owners were indexed: the second account got the name too.
        f.store.forget_domain_owners("shop.example.com");
        let twin = add_domain(&f.store, other, "shop.example.com").expect("no index yet");
        assert_eq!(
            shared_domains(&f.store).expect("rebuild"),
            ["shop.example.com"]
        );
        assert_eq!(site_of(&f.store, "https://shop.example.com"), None);
        for (key, account) in [(&f.domain.site_key, f.account), (&twin.site_key, other)] {
            let site = site_for_origin(&f.store, key, "https://shop.example.com").expect("store");
            assert_eq!(site.map(|(owner, _)| owner), Some(account));
        }
        let third = create_account(&f.store, "third", None).expect("account").id;
        assert!(add_domain(&f.store, third, "shop.example.com").is_err());
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
        let answer = f.resolve(device, " JAN@example.com ");
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
        let by_phone = f.resolve(Suid::random(), "500 600 700");
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
        let answer = f.resolve(shared, "a@example.com");
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
            let answer = f.resolve(device, value);
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
        let answer = f.resolve(Suid::random(), "500600700");
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

    #[test]
    fn reports_over_their_bounds_are_refused_and_store_nothing() {
        let f = fixture();
        let suid = Suid::random();
        let long_url = format!("https://shop.example.com/{}", "a".repeat(MAX_URL_LEN));
        let long_title = "t".repeat(MAX_TITLE_LEN + 1);
        let cases = [
            record_page_view(&f.store, f.account, suid, &long_url, "", "").map(|_| ()),
            record_page_view(&f.store, f.account, suid, "https://s/", &long_title, "").map(|_| ()),
            record_page_view(&f.store, f.account, suid, "https://s/", "", &long_url).map(|_| ()),
            record_page_view(&f.store, f.account, suid, "", "", "").map(|_| ()),
            record_event(&f.store, f.account, suid, &"n".repeat(101), "{}", "").map(|_| ()),
            record_event(&f.store, f.account, suid, " ", "{}", "").map(|_| ()),
            record_event(
                &f.store,
                f.account,
                suid,
                "big",
                &format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_EVENT_PROPS_LEN)),
                "",
            )
            .map(|_| ()),
        ];
        for (index, outcome) in cases.into_iter().enumerate() {
            assert!(
                matches!(
                    outcome,
                    Err(DomainError::TooLong { .. } | DomainError::MissingField { .. })
                ),
                "case {index}: {outcome:?}"
            );
        }
        assert!(f.store.visitor(f.account, suid).expect("store").is_none());
    }

    #[test]
    fn an_event_from_an_unseen_visitor_creates_it() {
        let f = fixture();
        let suid = Suid::random();
        record_event(
            &f.store,
            f.account,
            suid,
            "signup",
            "{\"plan\":1}",
            "https://s/",
        )
        .expect("event");
        let visitor = f
            .store
            .visitor(f.account, suid)
            .expect("store")
            .expect("visitor");
        assert_eq!((visitor.suid, visitor.link), (suid, None));
    }

    #[test]
    fn a_contact_without_a_suid_takes_the_visitors() {
        let f = fixture();
        let known = contact(&f, "500600700", "jan@example.com", None);
        let device = Suid::random();
        let answer = f.resolve(device, "+48 500 600 700");
        assert_eq!((answer.success, answer.suid), (true, device));
        let stored = f
            .store
            .contact(f.account, known.id)
            .expect("store")
            .expect("contact");
        assert_eq!(stored.suid, Some(device));
        let link = f
            .store
            .visitor(f.account, device)
            .expect("store")
            .and_then(|v| v.link);
        assert_eq!(
            link.map(|l| (l.contact, l.cause)),
            Some((known.id, LinkCause::TrackUser))
        );
    }

    #[test]
    fn a_visitor_of_another_contact_gets_a_fresh_suid_for_a_contact_without_one() {
        let f = fixture();
        let shared = Suid::random();
        let owner = contact(&f, "600700800", "b@example.com", Some(shared));
        let other = contact(&f, "500600700", "a@example.com", None);
        let answer = f.resolve(shared, "a@example.com");
        assert!(answer.success);
        assert_ne!(
            answer.suid, shared,
            "the other contact's suid is never handed out"
        );
        let stored = f
            .store
            .contact(f.account, other.id)
            .expect("store")
            .expect("contact");
        assert_eq!(stored.suid, Some(answer.suid));
        let link = f
            .store
            .visitor(f.account, shared)
            .expect("store")
            .and_then(|v| v.link);
        assert_eq!(link.map(|l| l.contact), Some(owner.id));
    }

    #[test]
    fn a_visitor_of_a_deleted_contact_is_anonymous_again() {
        let f = fixture();
        let device = Suid::random();
        let gone = contact(&f, "600700800", "gone@example.com", Some(device));
        crate::domain::delete_contacts(&f.store, f.account, &[gone.id], &operator())
            .expect("delete");
        let known = contact(&f, "500600700", "jan@example.com", Some(Suid::random()));
        f.resolve(device, "jan@example.com");
        let link = f
            .store
            .visitor(f.account, device)
            .expect("store")
            .and_then(|v| v.link);
        assert_eq!(link.map(|l| l.contact), Some(known.id));
    }

    #[test]
    fn among_several_matches_the_one_with_a_visitor_wins_over_the_oldest() {
        let f = fixture();
        contact(&f, "500600700", "x1@example.com", None);
        let canonical = Suid::random();
        let seen = contact(&f, "500600700", "x2@example.com", Some(canonical));
        let answer = f.resolve(Suid::random(), "500600700");
        assert_eq!(answer.suid, canonical, "contact {} has a visitor", seen.id);
    }

    #[test]
    fn a_rate_limited_call_is_refused_in_the_accounts_language() {
        let store = Store::open_temporary().expect("store");
        let account =
            crate::domain::create_account_with_language(&store, "shop", None, Language::En)
                .expect("account")
                .id;
        let device = Suid::random();
        assert_eq!(
            refuse_identity(&store, account, device).expect("refuse"),
            IdentityAnswer::refused(device, Language::En)
        );
        assert_eq!(
            IdentityAnswer::refused(device, Language::En).message,
            "Contact not found"
        );
    }

    #[test]
    fn history_is_newest_first_and_paged() {
        let f = fixture();
        let suid = Suid::random();
        let known = contact(&f, "500600700", "jan@example.com", Some(suid));
        for path in ["a", "b", "c"] {
            record_page_view(
                &f.store,
                f.account,
                suid,
                &format!("https://s/{path}"),
                "",
                "",
            )
            .expect("view");
        }
        let first = contact_history(&f.store, f.account, known.id, Paging::new(Some(1), Some(2)))
            .expect("history");
        assert_eq!((first.total, first.pages, first.items.len()), (3, 2, 2));
        let urls: Vec<&str> = first
            .items
            .iter()
            .map(|entry| match entry {
                HistoryEntry::PageView(view) => view.url.as_str(),
                HistoryEntry::Event(event) => event.name.as_str(),
                HistoryEntry::Rule(delivery) => delivery.rule_name.as_str(),
            })
            .collect();
        assert_eq!(urls, ["https://s/c", "https://s/b"]);
        assert!(matches!(
            contact_history(&f.store, f.account, ContactId(9_999), Paging::default()),
            Err(DomainError::NotFound(Entity::Contact))
        ));
    }
}
