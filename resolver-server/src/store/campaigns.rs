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

    /// Adds each of `records` unless its customer is already in the campaign or is not a
    /// contact of the account, all in one transaction: concurrent batches never add a customer
    /// twice. One outcome per record, in order. One transaction for a whole batch, not one per
    /// record: each sled transaction rolls sled's log buffer twice, two small writes of their
    /// own (each followed by `sync_file_range` on sled's IO threads) that a flush waits for in
    /// order, so a Thulium batch of 100 records cost 200 of them.
    pub fn insert_campaign_records(
        &self,
        account: AccountId,
        campaign: &CampaignId,
        records: &[CampaignRecord],
    ) -> DomainResult<Vec<RecordInsert>> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        self.transaction(|data, _| {
            let mut outcomes = Vec::with_capacity(records.len());
            for record in records {
                let key = keys::campaign_record(account, campaign, record.customer);
                let outcome = if let Some(bytes) = data.get(&key)? {
                    RecordInsert::Exists(decode_tx::<CampaignRecord>(&bytes)?.record_id)
                } else if data.get(keys::contact(account, record.customer))?.is_none() {
                    RecordInsert::NoCustomer
                } else {
                    data.insert(key, encode(record))?;
                    RecordInsert::Added
                };
                outcomes.push(outcome);
            }
            Ok(outcomes)
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
