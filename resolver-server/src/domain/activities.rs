//! Activities on a contact: calls and text messages logged by telephony software (TelefUM's
//! `addevent`), each with its author. They join the contact's page views on its timeline.

use super::error::{DomainError, DomainResult, Entity};
use super::ids::{AccountId, ContactId};
use super::model::{now_millis, ContactKind, Millis, Principal};
use super::phone::Phone;
use super::text::check_text;
use crate::store::Store;
use serde::{Deserialize, Serialize};

/// Longest subject, in characters.
pub const MAX_SUBJECT_LEN: usize = 255;
/// Longest description, in characters.
pub const MAX_ACTIVITY_DESCRIPTION_LEN: usize = 4000;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub id: u64,
    pub contact: ContactId,
    pub subject: String,
    pub description: String,
    /// The user whose credentials logged it.
    pub author: Option<String>,
    /// The PBX line the call or message went through (E.164 when it has that form), if given.
    #[serde(default)]
    pub line: Option<String>,
    pub at: Millis,
}

/// An event reported by telephony software (TelefUM's `addevent`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventInput {
    pub contact: ContactId,
    /// The type the caller believes the contact has; a different one is refused.
    pub kind: Option<ContactKind>,
    pub subject: String,
    pub description: String,
    /// The PBX number (`x_pstn`), as the PBX wrote it.
    pub line: Option<String>,
}

/// Logs a telephony event on a contact of the principal's account, after checking that the
/// contact has the type the caller named (`InvalidField { field: "typecont" }` otherwise).
pub fn log_event(
    store: &Store,
    principal: &Principal,
    event: &EventInput,
) -> DomainResult<Activity> {
    let contact = store
        .contact(principal.account, event.contact)?
        .ok_or(DomainError::NotFound(Entity::Contact))?;
    if event.kind.is_some_and(|kind| kind != contact.kind) {
        return Err(DomainError::InvalidField {
            field: "typecont",
            reason: "does not match the contact's type",
        });
    }
    let line = event
        .line
        .as_deref()
        .map(str::trim)
        .filter(|line| !line.is_empty());
    if let Some(line) = line {
        check_text("x_pstn", line, MAX_SUBJECT_LEN)?;
    }
    let country = super::contacts::account_country(store, principal.account)?;
    let line = line.map(|line| {
        Phone::dialable(line, country)
            .map_or_else(|| line.to_owned(), |phone| phone.as_str().to_owned())
    });
    insert_activity(
        store,
        principal,
        event.contact,
        &event.subject,
        &event.description,
        line,
    )
}

/// Logs an activity on a contact of the principal's account.
pub fn add_activity(
    store: &Store,
    principal: &Principal,
    contact: ContactId,
    subject: &str,
    description: &str,
) -> DomainResult<Activity> {
    insert_activity(store, principal, contact, subject, description, None)
}

/// Checks the texts, then stores the activity, authored by the principal's user, at now.
fn insert_activity(
    store: &Store,
    principal: &Principal,
    contact: ContactId,
    subject: &str,
    description: &str,
    line: Option<String>,
) -> DomainResult<Activity> {
    let subject = subject.trim();
    check_text("subject", subject, MAX_SUBJECT_LEN)?;
    check_text("description", description, MAX_ACTIVITY_DESCRIPTION_LEN)?;
    let activity = Activity {
        id: store.next_id()?,
        contact,
        subject: subject.to_owned(),
        description: description.trim().to_owned(),
        author: principal.username.clone(),
        line,
        at: now_millis(),
    };
    store.insert_activity(principal.account, &activity)?;
    Ok(activity)
}

/// A contact's activities, newest first.
pub fn contact_activities(
    store: &Store,
    account: AccountId,
    contact: ContactId,
) -> DomainResult<Vec<Activity>> {
    store
        .contact(account, contact)?
        .ok_or(DomainError::NotFound(Entity::Contact))?;
    let mut activities = store.activities(account, contact)?;
    activities.reverse();
    Ok(activities)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::delete_contacts;
    use crate::domain::privacy::operator;
    use crate::domain::shop_fixture::shop_with_contact;

    #[test]
    fn activities_belong_to_an_existing_contact_and_carry_their_author() {
        let (store, principal, contact) = shop_with_contact(Some("operator"));
        let account = principal.account;
        add_activity(
            &store,
            &principal,
            contact.id,
            "Połączenie przychodzące",
            "3:54",
        )
        .expect("first");
        let second =
            add_activity(&store, &principal, contact.id, "SMS", "Dziękujemy").expect("second");
        let listed = contact_activities(&store, account, contact.id).expect("list");
        assert_eq!(
            listed
                .iter()
                .map(|a| a.subject.as_str())
                .collect::<Vec<_>>(),
            ["SMS", "Połączenie przychodzące"]
        );
        assert_eq!(second.author.as_deref(), Some("operator"));
        assert!(matches!(
            add_activity(&store, &principal, ContactId(999_999), "x", ""),
            Err(DomainError::NotFound(Entity::Contact))
        ));
        delete_contacts(&store, account, &[contact.id], &operator()).expect("delete");
        assert!(
            store
                .activities(account, contact.id)
                .expect("store")
                .is_empty(),
            "a deleted contact's activities go too"
        );
    }
}
