//! Data protection: who erased what (the audit log), the access export, retention.
//!
//! The audit log holds no personal data: the contact's id (never reused), when, who and
//! through which door. What erasing removes is listed in `store/privacy.rs`.

use super::model::{Contact, Millis, Principal, SiteDomain, VisitorLink};
use super::{
    AccountId, Activity, CampaignId, CampaignRecord, ContactId, Delivery, DeliveryAction,
    DomainError, DomainResult, Entity, Firing, FiringMark, GroupId, PageView, Suid, TrackedEvent,
    HIDDEN_SECRET,
};
use crate::store::{Store, StoreError};
use serde::{Deserialize, Serialize};

/// Who asked for a change: kept in the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Actor {
    /// A SerwerSMS API user (by user name) or a token (no user name).
    Api { api: String, user: Option<String> },
    /// A signed-in admin.
    Admin { user: String },
    /// The operator at the command line.
    Operator,
}

impl Actor {
    /// The caller of an API, as its principal names it.
    pub fn api(api: &str, principal: &Principal) -> Actor {
        Actor::Api {
            api: api.to_owned(),
            user: principal.username.clone(),
        }
    }

    /// How the admin page and the CLI show it.
    pub fn describe(&self) -> String {
        match self {
            Actor::Api {
                api,
                user: Some(user),
            } => format!("{api} API user {user}"),
            Actor::Api { api, user: None } => format!("{api} API token"),
            Actor::Admin { user } => format!("admin {user}"),
            Actor::Operator => "operator (command line)".to_owned(),
        }
    }
}

/// What was done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    /// The contact and everything stored about it was erased.
    ContactErased,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::ContactErased => "contact_erased",
        }
    }
}

/// One line of the audit log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEntry {
    pub at: Millis,
    pub action: AuditAction,
    pub contact: ContactId,
    pub by: Actor,
    /// The call or page it came through (`contacts/delete`, `groups/delete`, `admin`).
    pub via: String,
}

/// How a delete is recorded: who, through which call, at what time.
#[derive(Clone, Debug)]
pub struct Erasing {
    pub by: Actor,
    pub via: &'static str,
    pub at: Millis,
}

impl Erasing {
    pub fn new(by: Actor, via: &'static str) -> Erasing {
        Erasing {
            by,
            via,
            at: super::now_millis(),
        }
    }

    pub(crate) fn entry(&self, contact: ContactId) -> AuditEntry {
        AuditEntry {
            at: self.at,
            action: AuditAction::ContactErased,
            contact,
            by: self.by.clone(),
            via: self.via.to_owned(),
        }
    }
}

/// The account's audit log, oldest first.
pub fn audit_log(store: &Store, account: super::AccountId) -> Result<Vec<AuditEntry>, StoreError> {
    store.audit_log(account)
}

/// An erasure by the operator, for tests.
#[cfg(test)]
pub(crate) fn operator() -> Erasing {
    Erasing::new(Actor::Operator, "test")
}

/// Everything stored about one contact: the access export (documented field by field in the
/// README, "What ssrm stores").
#[derive(Clone, Debug, Serialize)]
pub struct ContactExport {
    /// `ssrm-contact-export/1`.
    pub format: &'static str,
    pub exported_at: Millis,
    pub contact: Contact,
    pub groups: Vec<ExportGroup>,
    /// Whether the contact's phone is on the account's blacklist (no SMS, no campaigns).
    pub blacklisted: bool,
    pub visitors: Vec<ExportVisitor>,
    pub activities: Vec<Activity>,
    pub campaign_records: Vec<ExportCampaignRecord>,
    pub rule_firings: Vec<ExportFiring>,
    pub deliveries: Vec<Delivery>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExportGroup {
    pub id: GroupId,
    pub name: String,
}

/// One browser linked to the contact, with why and when it was linked, and its history.
#[derive(Clone, Debug, Serialize)]
pub struct ExportVisitor {
    pub suid: Suid,
    pub first_seen: Millis,
    pub last_seen: Millis,
    pub link: Option<VisitorLink>,
    pub page_views: Vec<PageView>,
    pub events: Vec<TrackedEvent>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ExportCampaignRecord {
    pub campaign: CampaignId,
    pub campaign_name: String,
    pub record: CampaignRecord,
}

/// A rule firing, with the rule's name (if it still exists) and how often it fired for the
/// contact (its mark).
#[derive(Clone, Debug, Serialize)]
pub struct ExportFiring {
    pub rule_name: Option<String>,
    pub firing: Firing,
    pub mark: Option<FiringMark>,
}

pub const EXPORT_FORMAT: &str = "ssrm-contact-export/1";

/// The access export of contact `id` at time `now`. Webhook secrets (the shop's, not the
/// contact's) are shown as hidden.
pub fn export_contact(
    store: &Store,
    account: AccountId,
    id: ContactId,
    now: Millis,
) -> DomainResult<ContactExport> {
    let contact = store
        .contact(account, id)?
        .ok_or(DomainError::NotFound(Entity::Contact))?;
    let groups = contact
        .groups
        .iter()
        .filter_map(|group| store.group(account, *group).transpose())
        .map(|group| {
            group.map(|group| ExportGroup {
                id: group.id,
                name: group.name,
            })
        })
        .collect::<Result<_, _>>()?;
    let mut visitors = Vec::new();
    for visitor in store.contact_visitors(account, id)? {
        visitors.push(ExportVisitor {
            page_views: store.page_views(account, visitor.suid)?,
            events: store.tracked_events(account, visitor.suid)?,
            suid: visitor.suid,
            first_seen: visitor.first_seen,
            last_seen: visitor.last_seen,
            link: visitor.link,
        });
    }
    let mut campaign_records = Vec::new();
    for campaign in store.campaigns(account)? {
        if let Some(record) = store.campaign_record(account, &campaign.id, id)? {
            campaign_records.push(ExportCampaignRecord {
                campaign: campaign.id,
                campaign_name: campaign.name,
                record,
            });
        }
    }
    let mut rule_firings = Vec::new();
    for firing in store.contact_firings(account, id)? {
        let rule = store.rule(account, firing.rule)?;
        rule_firings.push(ExportFiring {
            rule_name: rule.map(|rule| rule.spec.name),
            mark: store.firing_mark(account, firing.rule, id)?,
            firing,
        });
    }
    let mut deliveries = store.contact_deliveries(account, id)?;
    for delivery in &mut deliveries {
        if let DeliveryAction::Webhook(hook) = &mut delivery.action {
            HIDDEN_SECRET.clone_into(&mut hook.secret);
        }
    }
    Ok(ContactExport {
        format: EXPORT_FORMAT,
        exported_at: now,
        blacklisted: super::is_blacklisted(store, account, &contact.phone)?,
        groups,
        visitors,
        activities: store.activities(account, id)?,
        campaign_records,
        rule_firings,
        deliveries,
        contact,
    })
}

/// How long page views and events are kept by default: about 13 months, like the tracker's
/// cookie (395 days).
pub const DEFAULT_RETENTION_DAYS: u32 = 395;
/// The longest retention an account may set (ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;
const DAY_MILLIS: Millis = 86_400_000;

/// An account's data-protection settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacySettings {
    /// Page views and events older than this many days are deleted.
    pub retention_days: u32,
}

/// What a purge deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Purged {
    pub page_views: u64,
    pub events: u64,
    /// Anonymous visitors (never linked to a contact) last seen before the cutoff.
    pub visitors: u64,
}

/// The account's retention period in days (the default if never set).
pub fn retention_days(store: &Store, account: AccountId) -> DomainResult<u32> {
    Ok(store
        .privacy_settings(account)?
        .map_or(DEFAULT_RETENTION_DAYS, |settings| settings.retention_days))
}

/// Sets the account's retention period: 1 to [`MAX_RETENTION_DAYS`] days.
pub fn set_retention_days(store: &Store, account: AccountId, days: u32) -> DomainResult<()> {
    if !(1..=MAX_RETENTION_DAYS).contains(&days) {
        return Err(DomainError::InvalidField {
            field: "retention_days",
            reason: "must be between 1 and 3650 days",
        });
    }
    let mut settings = store.privacy_settings(account)?.unwrap_or(PrivacySettings {
        retention_days: DEFAULT_RETENTION_DAYS,
    });
    settings.retention_days = days;
    store.put_privacy_settings(account, &settings)?;
    Ok(())
}

/// Keys deleted per write by a purge.
const PURGE_BATCH: usize = 1000;

/// Deletes the account's page views and events older than its retention period at time
/// `now`, and anonymous visitors not seen since. Rule counts and firings are kept (they are
/// counters and the record of what was done; a contact's are erased with the contact).
pub fn purge_expired(store: &Store, account: AccountId, now: Millis) -> DomainResult<Purged> {
    let days = retention_days(store, account)?;
    let cutoff = now.saturating_sub(Millis::from(days) * DAY_MILLIS);
    Ok(store.purge_before(account, cutoff, PURGE_BATCH)?)
}

/// The privacy signals a browser sent with a request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BrowserSignals {
    /// `Sec-GPC: 1` (Global Privacy Control).
    pub global_privacy_control: bool,
    /// `DNT: 1` (Do Not Track).
    pub do_not_track: bool,
}

impl BrowserSignals {
    /// Whether a site that honours these signals must store nothing from the request.
    pub fn refuse(self, domain: &SiteDomain) -> bool {
        domain.honour_browser_signals && (self.global_privacy_control || self.do_not_track)
    }
}

/// Switches honouring GPC/DNT on or off for one of the account's domains.
pub fn set_honour_browser_signals(
    store: &Store,
    account: AccountId,
    domain: &str,
    on: bool,
) -> DomainResult<SiteDomain> {
    let name = super::normalise_domain(domain)?;
    store.update_domain(account, &name, |domain| domain.honour_browser_signals = on)
}
