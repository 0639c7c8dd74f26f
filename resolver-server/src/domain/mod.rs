//! The domain: plain Rust rules about accounts, contacts, groups and visitors. It knows nothing
//! of HTTP or of any wire format; every function takes the acting account (or principal) first,
//! so no call path can reach across accounts.

mod accounts;
mod activities;
mod automation;
mod blacklist;
mod campaigns;
mod contacts;
mod deliveries;
mod email;
mod error;
mod groups;
mod ids;
mod limits;
mod listing;
mod model;
mod phone;
mod privacy;
mod rules;
mod sessions;
mod settings;
#[cfg(test)]
mod shop_fixture;
mod text;
mod tracking;
mod traffic;
mod visitors;

pub use accounts::{
    account_named, add_domain, add_user, authenticate_login, authenticate_password,
    authenticate_token, create_account, create_account_with_language, create_token,
    normalise_domain, require_hash, revoke_token, set_require_hash, AuthFailure, LoginAttempt,
    LoginThrottle, NewToken,
};
pub use activities::{add_activity, contact_activities, log_event, Activity, EventInput};
pub use blacklist::{
    add_to_blacklist, check_blacklist, is_blacklisted, list_blacklist, remove_from_blacklist,
    BlacklistEntry,
};
pub use campaigns::{
    add_campaign, add_campaign_status, add_records, campaign, campaign_records, contact_campaigns,
    list_campaigns, remove_records, update_record, view_record, Campaign, CampaignId,
    CampaignRecord, CampaignStatus, ListedRecord, RecordChange, RecordInput, RecordOutcome,
    RecordRefusal, RecordView, SystemStatus, MAX_BATCH_RECORDS,
};
pub use contacts::{
    add_contact, contacts_by_caller_number, delete_contacts, edit_contact, edit_contact_with,
    groups_of_phone, import_contacts, list_contacts, reindex_contacts, view_contact, Blanks,
    ContactInput, ContactListItem, ContactQuery, ContactSort, GroupFilter, ImportReport,
    PhoneGroup, PhoneReading,
};
pub use deliveries::{
    apply_local_action, may_text, pending_delivery, record_attempt, retry_gap, rule_log,
    set_sms_gateway, settle_firings, sms_gateway, waiting_deliveries, Attempt, AttemptOutcome,
    ContactSnapshot, Delivery, DeliveryAction, DeliveryState, Firing, FiringMark,
    GatewayCredentials, QueuedFiring, SmsGateway, TriggerInfo, TriggerKind, GIVE_UP_AFTER,
};
pub use email::Email;
pub use error::{DomainError, DomainResult, Entity};
pub use groups::{add_group, delete_groups, list_groups, rename_group, view_group, GroupQuery};
pub use ids::{AccountId, ContactId, DeliveryId, GroupId, RuleId, Suid};
pub use limits::{IngestLimits, IngestQuota, OverQuota};
pub use listing::{Order, Page, Paging};
pub use model::{
    formatted, now_millis, rfc3339, Account, ApiToken, ApiUser, Contact, ContactKind, Group,
    Language, LinkCause, Millis, Principal, SiteDomain, Visitor, VisitorLink,
};
pub use phone::{Country, Phone, DIALABLE_DIGITS, TAIL_DIGITS};
pub use privacy::{
    audit_log, export_contact, purge_expired, retention_days, set_honour_browser_signals,
    set_retention_days, Actor, AuditAction, AuditEntry, BrowserSignals, ContactExport, Erasing,
    ExportCampaignRecord, ExportFiring, ExportGroup, ExportVisitor, PrivacySettings, Purged,
    DEFAULT_RETENTION_DAYS, EXPORT_FORMAT, MAX_RETENTION_DAYS,
};
pub use rules::{
    add_rule, delete_rule, is_public_address, keep_hidden_secrets, list_rules, parse_rule,
    rule_stats, set_rule_enabled, shown_spec, update_rule, validate_rule, view_rule, Action,
    CampaignAction, EventPattern, Nothing, OnlyIf, Rule, RuleError, RuleSet, RuleSpec, RuleState,
    RuleStats, SavedRule, SmsAction, Trigger, UrlPattern, WebhookAction, When, HIDDEN_SECRET,
};
pub use sessions::{
    close_session, constant_time_eq, find_session, open_session, random_token, Session,
};
pub use settings::{
    all_groups, groups_by_id, list_accounts, list_domains, list_tokens, list_users,
};
pub use text::{link_target, xml_safe, MAX_FIELD_LEN, MAX_GROUP_NAME_LEN};
pub use tracking::{
    contact_history, contact_timeline, identity_hash, record_event, record_event_at,
    record_page_view, record_page_view_at, refuse_identity, refuse_identity_over_quota,
    resolve_identity, shared_domains, site_for_origin, visitor_page_views, HistoryEntry,
    IdentityAnswer, PageView, TimelineEntry, TrackedEvent, MAX_EVENT_PROPS_LEN,
};
pub use traffic::{
    count_link, count_page_view, count_rule_firing, count_track_user, day_of, day_start,
    external_referrer, fold_traffic, page_path, site_of, traffic_dashboard, CauseCounts, Dashboard,
    Day, DayPoint, DayStats, IdentityOutcome, OutcomeCounts, Period, SeenMark, Tally, TopList,
};
pub use visitors::{list_visitors, view_visitor, VisitorDetail, VisitorQuery, VisitorRow};
