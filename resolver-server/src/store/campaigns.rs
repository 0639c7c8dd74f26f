//! Campaigns and their records in sled: a record is keyed by campaign and customer, so "a
//! customer is at most once in a campaign" is a property of the key, checked and written in one
//! transaction with the customer's existence.

use super::{decode, decode_tx, encode, fail, keys, Store, StoreError};
use crate::domain::{
    AccountId, Campaign, CampaignId, CampaignRecord, ContactId, DomainError, DomainResult, Entity,
};

/// What inserting a campaign record did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordInsert {
    Added,
    /// The customer already had this record id in the campaign; nothing was written.
    Exists(u64),
    /// The customer is not a contact of the account; nothing was written.
    NoCustomer,
}

impl Store {
    /// Stores a new campaign under the next free five-digit id of the account.
    pub fn insert_campaign(
        &self,
        account: AccountId,
        build: impl Fn(CampaignId) -> Campaign,
    ) -> DomainResult<Campaign> {
        self.transaction(|data, _| {
            let sequence_key = keys::campaign_sequence(account);
            let last = match data.get(&sequence_key)? {
                Some(bytes) => decode_tx::<u32>(&bytes)?,
                None => 0,
            };
            let Some(id) = CampaignId::from_number(last + 1) else {
                return fail(DomainError::InvalidField {
                    field: "campaign",
                    reason: "no free campaign id left",
                });
            };
            let campaign = build(id);
            data.insert(sequence_key, encode(&(last + 1)))?;
            data.insert(keys::campaign(account, &campaign.id), encode(&campaign))?;
            Ok(campaign)
        })
    }

    pub fn campaign(
        &self,
        account: AccountId,
        id: &CampaignId,
    ) -> Result<Option<Campaign>, StoreError> {
        self.get(keys::campaign(account, id))
    }

    pub fn campaigns(&self, account: AccountId) -> Result<Vec<Campaign>, StoreError> {
        self.list(keys::campaigns(account))
    }

    pub fn update_campaign(
        &self,
        account: AccountId,
        id: &CampaignId,
        change: impl Fn(&mut Campaign),
    ) -> DomainResult<Campaign> {
        self.change_record(keys::campaign(account, id), Entity::Campaign, change)
    }

    /// Adds `record` unless its customer is already in the campaign or is not a contact of the
    /// account, in one transaction: concurrent batches never add a customer twice.
    pub fn insert_campaign_record(
        &self,
        account: AccountId,
        campaign: &CampaignId,
        record: &CampaignRecord,
    ) -> DomainResult<RecordInsert> {
        self.transaction(|data, _| {
            let key = keys::campaign_record(account, campaign, record.customer);
            if let Some(bytes) = data.get(&key)? {
                return Ok(RecordInsert::Exists(
                    decode_tx::<CampaignRecord>(&bytes)?.record_id,
                ));
            }
            if data.get(keys::contact(account, record.customer))?.is_none() {
                return Ok(RecordInsert::NoCustomer);
            }
            data.insert(key, encode(record))?;
            Ok(RecordInsert::Added)
        })
    }

    pub fn campaign_record(
        &self,
        account: AccountId,
        campaign: &CampaignId,
        customer: ContactId,
    ) -> Result<Option<CampaignRecord>, StoreError> {
        self.data
            .get(keys::campaign_record(account, campaign, customer))?
            .map(|bytes| decode(&bytes))
            .transpose()
    }

    /// Every record of the campaign, in customer order.
    pub fn campaign_records(
        &self,
        account: AccountId,
        campaign: &CampaignId,
    ) -> Result<Vec<CampaignRecord>, StoreError> {
        self.list(keys::campaign_records_of(account, campaign))
    }

    /// Overwrites an existing record (same customer); fails if it was removed meanwhile.
    pub fn replace_campaign_record(
        &self,
        account: AccountId,
        campaign: &CampaignId,
        record: &CampaignRecord,
    ) -> DomainResult<()> {
        self.transaction(|data, _| {
            let key = keys::campaign_record(account, campaign, record.customer);
            if data.get(&key)?.is_none() {
                return fail(DomainError::NotFound(Entity::Contact));
            }
            data.insert(key, encode(record))?;
            Ok(())
        })
    }

    /// Removes the customer's record; returns its id, or `None` if there was none.
    pub fn remove_campaign_record(
        &self,
        account: AccountId,
        campaign: &CampaignId,
        customer: ContactId,
    ) -> Result<Option<u64>, StoreError> {
        let _guard = self.write_guard();
        let removed = self
            .data
            .remove(keys::campaign_record(account, campaign, customer))?;
        removed
            .map(|bytes| decode::<CampaignRecord>(&bytes).map(|record| record.record_id))
            .transpose()
    }
}
