//! Groups of contacts: creation, renaming, deletion (optionally with their contacts), listing.

use super::contacts::check_group_name;
use super::error::{DomainError, DomainResult, Entity};
use super::ids::{AccountId, GroupId};
use super::listing::{Order, Page, Paging};
use super::model::{now_millis, Group};
use crate::store::Store;

/// A group not yet stored, with a fresh id.
pub(super) fn new_group(store: &Store, name: &str) -> DomainResult<Group> {
    let name = check_group_name(name)?;
    Ok(Group {
        id: GroupId(store.next_id()?),
        name: name.to_owned(),
        count: 0,
        created_at: now_millis(),
    })
}

/// Creates an empty group (names up to 100 characters; names need not be unique).
pub fn add_group(store: &Store, account: AccountId, name: &str) -> DomainResult<Group> {
    let group = new_group(store, name)?;
    store.insert_group(account, &group)?;
    Ok(group)
}

pub fn rename_group(
    store: &Store,
    account: AccountId,
    id: GroupId,
    name: &str,
) -> DomainResult<Group> {
    let name = check_group_name(name)?;
    store.rename_group(account, id, name)
}

pub fn view_group(store: &Store, account: AccountId, id: GroupId) -> DomainResult<Group> {
    store
        .group(account, id)?
        .ok_or(DomainError::NotFound(Entity::Group))
}

/// Deletes groups, all or none. Their contacts stay (leaving the group) unless
/// `delete_contacts` is set.
pub fn delete_groups(
    store: &Store,
    account: AccountId,
    ids: &[GroupId],
    delete_contacts: bool,
    erasing: &super::Erasing,
) -> DomainResult<()> {
    if ids.is_empty() {
        return Err(DomainError::MissingField { field: "id" });
    }
    store.delete_groups(account, ids, delete_contacts, &|id| erasing.entry(id))
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GroupQuery {
    /// A phrase looked for in group names, case-insensitively.
    pub search: Option<String>,
    /// Sort by name (otherwise by creation).
    pub sort_by_name: bool,
    pub order: Order,
    pub paging: Paging,
}

pub fn list_groups(
    store: &Store,
    account: AccountId,
    query: &GroupQuery,
) -> DomainResult<Page<Group>> {
    let phrase = query
        .search
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_lowercase);
    let mut groups: Vec<Group> = store
        .groups(account)?
        .into_iter()
        .filter(|group| {
            phrase
                .as_ref()
                .is_none_or(|phrase| group.name.to_lowercase().contains(phrase))
        })
        .collect();
    if query.sort_by_name {
        groups.sort_by_cached_key(|group| (group.name.to_lowercase(), group.id));
    }
    if query.order == Order::Descending {
        groups.reverse();
    }
    Ok(Page::of(groups, query.paging))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::privacy::operator;
    use crate::domain::{add_contact, create_account, ContactInput, Principal};

    fn member(store: &Store, principal: &Principal, group: GroupId) {
        let input = ContactInput {
            phone: Some("500600700".into()),
            groups: Some(vec![group]),
            ..Default::default()
        };
        add_contact(store, principal, &input).expect("add");
    }

    #[test]
    fn counts_follow_membership_and_deleting_a_group_keeps_its_contacts() {
        let store = Store::open_temporary().expect("store");
        let account = create_account(&store, "shop", None).expect("account").id;
        let principal = Principal {
            account,
            username: None,
        };
        let group = add_group(&store, account, "VIP").expect("group");
        member(&store, &principal, group.id);
        member(&store, &principal, group.id);
        assert_eq!(
            view_group(&store, account, group.id).expect("view").count,
            2
        );
        delete_groups(&store, account, &[group.id], false, &operator()).expect("delete");
        assert!(store
            .contacts(account)
            .all(|c| c.expect("contact").groups.is_empty()));
        assert_eq!(store.contacts(account).count(), 2);
    }

    #[test]
    fn deleting_a_group_with_its_contacts_removes_them_from_other_groups_too() {
        let store = Store::open_temporary().expect("store");
        let account = create_account(&store, "shop", None).expect("account").id;
        let principal = Principal {
            account,
            username: None,
        };
        let first = add_group(&store, account, "a").expect("group");
        let second = add_group(&store, account, "b").expect("group");
        let input = ContactInput {
            phone: Some("500600700".into()),
            groups: Some(vec![first.id, second.id]),
            ..Default::default()
        };
        add_contact(&store, &principal, &input).expect("add");
        delete_groups(&store, account, &[first.id], true, &operator()).expect("delete");
        assert_eq!(store.contacts(account).count(), 0);
        assert_eq!(
            view_group(&store, account, second.id).expect("view").count,
            0
        );
        assert_eq!(store.group_member_ids(account, second.id).count(), 0);
    }

    #[test]
    fn group_names_are_limited_to_100_characters() {
        let store = Store::open_temporary().expect("store");
        let account = create_account(&store, "shop", None).expect("account").id;
        assert!(add_group(&store, account, &"g".repeat(100)).is_ok());
        assert!(matches!(
            add_group(&store, account, &"g".repeat(101)),
            Err(DomainError::TooLong { max: 100, .. })
        ));
        assert!(matches!(
            add_group(&store, account, "  "),
            Err(DomainError::MissingField { .. })
        ));
    }
}
