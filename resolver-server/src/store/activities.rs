//! Activities (calls, SMS) under their contact, written only while the contact exists.

use super::{decode, encode, fail, keys, Store, StoreError};
use crate::domain::{AccountId, Activity, ContactId, DomainError, DomainResult, Entity};

impl Store {
    /// Stores an activity, in one transaction with the check that its contact exists.
    pub fn insert_activity(&self, account: AccountId, activity: &Activity) -> DomainResult<()> {
        self.transaction(|data, _| {
            if data
                .get(keys::contact(account, activity.contact))?
                .is_none()
            {
                return fail(DomainError::NotFound(Entity::Contact));
            }
            data.insert(
                keys::activity(account, activity.contact, activity.at, activity.id),
                encode(activity),
            )?;
            Ok(())
        })
    }

    /// A contact's activities, oldest first.
    pub fn activities(
        &self,
        account: AccountId,
        contact: ContactId,
    ) -> Result<Vec<Activity>, StoreError> {
        self.data
            .scan_prefix(keys::activities(account, contact))
            .values()
            .map(|value| decode(&value?))
            .collect()
    }
}
