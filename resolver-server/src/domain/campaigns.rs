//! Outbound call campaigns (Thulium's "crm_outbounds"): campaigns with their status sets, and
//! the records that put a contact (Thulium's customer) into a campaign. Each record is decided
//! alone: it is fully added or refused with a reason, never half-written.

use super::error::{DomainError, DomainResult, Entity};
use super::ids::{AccountId, ContactId};
use super::listing::{Page, Paging};
use super::model::{now_millis, Contact, Millis};
use super::text::check_text;
use crate::store::{RecordInsert, Store};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most records one batch call may carry.
pub const MAX_BATCH_RECORDS: usize = 1000;

/// A campaign id: five digits, `00001`, numbered per account.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CampaignId(String);

impl CampaignId {
    /// Reads a five-digit campaign id.
    pub fn parse(text: &str) -> Option<CampaignId> {
        (text.len() == 5 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| CampaignId(text.to_owned()))
    }

    pub(crate) fn from_number(number: u32) -> Option<CampaignId> {
        (number > 0 && number < 100_000).then(|| CampaignId(format!("{number:05}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CampaignId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a status means to the dialler.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SystemStatus {
    ToCall,
    InProgress,
    Call,
    MyRecord,
    NoCall,
    AbandonedAfterNTries,
    CallNoSoonerThan,
    CallProgressive,
}

impl SystemStatus {
    pub const ALL: [SystemStatus; 8] = [
        SystemStatus::ToCall,
        SystemStatus::InProgress,
        SystemStatus::Call,
        SystemStatus::MyRecord,
        SystemStatus::NoCall,
        SystemStatus::AbandonedAfterNTries,
        SystemStatus::CallNoSoonerThan,
        SystemStatus::CallProgressive,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SystemStatus::ToCall => "TO_CALL",
            SystemStatus::InProgress => "IN_PROGRESS",
            SystemStatus::Call => "CALL",
            SystemStatus::MyRecord => "MY_RECORD",
            SystemStatus::NoCall => "NO_CALL",
            SystemStatus::AbandonedAfterNTries => "ABANDONED_AFTER_N_TRIES",
            SystemStatus::CallNoSoonerThan => "CALL_NO_SOONER_THAN",
            SystemStatus::CallProgressive => "CALL_PROGRESSIVE",
        }
    }

    pub fn parse(text: &str) -> Option<SystemStatus> {
        SystemStatus::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(text.trim()))
    }

    pub(crate) fn needs_agent(self) -> bool {
        self == SystemStatus::MyRecord
    }

    pub(crate) fn needs_next_call_date(self) -> bool {
        matches!(
            self,
            SystemStatus::MyRecord | SystemStatus::CallNoSoonerThan
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignStatus {
    pub id: u32,
    pub name: String,
    pub system: SystemStatus,
    pub dictionary_status_id: Option<u32>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    pub id: CampaignId,
    pub name: String,
    pub statuses: Vec<CampaignStatus>,
    pub created_at: Millis,
}

impl Campaign {
    fn status(&self, id: u32) -> Option<&CampaignStatus> {
        self.statuses.iter().find(|status| status.id == id)
    }

    /// The status new records get when none is named: the first TO_CALL one.
    fn default_status(&self) -> Option<&CampaignStatus> {
        self.statuses
            .iter()
            .find(|status| status.system == SystemStatus::ToCall)
    }
}

/// The status set every new campaign starts with: one status per system status, in the order
/// of [`SystemStatus::ALL`] (so TO_CALL is 1, CALL is 3, MY_RECORD is 4).
fn default_statuses() -> Vec<CampaignStatus> {
    let names = [
        "Nowy",
        "W trakcie",
        "Do zadzwonienia",
        "Mój rekord",
        "Nie dzwonić",
        "Porzucony po N próbach",
        "Zadzwoń nie wcześniej niż",
        "Dzwonienie progresywne",
    ];
    SystemStatus::ALL
        .into_iter()
        .zip(names)
        .zip(1..)
        .map(|((system, name), id)| CampaignStatus {
            id,
            name: name.to_owned(),
            system,
            dictionary_status_id: None,
        })
        .collect()
}

/// One contact in one campaign.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignRecord {
    pub record_id: u64,
    pub customer: ContactId,
    pub status_id: u32,
    pub dictionary_status_id: Option<u32>,
    pub agent_login: Option<String>,
    /// `YYYY-MM-DD hh:mm`, as Thulium writes it.
    pub next_call_date: Option<String>,
    pub order: Option<i64>,
    pub call_date: Option<Millis>,
    pub created_at: Millis,
}

/// What a caller asks for one record. `None` means "not given".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordInput {
    pub customer: ContactId,
    pub status_id: Option<u32>,
    pub dictionary_status_id: Option<u32>,
    pub agent_login: Option<String>,
    pub next_call_date: Option<String>,
    pub order: Option<i64>,
}

/// Why one record was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordRefusal {
    /// No such contact in the account (a contact of another account is the same: not found).
    CustomerNotFound,
    UnknownStatus,
    AgentRequired,
    NextCallDateRequired,
    MalformedNextCallDate,
    UnknownAgent,
}

/// The decision about one record of a batch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordOutcome {
    Added { record_id: u64 },
    AlreadyExists { record_id: u64 },
    Failed(RecordRefusal),
}

const NEXT_CALL_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");

fn check_next_call_date(text: &str) -> Result<String, RecordRefusal> {
    let text = text.trim();
    time::PrimitiveDateTime::parse(text, NEXT_CALL_FORMAT)
        .map_err(|_| RecordRefusal::MalformedNextCallDate)?;
    Ok(text.to_owned())
}

/// Checks a record's status, agent and date against the campaign and the account.
fn check_record(
    store: &Store,
    account: AccountId,
    campaign: &Campaign,
    record: &CampaignRecord,
) -> DomainResult<Result<(), RecordRefusal>> {
    let Some(status) = campaign.status(record.status_id) else {
        return Ok(Err(RecordRefusal::UnknownStatus));
    };
    if status.system.needs_agent() && record.agent_login.is_none() {
        return Ok(Err(RecordRefusal::AgentRequired));
    }
    if status.system.needs_next_call_date() && record.next_call_date.is_none() {
        return Ok(Err(RecordRefusal::NextCallDateRequired));
    }
    if let Some(login) = &record.agent_login {
        if store.user(account, login)?.is_none() {
            return Ok(Err(RecordRefusal::UnknownAgent));
        }
    }
    Ok(Ok(()))
}

fn given(text: &Option<String>) -> Option<&str> {
    text.as_deref().map(str::trim).filter(|t| !t.is_empty())
}

/// Creates a campaign with the default status set; ids count up per account.
pub fn add_campaign(store: &Store, account: AccountId, name: &str) -> DomainResult<Campaign> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::MissingField { field: "name" });
    }
    check_text("name", name, 255)?;
    store.insert_campaign(account, |id| Campaign {
        id,
        name: name.to_owned(),
        statuses: default_statuses(),
        created_at: now_millis(),
    })
}

pub fn campaign(store: &Store, account: AccountId, id: &CampaignId) -> DomainResult<Campaign> {
    store
        .campaign(account, id)?
        .ok_or(DomainError::NotFound(Entity::Campaign))
}

pub fn list_campaigns(store: &Store, account: AccountId) -> DomainResult<Vec<Campaign>> {
    Ok(store.campaigns(account)?)
}

/// Adds a status to a campaign; its id is one more than the highest so far.
pub fn add_campaign_status(
    store: &Store,
    account: AccountId,
    id: &CampaignId,
    name: &str,
    system: SystemStatus,
    dictionary_status_id: Option<u32>,
) -> DomainResult<CampaignStatus> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::MissingField { field: "name" });
    }
    check_text("name", name, 255)?;
    let campaign = store.update_campaign(account, id, |campaign| {
        let next = campaign.statuses.iter().map(|s| s.id).max().unwrap_or(0) + 1;
        campaign.statuses.push(CampaignStatus {
            id: next,
            name: name.to_owned(),
            system,
            dictionary_status_id,
        });
    })?;
    campaign
        .statuses
        .last()
        .cloned()
        .ok_or(DomainError::NotFound(Entity::Campaign))
}

/// Puts each input's customer into the campaign, deciding every record alone (the records
/// that pass their checks are written in one transaction). A customer id repeated in one batch
/// is decided by its first occurrence only (the answer is keyed by customer id), so the answer
/// has one outcome per distinct customer, in input order.
pub fn add_records(
    store: &Store,
    account: AccountId,
    id: &CampaignId,
    inputs: &[RecordInput],
) -> DomainResult<Vec<(ContactId, RecordOutcome)>> {
    if inputs.len() > MAX_BATCH_RECORDS {
        return Err(DomainError::InvalidField {
            field: "records",
            reason: "too many records in one batch",
        });
    }
    let campaign = campaign(store, account, id)?;
    // Refused at once (`Some`), or waiting for the write (`None`, its record in `checked`).
    let mut outcomes: Vec<(ContactId, Option<RecordOutcome>)> = Vec::with_capacity(inputs.len());
    let mut checked = Vec::new();
    for input in inputs {
        if outcomes
            .iter()
            .any(|(customer, _)| *customer == input.customer)
        {
            continue;
        }
        match checked_record(store, account, &campaign, input)? {
            Ok(record) => {
                checked.push(record);
                outcomes.push((input.customer, None));
            }
            Err(refusal) => outcomes.push((input.customer, Some(RecordOutcome::Failed(refusal)))),
        }
    }
    let written = store.insert_campaign_records(account, &campaign.id, &checked)?;
    let mut written = checked.iter().zip(written);
    Ok(outcomes
        .into_iter()
        .map(|(customer, outcome)| {
            let outcome = outcome.unwrap_or_else(|| match written.next() {
                Some((record, RecordInsert::Added)) => RecordOutcome::Added {
                    record_id: record.record_id,
                },
                Some((_, RecordInsert::Exists(existing))) => RecordOutcome::AlreadyExists {
                    record_id: existing,
                },
                // `None` cannot happen (one answer per record); it is no record either.
                Some((_, RecordInsert::NoCustomer)) | None => {
                    RecordOutcome::Failed(RecordRefusal::CustomerNotFound)
                }
            });
            (customer, outcome)
        })
        .collect())
}

/// The record `input` asks for, with a fresh id, or why it is refused.
fn checked_record(
    store: &Store,
    account: AccountId,
    campaign: &Campaign,
    input: &RecordInput,
) -> DomainResult<Result<CampaignRecord, RecordRefusal>> {
    let Some(status_id) = input
        .status_id
        .or_else(|| campaign.default_status().map(|s| s.id))
    else {
        return Ok(Err(RecordRefusal::UnknownStatus));
    };
    let next_call_date = match given(&input.next_call_date)
        .map(check_next_call_date)
        .transpose()
    {
        Ok(date) => date,
        Err(refusal) => return Ok(Err(refusal)),
    };
    let record = CampaignRecord {
        record_id: 0,
        customer: input.customer,
        status_id,
        dictionary_status_id: input.dictionary_status_id,
        agent_login: given(&input.agent_login).map(str::to_owned),
        next_call_date,
        order: input.order,
        call_date: None,
        created_at: now_millis(),
    };
    if let Err(refusal) = check_record(store, account, campaign, &record)? {
        return Ok(Err(refusal));
    }
    Ok(Ok(CampaignRecord {
        record_id: store.next_id()?,
        ..record
    }))
}

/// A record with what a dialler shows next to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordView {
    pub record: CampaignRecord,
    pub status: CampaignStatus,
    pub phone: Option<String>,
}

/// A record on a campaign's list: the record with its customer (`None`: the contact vanished
/// between the two reads).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListedRecord {
    pub view: RecordView,
    pub contact: Option<Contact>,
}

fn listed(
    store: &Store,
    account: AccountId,
    campaign: &Campaign,
    record: CampaignRecord,
) -> DomainResult<ListedRecord> {
    let status = campaign
        .status(record.status_id)
        .cloned()
        .ok_or(DomainError::NotFound(Entity::Campaign))?;
    let contact = store.contact(account, record.customer)?;
    Ok(ListedRecord {
        view: RecordView {
            phone: contact
                .as_ref()
                .map(|contact| contact.phone.as_str().to_owned()),
            record,
            status,
        },
        contact,
    })
}

/// One page of a campaign's records in the order they were added (record id), only those in
/// status `status_id` when it is given (a status the campaign does not have lists nothing).
pub fn campaign_records(
    store: &Store,
    account: AccountId,
    id: &CampaignId,
    status_id: Option<u32>,
    paging: Paging,
) -> DomainResult<Page<ListedRecord>> {
    let campaign = campaign(store, account, id)?;
    let mut records: Vec<CampaignRecord> = store
        .campaign_records(account, id)?
        .into_iter()
        .filter(|record| status_id.is_none_or(|wanted| record.status_id == wanted))
        .collect();
    records.sort_by_key(|record| record.record_id);
    let page = Page::of(records, paging);
    let mut items = Vec::with_capacity(page.items.len());
    for record in page.items.iter().cloned() {
        items.push(listed(store, account, &campaign, record)?);
    }
    Ok(Page {
        items,
        page: page.page,
        pages: page.pages,
        total: page.total,
    })
}

/// Every campaign `contact` is in, with its record there, in campaign order.
pub fn contact_campaigns(
    store: &Store,
    account: AccountId,
    contact: ContactId,
) -> DomainResult<Vec<(Campaign, RecordView)>> {
    let mut found = Vec::new();
    for campaign in store.campaigns(account)? {
        if let Some(record) = store.campaign_record(account, &campaign.id, contact)? {
            let view = listed(store, account, &campaign, record)?.view;
            found.push((campaign, view));
        }
    }
    Ok(found)
}

/// The record of `customer` in the campaign.
pub fn view_record(
    store: &Store,
    account: AccountId,
    id: &CampaignId,
    customer: ContactId,
) -> DomainResult<RecordView> {
    let campaign = campaign(store, account, id)?;
    let record = store
        .campaign_record(account, id, customer)?
        .ok_or(DomainError::NotFound(Entity::Contact))?;
    let status = campaign
        .status(record.status_id)
        .cloned()
        .ok_or(DomainError::NotFound(Entity::Campaign))?;
    let phone = store
        .contact(account, customer)?
        .map(|contact| contact.phone.as_str().to_owned());
    Ok(RecordView {
        record,
        status,
        phone,
    })
}

/// What a record update may change; `None` keeps the current value.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordChange {
    pub status_id: Option<u32>,
    pub dictionary_status_id: Option<u32>,
    pub agent_login: Option<String>,
    pub next_call_date: Option<String>,
    pub order: Option<i64>,
}

/// Changes a record; the result must satisfy the same rules as a new record.
pub fn update_record(
    store: &Store,
    account: AccountId,
    id: &CampaignId,
    customer: ContactId,
    change: &RecordChange,
) -> DomainResult<Result<RecordView, RecordRefusal>> {
    let campaign = campaign(store, account, id)?;
    let mut record = store
        .campaign_record(account, id, customer)?
        .ok_or(DomainError::NotFound(Entity::Contact))?;
    if let Some(status_id) = change.status_id {
        record.status_id = status_id;
    }
    if change.dictionary_status_id.is_some() {
        record.dictionary_status_id = change.dictionary_status_id;
    }
    if let Some(login) = given(&change.agent_login) {
        record.agent_login = Some(login.to_owned());
    }
    if let Some(date) = given(&change.next_call_date) {
        match check_next_call_date(date) {
            Ok(date) => record.next_call_date = Some(date),
            Err(refusal) => return Ok(Err(refusal)),
        }
    }
    if change.order.is_some() {
        record.order = change.order;
    }
    if let Err(refusal) = check_record(store, account, &campaign, &record)? {
        return Ok(Err(refusal));
    }
    store.replace_campaign_record(account, id, &record)?;
    view_record(store, account, id, customer).map(Ok)
}

/// Removes the records of `customers`; for each, the removed record's id or `None` if it was
/// not in the campaign.
pub fn remove_records(
    store: &Store,
    account: AccountId,
    id: &CampaignId,
    customers: &[ContactId],
) -> DomainResult<Vec<(ContactId, Option<u64>)>> {
    campaign(store, account, id)?;
    let mut removed = Vec::with_capacity(customers.len());
    for customer in customers {
        if removed.iter().any(|(seen, _)| seen == customer) {
            continue;
        }
        removed.push((
            *customer,
            store.remove_campaign_record(account, id, *customer)?,
        ));
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::add_user;
    use crate::domain::shop_fixture::shop_with_contact;

    fn setup() -> (Store, AccountId, ContactId, CampaignId) {
        let (store, principal, contact) = shop_with_contact(None);
        let account = principal.account;
        let campaign = add_campaign(&store, account, "Oddzwonienia").expect("campaign");
        (store, account, contact.id, campaign.id)
    }

    fn input(customer: ContactId, status: u32) -> RecordInput {
        RecordInput {
            customer,
            status_id: Some(status),
            dictionary_status_id: None,
            agent_login: None,
            next_call_date: None,
            order: None,
        }
    }

    #[test]
    fn campaign_ids_are_five_digits_counting_up() {
        let (store, account, _, first) = setup();
        assert_eq!(first.as_str(), "00001");
        assert_eq!(
            add_campaign(&store, account, "Druga")
                .expect("campaign")
                .id
                .as_str(),
            "00002"
        );
        assert_eq!(CampaignId::parse("0001"), None);
    }

    #[test]
    fn a_customer_is_added_once_and_then_already_exists() {
        let (store, account, contact, campaign) = setup();
        let first = add_records(&store, account, &campaign, &[input(contact, 3)]).expect("batch");
        let RecordOutcome::Added { record_id } = first[0].1 else {
            panic!("{first:?}")
        };
        let second = add_records(&store, account, &campaign, &[input(contact, 1)]).expect("batch");
        assert_eq!(
            second,
            vec![(contact, RecordOutcome::AlreadyExists { record_id })]
        );
    }

    #[test]
    fn every_refusal_reason() {
        let (store, account, contact, campaign) = setup();
        add_user(&store, account, "j.doe", "password1").expect("agent");
        let cases = [
            (
                RecordInput {
                    customer: ContactId(999_999),
                    ..input(contact, 1)
                },
                RecordRefusal::CustomerNotFound,
            ),
            (input(contact, 77), RecordRefusal::UnknownStatus),
            (input(contact, 4), RecordRefusal::AgentRequired),
            (
                RecordInput {
                    agent_login: Some("j.doe".into()),
                    ..input(contact, 4)
                },
                RecordRefusal::NextCallDateRequired,
            ),
            (
                RecordInput {
                    next_call_date: Some("24.05.2018 12:24".into()),
                    ..input(contact, 7)
                },
                RecordRefusal::MalformedNextCallDate,
            ),
            (
                RecordInput {
                    agent_login: Some("nobody".into()),
                    next_call_date: Some("2018-05-24 12:24".into()),
                    ..input(contact, 4)
                },
                RecordRefusal::UnknownAgent,
            ),
        ];
        for (input, refusal) in cases {
            let outcome = add_records(&store, account, &campaign, std::slice::from_ref(&input))
                .expect("batch");
            assert_eq!(outcome[0].1, RecordOutcome::Failed(refusal), "{input:?}");
        }
        assert!(
            store
                .campaign_record(account, &campaign, contact)
                .expect("store")
                .is_none(),
            "nothing half-written"
        );
        let ok = RecordInput {
            agent_login: Some("j.doe".into()),
            next_call_date: Some("2018-05-24 12:24".into()),
            ..input(contact, 4)
        };
        assert!(matches!(
            add_records(&store, account, &campaign, &[ok]).expect("batch")[0].1,
            RecordOutcome::Added { .. }
        ));
    }

    #[test]
    fn a_repeated_customer_in_one_batch_is_decided_once() {
        let (store, account, contact, campaign) = setup();
        let outcomes = add_records(
            &store,
            account,
            &campaign,
            &[input(contact, 77), input(contact, 1)],
        )
        .expect("batch");
        assert_eq!(
            outcomes,
            vec![(contact, RecordOutcome::Failed(RecordRefusal::UnknownStatus))]
        );
    }
}
