//! The account's blacklist: phones that must never be texted (SerwerSMS `blacklist/*`). A
//! contact's `blacklist` flag is true exactly when its phone is on it; the store keeps the flag
//! in the same transaction as the list.

use super::contacts::parse_phone;
use super::error::{DomainError, DomainResult};
use super::ids::AccountId;
use super::listing::{Page, Paging};
use super::model::{now_millis, Millis};
use super::phone::Phone;
use crate::store::Store;
use serde::{Deserialize, Serialize};

/// One blacklisted phone.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlacklistEntry {
    pub id: u64,
    /// Always a valid number with its E.164 form (read strictly).
    pub phone: Phone,
    pub added: Millis,
}

/// Whether `phone` is on the account's blacklist. A number without an E.164 form (an
/// extension, a PBX's local spelling) never is: only valid numbers can be listed.
pub fn is_blacklisted(store: &Store, account: AccountId, phone: &Phone) -> DomainResult<bool> {
    match phone.e164() {
        Some(e164) => Ok(store.blacklist_entry(account, e164)?.is_some()),
        None => Ok(false),
    }
}

/// Puts a phone (read strictly, in the account's country) on the blacklist and marks every
/// contact with that phone. Adding a listed phone again changes nothing and answers the
/// existing entry.
pub fn add_to_blacklist(
    store: &Store,
    account: AccountId,
    raw: &str,
) -> DomainResult<BlacklistEntry> {
    let phone = parse_phone(store, account, raw)?;
    let entry = BlacklistEntry {
        id: store.next_id()?,
        phone,
        added: now_millis(),
    };
    store.insert_blacklist_entry(account, &entry)
}

/// Whether a phone typed by a caller (read strictly) is on the blacklist.
pub fn check_blacklist(store: &Store, account: AccountId, raw: &str) -> DomainResult<bool> {
    let phone = parse_phone(store, account, raw)?;
    is_blacklisted(store, account, &phone)
}

/// Takes a phone off the blacklist and clears the mark of its contacts. A phone that is not
/// on it is [`DomainError::NotFound`].
pub fn remove_from_blacklist(store: &Store, account: AccountId, raw: &str) -> DomainResult<()> {
    let phone = parse_phone(store, account, raw)?;
    let e164 = phone
        .e164()
        .ok_or(DomainError::InvalidPhone { field: "phone" })?;
    store.delete_blacklist_entry(account, e164)
}

/// The blacklist in phone order, one page. With `phone`, only the entries whose number contains
/// its digits (a whole number is read in the account's country first, so `500600700` finds
/// `+48500600700`).
pub fn list_blacklist(
    store: &Store,
    account: AccountId,
    phone: Option<&str>,
    paging: Paging,
) -> DomainResult<Page<BlacklistEntry>> {
    let wanted = phone.map(str::trim).filter(|p| !p.is_empty());
    let digits = match wanted {
        Some(raw) => {
            let digits = match parse_phone(store, account, raw) {
                Ok(phone) => phone.as_str().trim_start_matches('+').to_owned(),
                Err(_) => raw.chars().filter(char::is_ascii_digit).collect(),
            };
            if digits.is_empty() {
                return Err(DomainError::InvalidPhone { field: "phone" });
            }
            Some(digits)
        }
        None => None,
    };
    let entries = store
        .blacklist(account)?
        .into_iter()
        .filter(|entry| {
            digits
                .as_deref()
                .is_none_or(|digits| entry.phone.as_str().contains(digits))
        })
        .collect();
    Ok(Page::of(entries, paging))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::shop_fixture::shop_with_contact;
    use crate::domain::{add_contact, view_contact, ContactInput, Entity};

    #[test]
    fn listing_a_phone_marks_its_contacts_and_removing_it_clears_them() {
        let (store, principal, contact) = shop_with_contact(None);
        let account = principal.account;
        assert!(!contact.blacklist);
        let first = add_to_blacklist(&store, account, "+48 500 600 700").expect("add");
        let again = add_to_blacklist(&store, account, "500600700").expect("add again");
        assert_eq!(first.id, again.id, "adding twice keeps one entry");
        assert!(
            view_contact(&store, account, contact.id)
                .expect("view")
                .blacklist
        );
        assert!(check_blacklist(&store, account, "48500600700").expect("check"));
        let later = add_contact(
            &store,
            &principal,
            &ContactInput {
                phone: Some("+48500600700".into()),
                ..Default::default()
            },
        )
        .expect("later contact");
        assert!(later.blacklist, "a contact added later is marked too");
        remove_from_blacklist(&store, account, "500600700").expect("remove");
        assert!(
            !view_contact(&store, account, contact.id)
                .expect("view")
                .blacklist
        );
        assert!(
            !view_contact(&store, account, later.id)
                .expect("view")
                .blacklist
        );
        assert!(matches!(
            remove_from_blacklist(&store, account, "500600700"),
            Err(DomainError::NotFound(Entity::BlacklistedPhone))
        ));
        assert!(matches!(
            add_to_blacklist(&store, account, "0123"),
            Err(DomainError::InvalidPhone { .. })
        ));
    }
}
