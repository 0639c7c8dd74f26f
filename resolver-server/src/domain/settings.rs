//! What an account's settings pages and commands list: accounts, users, API tokens, site
//! domains and groups. Reads only; the writes live beside their rules (`accounts.rs`,
//! `groups.rs`).

use super::error::DomainResult;
use super::ids::{AccountId, GroupId};
use super::model::{Account, ApiToken, ApiUser, Group, SiteDomain};
use crate::store::Store;

/// Every account (the operator's `account list`).
pub fn list_accounts(store: &Store) -> DomainResult<Vec<Account>> {
    Ok(store.accounts()?)
}

/// The account's API users.
pub fn list_users(store: &Store, account: AccountId) -> DomainResult<Vec<ApiUser>> {
    Ok(store.users(account)?)
}

/// The account's API tokens (digests and prefixes only; a secret is shown once, when made).
pub fn list_tokens(store: &Store, account: AccountId) -> DomainResult<Vec<ApiToken>> {
    Ok(store.tokens(account)?)
}

/// The account's site domains with their keys and verification switch.
pub fn list_domains(store: &Store, account: AccountId) -> DomainResult<Vec<SiteDomain>> {
    Ok(store.domains(account)?)
}

/// Every group of the account, in creation order.
pub fn all_groups(store: &Store, account: AccountId) -> DomainResult<Vec<Group>> {
    Ok(store.groups(account)?)
}

/// The groups among `ids` that still exist, in the order given.
pub fn groups_by_id(
    store: &Store,
    account: AccountId,
    ids: &[GroupId],
) -> DomainResult<Vec<Group>> {
    let mut groups = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(group) = store.group(account, *id)? {
            groups.push(group);
        }
    }
    Ok(groups)
}
