//! Every key the store writes is built here and nowhere else.
//!
//! Tenant data lives in the `data` tree under `account id (u64 BE) | kind (u8) | rest`, so an
//! account's records are one contiguous range and no key of one account is a prefix of
//! another's. The `auth` tree holds the only keys that do not start with an account id: the
//! look-ups that *find* the account (user name, token hash, site key, account name).

use crate::domain::{AccountId, CampaignId, ContactId, DeliveryId, GroupId, RuleId, Suid};

const ACCOUNT: u8 = 0x01;
const USER: u8 = 0x02;
const TOKEN: u8 = 0x03;
const DOMAIN: u8 = 0x04;
const CONTACT: u8 = 0x10;
const GROUP: u8 = 0x11;
const PHONE_INDEX: u8 = 0x12;
const EMAIL_INDEX: u8 = 0x13;
const GROUP_MEMBER: u8 = 0x14;
const VISITOR: u8 = 0x20;
const CONTACT_VISITOR: u8 = 0x21;
const PAGE_VIEW: u8 = 0x22;
const TRACKED_EVENT: u8 = 0x23;
const PHONE_TAIL_INDEX: u8 = 0x15;
const DIALED_INDEX: u8 = 0x16;
const BLACKLIST: u8 = 0x17;
const CONTACT_ORDER: u8 = 0x18;
const CONTACT_COUNT: u8 = 0x19;
const ACTIVITY: u8 = 0x40;
const CAMPAIGN: u8 = 0x30;
const CAMPAIGN_SEQUENCE: u8 = 0x31;
const CAMPAIGN_RECORD: u8 = 0x32;
const RULE: u8 = 0x50;
const RULE_STATS: u8 = 0x51;
const FIRING_MARK: u8 = 0x52;
const FIRING: u8 = 0x53;
const DELIVERY: u8 = 0x54;
const CONTACT_DELIVERY: u8 = 0x55;
const SMS_GATEWAY: u8 = 0x56;
const AUDIT: u8 = 0x60;
const PRIVACY_SETTINGS: u8 = 0x61;
const TRAFFIC_PENDING: u8 = 0x70;
const TRAFFIC_DAY: u8 = 0x71;
const TRAFFIC_SEEN: u8 = 0x72;

/// The readiness probe's key, in sled's default tree (neither `data` nor `auth`).
pub const READINESS_PROBE: &[u8] = b"readiness-probe";

/// Separates a variable-length value from the id that follows it in index keys; phone numbers
/// and e-mail addresses never contain a NUL byte.
const SEPARATOR: u8 = 0x00;

fn start(account: AccountId, kind: u8, capacity: usize) -> Vec<u8> {
    let mut key = Vec::with_capacity(9 + capacity);
    key.extend_from_slice(&account.0.to_be_bytes());
    key.push(kind);
    key
}

fn with_u64(mut key: Vec<u8>, value: u64) -> Vec<u8> {
    key.extend_from_slice(&value.to_be_bytes());
    key
}

fn with_text(mut key: Vec<u8>, text: &str) -> Vec<u8> {
    key.extend_from_slice(text.as_bytes());
    key.push(SEPARATOR);
    key
}

/// Reads the trailing big-endian u64 of a key (an id after a prefix).
pub fn trailing_id(key: &[u8]) -> Option<u64> {
    let tail: [u8; 8] = key.get(key.len().checked_sub(8)?..)?.try_into().ok()?;
    Some(u64::from_be_bytes(tail))
}

pub fn account(account: AccountId) -> Vec<u8> {
    start(account, ACCOUNT, 0)
}

pub fn user(account: AccountId, username: &str) -> Vec<u8> {
    with_text(start(account, USER, username.len() + 1), username)
}

pub fn users(account: AccountId) -> Vec<u8> {
    start(account, USER, 0)
}

pub fn token(account: AccountId, prefix: &str) -> Vec<u8> {
    with_text(start(account, TOKEN, prefix.len() + 1), prefix)
}

pub fn tokens(account: AccountId) -> Vec<u8> {
    start(account, TOKEN, 0)
}

pub fn domain(account: AccountId, name: &str) -> Vec<u8> {
    with_text(start(account, DOMAIN, name.len() + 1), name)
}

pub fn domains(account: AccountId) -> Vec<u8> {
    start(account, DOMAIN, 0)
}

pub fn contact(account: AccountId, id: ContactId) -> Vec<u8> {
    with_u64(start(account, CONTACT, 8), id.0)
}

/// The account and id of a contact record's key (`None` for any other key).
pub fn contact_of(key: &[u8]) -> Option<(AccountId, ContactId)> {
    if key.len() != 17 || key[8] != CONTACT {
        return None;
    }
    let account = u64::from_be_bytes(key[..8].try_into().ok()?);
    Some((AccountId(account), ContactId(trailing_id(key)?)))
}

pub fn contacts(account: AccountId) -> Vec<u8> {
    start(account, CONTACT, 0)
}

pub fn group(account: AccountId, id: GroupId) -> Vec<u8> {
    with_u64(start(account, GROUP, 8), id.0)
}

pub fn groups(account: AccountId) -> Vec<u8> {
    start(account, GROUP, 0)
}

/// `phone_index(a, p)` is the prefix of every entry for phone `p`; append a contact id for one.
pub fn phone_index(account: AccountId, e164: &str) -> Vec<u8> {
    with_text(start(account, PHONE_INDEX, e164.len() + 9), e164)
}

pub fn phone_entry(account: AccountId, e164: &str, contact: ContactId) -> Vec<u8> {
    with_u64(phone_index(account, e164), contact.0)
}

/// The last nine digits of a phone: finds a caller however a PBX formats the number.
pub fn phone_tail_index(account: AccountId, tail: &str) -> Vec<u8> {
    with_text(start(account, PHONE_TAIL_INDEX, tail.len() + 9), tail)
}

pub fn phone_tail_entry(account: AccountId, tail: &str, contact: ContactId) -> Vec<u8> {
    with_u64(phone_tail_index(account, tail), contact.0)
}

/// The digits of a phone as typed (no `+`), for contacts whose number was typed in another
/// form than E.164 (a PBX's `0123456789`, an extension): finds them by the same digits.
pub fn dialed_index(account: AccountId, digits: &str) -> Vec<u8> {
    with_text(start(account, DIALED_INDEX, digits.len() + 9), digits)
}

pub fn dialed_entry(account: AccountId, digits: &str, contact: ContactId) -> Vec<u8> {
    with_u64(dialed_index(account, digits), contact.0)
}

/// One phone on the account's blacklist, by its E.164 form; the entries of an account are in
/// phone order.
pub fn blacklist_entry(account: AccountId, e164: &str) -> Vec<u8> {
    with_text(start(account, BLACKLIST, e164.len() + 1), e164)
}

pub fn blacklist(account: AccountId) -> Vec<u8> {
    start(account, BLACKLIST, 0)
}

/// A contact's activities (calls, SMS) in time order: `contact | time | id`.
pub fn activities(account: AccountId, contact: ContactId) -> Vec<u8> {
    with_u64(start(account, ACTIVITY, 24), contact.0)
}

pub fn activity(account: AccountId, contact: ContactId, at: i64, id: u64) -> Vec<u8> {
    let mut key = activities(account, contact);
    key.extend_from_slice(&(at.max(0) as u64).to_be_bytes());
    with_u64(key, id)
}

pub fn email_index(account: AccountId, email: &str) -> Vec<u8> {
    with_text(start(account, EMAIL_INDEX, email.len() + 9), email)
}

pub fn email_entry(account: AccountId, email: &str, contact: ContactId) -> Vec<u8> {
    with_u64(email_index(account, email), contact.0)
}

pub fn group_members(account: AccountId, group: GroupId) -> Vec<u8> {
    with_u64(start(account, GROUP_MEMBER, 16), group.0)
}

pub fn group_member(account: AccountId, group: GroupId, contact: ContactId) -> Vec<u8> {
    with_u64(group_members(account, group), contact.0)
}

/// How many bytes of a sort key an order entry holds; longer keys are cut there and flagged
/// (PostgreSQL's B-tree takes entries up to about 2,700 bytes, and an escaped byte takes two).
pub const ORDER_KEY_BYTES: usize = 512;

/// The order entries of one sort column (PostgreSQL only; `store/contact_orders.rs`).
pub fn contact_orders(account: AccountId, column: u8) -> Vec<u8> {
    let mut key = start(account, CONTACT_ORDER, 1);
    key.push(column);
    key
}

/// A contact's place in the order of one sort column: the column's sort key (its first
/// [`ORDER_KEY_BYTES`] bytes, each NUL escaped as `00 ff`), `00 01` when that is the whole key
/// or `00 02` when it was cut, then the contact's id. Byte order of these keys is the order of
/// (sort key, id), except among cut keys with the same first bytes, which fall in id order.
pub fn contact_order(account: AccountId, column: u8, sort_key: &str, id: ContactId) -> Vec<u8> {
    let bytes = sort_key.as_bytes();
    let kept = &bytes[..bytes.len().min(ORDER_KEY_BYTES)];
    let mut key = contact_orders(account, column);
    key.reserve(kept.len() + 10);
    for &byte in kept {
        key.push(byte);
        if byte == 0 {
            key.push(0xff);
        }
    }
    key.extend_from_slice(&[0, if kept.len() < bytes.len() { 2 } else { 1 }]);
    with_u64(key, id.0)
}

/// How many contacts of the account `scope` covers (0: all, 1: those in no group), as a
/// counter (PostgreSQL only; `store/contact_orders.rs`): this key holds the folded count, and
/// keys that extend it hold changes not yet folded in.
pub fn contact_count(account: AccountId, scope: u8) -> Vec<u8> {
    let mut key = start(account, CONTACT_COUNT, 17);
    key.push(scope);
    key
}

/// One change of a contact counter, under a key no other change has (`unique`: random).
pub fn contact_count_change(account: AccountId, scope: u8, unique: u128) -> Vec<u8> {
    let mut key = contact_count(account, scope);
    key.extend_from_slice(&unique.to_be_bytes());
    key
}

/// What an order entry's key holds past its column's prefix: the escaped first bytes of the
/// sort key, whether the key was cut, and the contact's id (`None` for another kind of key).
pub fn order_entry_of(key: &[u8]) -> Option<(&[u8], bool, ContactId)> {
    if key.len() < 20 || key[8] != CONTACT_ORDER {
        return None;
    }
    let (rest, id) = key.split_at(key.len() - 8);
    let (escaped, end) = rest[10..].split_at(rest.len() - 12);
    let cut = match end {
        [0, 1] => false,
        [0, 2] => true,
        _ => return None,
    };
    Some((escaped, cut, ContactId(trailing_id(id)?)))
}

pub fn visitor(account: AccountId, suid: Suid) -> Vec<u8> {
    let mut key = start(account, VISITOR, 16);
    key.extend_from_slice(suid.0.as_bytes());
    key
}

pub fn contact_visitors(account: AccountId, contact: ContactId) -> Vec<u8> {
    with_u64(start(account, CONTACT_VISITOR, 24), contact.0)
}

pub fn contact_visitor(account: AccountId, contact: ContactId, suid: Suid) -> Vec<u8> {
    let mut key = contact_visitors(account, contact);
    key.extend_from_slice(suid.0.as_bytes());
    key
}

fn visitor_prefix(account: AccountId, kind: u8, suid: Suid) -> Vec<u8> {
    let mut key = start(account, kind, 32);
    key.extend_from_slice(suid.0.as_bytes());
    key
}

/// A visitor's page views in time order: `suid | time | id`.
pub fn page_views(account: AccountId, suid: Suid) -> Vec<u8> {
    visitor_prefix(account, PAGE_VIEW, suid)
}

pub fn page_view(account: AccountId, suid: Suid, at: i64, id: u64) -> Vec<u8> {
    let key = with_u64(page_views(account, suid), at.max(0) as u64);
    with_u64(key, id)
}

/// A visitor's custom events in time order: `suid | time | id`.
pub fn tracked_events(account: AccountId, suid: Suid) -> Vec<u8> {
    visitor_prefix(account, TRACKED_EVENT, suid)
}

pub fn tracked_event(account: AccountId, suid: Suid, at: i64, id: u64) -> Vec<u8> {
    let key = with_u64(tracked_events(account, suid), at.max(0) as u64);
    with_u64(key, id)
}

/// Reads the suid at the end of a `contact_visitor` key.
pub fn trailing_suid(key: &[u8]) -> Option<Suid> {
    let tail: [u8; 16] = key.get(key.len().checked_sub(16)?..)?.try_into().ok()?;
    Some(Suid(uuid::Uuid::from_bytes(tail)))
}

pub fn campaign(account: AccountId, id: &CampaignId) -> Vec<u8> {
    let mut key = start(account, CAMPAIGN, 5);
    key.extend_from_slice(id.as_str().as_bytes());
    key
}

pub fn campaigns(account: AccountId) -> Vec<u8> {
    start(account, CAMPAIGN, 0)
}

/// The last campaign number given out in the account.
pub fn campaign_sequence(account: AccountId) -> Vec<u8> {
    start(account, CAMPAIGN_SEQUENCE, 0)
}

pub fn campaign_record(account: AccountId, campaign: &CampaignId, customer: ContactId) -> Vec<u8> {
    let mut key = start(account, CAMPAIGN_RECORD, 13);
    key.extend_from_slice(campaign.as_str().as_bytes());
    with_u64(key, customer.0)
}

pub fn rule(account: AccountId, id: RuleId) -> Vec<u8> {
    with_u64(start(account, RULE, 8), id.0)
}

pub fn rules(account: AccountId) -> Vec<u8> {
    start(account, RULE, 0)
}

pub fn rule_stats(account: AccountId, id: RuleId) -> Vec<u8> {
    with_u64(start(account, RULE_STATS, 8), id.0)
}

/// When a rule last fired for a contact: `rule | contact`.
pub fn firing_mark(account: AccountId, rule: RuleId, contact: ContactId) -> Vec<u8> {
    with_u64(firing_marks(account, rule), contact.0)
}

pub fn firing_marks(account: AccountId, rule: RuleId) -> Vec<u8> {
    with_u64(start(account, FIRING_MARK, 16), rule.0)
}

/// A rule's firings in the order they happened (ids grow): `rule | firing`.
pub fn firing(account: AccountId, rule: RuleId, firing: u64) -> Vec<u8> {
    with_u64(firings(account, rule), firing)
}

pub fn firings(account: AccountId, rule: RuleId) -> Vec<u8> {
    with_u64(start(account, FIRING, 16), rule.0)
}

pub fn delivery(account: AccountId, id: DeliveryId) -> Vec<u8> {
    with_u64(start(account, DELIVERY, 8), id.0)
}

/// A contact's deliveries in the order they were created: `contact | delivery`.
pub fn contact_delivery(account: AccountId, contact: ContactId, id: DeliveryId) -> Vec<u8> {
    with_u64(contact_deliveries(account, contact), id.0)
}

pub fn contact_deliveries(account: AccountId, contact: ContactId) -> Vec<u8> {
    with_u64(start(account, CONTACT_DELIVERY, 16), contact.0)
}

/// Every campaign record of the account (`campaign | customer`).
pub fn campaign_records(account: AccountId) -> Vec<u8> {
    start(account, CAMPAIGN_RECORD, 0)
}

/// Every firing mark of the account, whatever the rule (`rule | contact`).
pub fn all_firing_marks(account: AccountId) -> Vec<u8> {
    start(account, FIRING_MARK, 0)
}

/// Every firing of the account, whatever the rule (deleted rules' logs included).
pub fn all_firings(account: AccountId) -> Vec<u8> {
    start(account, FIRING, 0)
}

/// The account's audit log in time order: `time | id`.
pub fn audit_entry(account: AccountId, at: i64, id: u64) -> Vec<u8> {
    with_u64(with_u64(audit_log(account), at.max(0) as u64), id)
}

pub fn audit_log(account: AccountId) -> Vec<u8> {
    start(account, AUDIT, 16)
}

/// The account's data-protection settings (retention).
pub fn privacy_settings(account: AccountId) -> Vec<u8> {
    start(account, PRIVACY_SETTINGS, 0)
}

/// Every visitor record of the account.
pub fn all_visitors(account: AccountId) -> Vec<u8> {
    start(account, VISITOR, 0)
}

/// Every page view of the account, whatever the visitor.
pub fn all_page_views(account: AccountId) -> Vec<u8> {
    start(account, PAGE_VIEW, 0)
}

/// Every custom event of the account, whatever the visitor.
pub fn all_tracked_events(account: AccountId) -> Vec<u8> {
    start(account, TRACKED_EVENT, 0)
}

/// The time in a page-view or event key (`suid | time | id`).
pub fn visitor_entry_time(key: &[u8]) -> Option<i64> {
    let end = key.len().checked_sub(8)?;
    let bytes: [u8; 8] = key.get(end.checked_sub(8)?..end)?.try_into().ok()?;
    i64::try_from(u64::from_be_bytes(bytes)).ok()
}

/// The page views (or events) of visitor `suid` up to and including time `at`: the upper
/// bound of a range scan (exclusive), for retention and erasure sweeps.
pub fn visitor_range_end(prefix: &[u8], at: i64) -> Vec<u8> {
    with_u64(prefix.to_vec(), (at.max(0) as u64).saturating_add(1))
}

/// A count not yet added to the traffic aggregates (`store/traffic.rs`), under a random id.
pub fn traffic_pending(account: AccountId, id: &[u8; 16]) -> Vec<u8> {
    let mut key = start(account, TRAFFIC_PENDING, 16);
    key.extend_from_slice(id);
    key
}

/// Every pending count of the account.
pub fn all_traffic_pending(account: AccountId) -> Vec<u8> {
    start(account, TRAFFIC_PENDING, 0)
}

/// The traffic aggregates of one day (days since the Unix epoch, UTC) and site domain
/// (`""`: what belongs to no site, such as rule firings): `day | domain`.
pub fn traffic_day(account: AccountId, day: u32, domain: &str) -> Vec<u8> {
    with_text(traffic_days_from(account, day), domain)
}

/// The lower bound of the aggregates of days `day` and later (a range scan's start).
pub fn traffic_days_from(account: AccountId, day: u32) -> Vec<u8> {
    let mut key = start(account, TRAFFIC_DAY, 4 + 64);
    key.extend_from_slice(&day.to_be_bytes());
    key
}

/// Reads day and domain back from a `traffic_day` key.
pub fn parse_traffic_day(key: &[u8]) -> Option<(u32, String)> {
    let rest = key.get(9..)?;
    let day = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
    let domain = rest.get(4..)?.strip_suffix(&[SEPARATOR])?;
    Some((day, String::from_utf8(domain.to_vec()).ok()?))
}

/// That visitor `suid` was counted on `day` for site `domain`: `day | suid | domain`.
pub fn traffic_seen(account: AccountId, day: u32, suid: Suid, domain: &str) -> Vec<u8> {
    with_text(traffic_seen_visitor(account, day, suid), domain)
}

/// Every site a visitor was counted for on `day`.
pub fn traffic_seen_visitor(account: AccountId, day: u32, suid: Suid) -> Vec<u8> {
    let mut key = traffic_seen_from(account, day);
    key.extend_from_slice(suid.0.as_bytes());
    key
}

/// The lower bound of the seen marks of days `day` and later.
pub fn traffic_seen_from(account: AccountId, day: u32) -> Vec<u8> {
    let mut key = start(account, TRAFFIC_SEEN, 4 + 16 + 64);
    key.extend_from_slice(&day.to_be_bytes());
    key
}

/// Every seen mark of the account.
pub fn all_traffic_seen(account: AccountId) -> Vec<u8> {
    start(account, TRAFFIC_SEEN, 0)
}

/// The records of one campaign, in customer order.
pub fn campaign_records_of(account: AccountId, campaign: &CampaignId) -> Vec<u8> {
    let mut key = start(account, CAMPAIGN_RECORD, 13);
    key.extend_from_slice(campaign.as_str().as_bytes());
    key
}

pub fn sms_gateway(account: AccountId) -> Vec<u8> {
    start(account, SMS_GATEWAY, 0)
}

/// Keys of the `outbox` tree: the deliveries waiting for an attempt, in the order they are
/// due, `due time (ms, u64 BE) | account | delivery`. The only other keys without an account
/// prefix: the worker serves every account.
pub mod outbox {
    use crate::domain::{AccountId, DeliveryId, Millis};

    pub fn due(at: Millis, account: AccountId, delivery: DeliveryId) -> Vec<u8> {
        let mut key = Vec::with_capacity(24);
        key.extend_from_slice(&(at.max(0) as u64).to_be_bytes());
        key.extend_from_slice(&account.0.to_be_bytes());
        key.extend_from_slice(&delivery.0.to_be_bytes());
        key
    }

    /// Queued firings (see `domain::QueuedFiring`) sort after every due entry: a due key
    /// starts with its time, whose first byte stays 0 for the next two million years.
    pub const QUEUED_FIRINGS: [u8; 1] = [0xff];

    pub fn queued_firing(account: AccountId, firing: u64) -> Vec<u8> {
        let mut key = Vec::with_capacity(17);
        key.extend_from_slice(&QUEUED_FIRINGS);
        key.extend_from_slice(&account.0.to_be_bytes());
        key.extend_from_slice(&firing.to_be_bytes());
        key
    }

    /// The account of a queued firing's key.
    pub fn parse_queued_firing(key: &[u8]) -> Option<AccountId> {
        match key {
            [0xff, account @ .., _, _, _, _, _, _, _, _] if account.len() == 8 => {
                Some(AccountId(u64::from_be_bytes(account.try_into().ok()?)))
            }
            _ => None,
        }
    }

    /// Reads a due key back.
    pub fn parse_due(key: &[u8]) -> Option<(Millis, AccountId, DeliveryId)> {
        let number = |range: std::ops::Range<usize>| -> Option<u64> {
            Some(u64::from_be_bytes(key.get(range)?.try_into().ok()?))
        };
        if key.len() != 24 {
            return None;
        }
        Some((
            number(0..8)? as Millis,
            AccountId(number(8..16)?),
            DeliveryId(number(16..24)?),
        ))
    }
}

/// Keys of the `auth` tree: each maps to the id of the account it belongs to.
pub mod auth {
    const USERNAME: u8 = 0x01;
    const TOKEN_SHA256: u8 = 0x02;
    const SITE_KEY: u8 = 0x03;
    const ACCOUNT_NAME: u8 = 0x04;
    const SESSION: u8 = 0x05;
    const DOMAIN_OWNERS: u8 = 0x06;

    fn tagged(tag: u8, text: &str) -> Vec<u8> {
        let mut key = Vec::with_capacity(1 + text.len());
        key.push(tag);
        key.extend_from_slice(text.as_bytes());
        key
    }

    pub fn username(username: &str) -> Vec<u8> {
        tagged(USERNAME, username)
    }

    pub fn token_sha256(sha256_hex: &str) -> Vec<u8> {
        tagged(TOKEN_SHA256, sha256_hex)
    }

    pub fn site_key(site_key: &str) -> Vec<u8> {
        tagged(SITE_KEY, site_key)
    }

    pub fn account_name(name: &str) -> Vec<u8> {
        tagged(ACCOUNT_NAME, name)
    }

    pub fn session(sha256_hex: &str) -> Vec<u8> {
        tagged(SESSION, sha256_hex)
    }

    /// A registered domain name → the accounts that registered it (8-byte ids, one account
    /// for every domain registered since domains became unique; more only in older stores).
    pub fn domain_owners(name: &str) -> Vec<u8> {
        tagged(DOMAIN_OWNERS, name)
    }

    /// Every account-name key: the list of accounts.
    pub fn account_names() -> Vec<u8> {
        vec![ACCOUNT_NAME]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_keys_are_what_the_postgresql_search_index_covers() {
        // migrations/V2__contact_search.sql: `length(key) = 17 AND get_byte(key, 8) = 16`.
        let key = contact(AccountId(3), ContactId(u64::MAX));
        assert_eq!(key.len(), 17);
        assert_eq!(key[8], 16);
        assert_eq!(contact_of(&key), Some((AccountId(3), ContactId(u64::MAX))));
        assert_eq!(contact_of(&contacts(AccountId(3))), None);
    }

    fn order_of(sort_key: &str, id: u64) -> Vec<u8> {
        contact_order(AccountId(1), 3, sort_key, ContactId(id))
    }

    #[test]
    fn order_entries_give_back_their_parts() {
        let long = "ż".repeat(ORDER_KEY_BYTES);
        for (sort_key, cut) in [("", false), ("a\0b", false), (long.as_str(), true)] {
            let key = order_of(sort_key, 77);
            let (escaped, was_cut, id) = order_entry_of(&key).expect("an order entry");
            assert_eq!((was_cut, id), (cut, ContactId(77)), "{sort_key:?}");
            assert!(key.starts_with(&contact_orders(AccountId(1), 3)));
            if !cut {
                assert_eq!(
                    escaped.len(),
                    sort_key.len() + sort_key.matches('\0').count()
                );
            }
        }
        assert_eq!(order_entry_of(&contact(AccountId(1), ContactId(1))), None);
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Order entries sort as (sort key, id) do, except that two cut keys with the same
        /// first bytes fall in id order.
        #[test]
        fn order_entries_sort_as_their_keys(
            a in "[a\\x00\\x01\\xff]{0,6}",
            b in "[a\\x00\\x01\\xff]{0,6}",
            pad in proptest::prop_oneof![
                proptest::strategy::Just(0usize),
                proptest::strategy::Just(ORDER_KEY_BYTES - 3),
                proptest::strategy::Just(ORDER_KEY_BYTES),
            ],
            ids in (0u64..4, 0u64..4),
        ) {
            let a = format!("{}{a}", "x".repeat(pad));
            let b = format!("{}{b}", "x".repeat(pad));
            let cut = |text: &str| text.len() > ORDER_KEY_BYTES;
            let same_cut_prefix = cut(&a) && cut(&b)
                && a.as_bytes()[..ORDER_KEY_BYTES] == b.as_bytes()[..ORDER_KEY_BYTES];
            let expected = if same_cut_prefix {
                ids.0.cmp(&ids.1)
            } else {
                (a.as_str(), ids.0).cmp(&(b.as_str(), ids.1))
            };
            proptest::prop_assert_eq!(order_of(&a, ids.0).cmp(&order_of(&b, ids.1)), expected);
        }
    }

    #[test]
    fn no_account_prefix_contains_another_accounts_keys() {
        let a = contacts(AccountId(1));
        let b = contact(AccountId(256), ContactId(1));
        assert!(!b.starts_with(&a));
        assert!(contact(AccountId(1), ContactId(7)).starts_with(&a));
    }

    #[test]
    fn index_prefix_of_one_phone_does_not_match_a_longer_phone() {
        let short = phone_index(AccountId(1), "+4850060070");
        let long = phone_entry(AccountId(1), "+48500600700", ContactId(3));
        assert!(!long.starts_with(&short));
        assert_eq!(trailing_id(&long), Some(3));
    }

    #[test]
    fn page_view_keys_give_back_their_time() {
        let key = page_view(AccountId(3), Suid::random(), 1_700_000_000_123, 42);
        assert_eq!(visitor_entry_time(&key), Some(1_700_000_000_123));
        assert!(key.starts_with(&all_page_views(AccountId(3))));
    }

    #[test]
    fn traffic_day_keys_read_back_and_sort_by_day() {
        let key = traffic_day(AccountId(2), 20_000, "shop.example.com");
        assert_eq!(
            parse_traffic_day(&key),
            Some((20_000, "shop.example.com".to_owned()))
        );
        assert!(key < traffic_days_from(AccountId(2), 20_001));
        assert!(key >= traffic_days_from(AccountId(2), 20_000));
        assert!(campaign_record(
            AccountId(2),
            &CampaignId::parse("00001").expect("id"),
            ContactId(5)
        )
        .starts_with(&campaign_records_of(
            AccountId(2),
            &CampaignId::parse("00001").expect("id")
        )));
    }

    #[test]
    fn visitor_keys_round_trip_their_suid() {
        let suid = Suid::random();
        assert_eq!(
            trailing_suid(&contact_visitor(AccountId(9), ContactId(4), suid)),
            Some(suid)
        );
    }
}
