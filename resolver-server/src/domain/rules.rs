//! Behaviour rules: their JSON form (exactly what the CLI reads, the admin pages show and the
//! README documents), its validation against the account (groups, campaigns, templates,
//! targets), and saving, listing, switching and deleting rules.
//!
//! What a rule *does* when its trigger happens lives in `automation.rs`; this file only knows
//! what a valid rule is. Every error names the field it is about (`then[2].webhook.url: …`).

use super::error::{DomainError, DomainResult};
use super::ids::{AccountId, GroupId, RuleId};
use super::model::{now_millis, Millis};
use super::CampaignId;
use crate::store::Store;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::IpAddr;

/// Longest rule name, in characters.
pub const MAX_RULE_NAME_LEN: usize = 100;
/// Most actions one rule may have.
pub const MAX_ACTIONS: usize = 10;
/// Longest SMS text, in characters (six concatenated messages).
pub const MAX_SMS_LEN: usize = 918;
/// Shortest webhook secret, in characters.
pub const MIN_SECRET_LEN: usize = 16;
/// What an SMS text may name; anything else in braces is refused when the rule is saved.
pub const PLACEHOLDERS: [&str; 6] = [
    "first_name",
    "last_name",
    "company",
    "phone",
    "email",
    "city",
];

/// A rule as it is written: `{"name","enabled","when","only_if","then","repeat_after_days"}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    #[serde(default = "enabled_by_default")]
    pub enabled: bool,
    pub when: When,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub only_if: Option<OnlyIf>,
    pub then: Vec<Action>,
    /// `None`: at most once per contact; `Some(n)`: again once `n` days have passed.
    #[serde(default)]
    pub repeat_after_days: Option<u32>,
}

fn enabled_by_default() -> bool {
    true
}

/// The trigger (exactly one of the four keys) and, for page views and events, how many of them
/// the contact's whole history must hold within how many days.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct When {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pageview: Option<UrlPattern>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event: Option<EventPattern>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identified: Option<Nothing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_added: Option<Nothing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub within_days: Option<u32>,
}

/// `{}`: a trigger that takes no parameters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nothing {}

/// Exactly one of the three; matched on the page URL without its query string and fragment,
/// unless the pattern itself has a `?`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlPattern {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_contains: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_equals: Option<String>,
}

/// An event by name; every given property must be equal in the event's `props`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventPattern {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub props: Option<Map<String, Value>>,
}

/// Group conditions on the contact at the moment the rule would fire.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlyIf {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_group: Option<GroupId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_in_group: Option<GroupId>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    AddToGroup(GroupId),
    RemoveFromGroup(GroupId),
    AddToCampaign(CampaignAction),
    Webhook(WebhookAction),
    SendSms(SmsAction),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignAction {
    pub campaign: CampaignId,
    pub status_id: u32,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookAction {
    pub url: String,
    pub secret: String,
}

impl std::fmt::Debug for WebhookAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAction")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsAction {
    pub text: String,
    /// The sender name; the gateway's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
}

impl Action {
    /// The action's JSON key: `add_to_group`, `webhook`, …
    pub fn kind(&self) -> &'static str {
        match self {
            Action::AddToGroup(_) => "add_to_group",
            Action::RemoveFromGroup(_) => "remove_from_group",
            Action::AddToCampaign(_) => "add_to_campaign",
            Action::Webhook(_) => "webhook",
            Action::SendSms(_) => "send_sms",
        }
    }
}

/// The trigger of a valid rule.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trigger<'a> {
    PageView(&'a UrlPattern),
    Event(&'a EventPattern),
    Identified,
    ContactAdded,
}

impl When {
    /// The one trigger a validated rule has (`Identified` for an invalid one, never used).
    pub fn trigger(&self) -> Trigger<'_> {
        if let Some(pattern) = &self.pageview {
            Trigger::PageView(pattern)
        } else if let Some(pattern) = &self.event {
            Trigger::Event(pattern)
        } else if self.contact_added.is_some() {
            Trigger::ContactAdded
        } else {
            Trigger::Identified
        }
    }

    /// How many matching page views or events fire the rule (at least 1).
    pub fn needed(&self) -> usize {
        self.count.unwrap_or(1).max(1) as usize
    }
}

impl UrlPattern {
    /// Whether a page URL matches. The query string and fragment are ignored unless the pattern
    /// has a `?` (then only the fragment is).
    pub fn matches(&self, url: &str) -> bool {
        let wants_query = [&self.url_contains, &self.url_prefix, &self.url_equals]
            .into_iter()
            .flatten()
            .any(|pattern| pattern.contains('?'));
        let url = url.split('#').next().unwrap_or(url);
        let url = if wants_query {
            url
        } else {
            url.split('?').next().unwrap_or(url)
        };
        if let Some(part) = &self.url_contains {
            url.contains(part.as_str())
        } else if let Some(prefix) = &self.url_prefix {
            url.starts_with(prefix.as_str())
        } else if let Some(whole) = &self.url_equals {
            url == whole
        } else {
            false
        }
    }
}

impl EventPattern {
    /// Whether an event (name and its `props` JSON text) matches.
    pub fn matches(&self, name: &str, props: &str) -> bool {
        if self.name != name {
            return false;
        }
        let Some(wanted) = &self.props else {
            return true;
        };
        let Ok(Value::Object(actual)) = serde_json::from_str::<Value>(props) else {
            return wanted.is_empty();
        };
        wanted
            .iter()
            .all(|(key, value)| actual.get(key) == Some(value))
    }
}

/// A stored rule.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: RuleId,
    pub spec: RuleSpec,
    pub created_at: Millis,
    pub updated_at: Millis,
}

/// An account's enabled rules, with the `url_contains` patterns of its page-view rules compiled
/// into one Aho-Corasick automaton: a page view is matched against all of them in one pass over
/// its URL, however many rules there are.
pub struct RuleSet {
    rules: Vec<Rule>,
    contains: Option<aho_corasick::AhoCorasick>,
    /// The rule (index into `rules`) of each automaton pattern.
    contains_owner: Vec<usize>,
    /// Page-view rules matched one by one: prefixes, whole URLs, patterns with a query.
    one_by_one: Vec<usize>,
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>) -> RuleSet {
        let mut patterns = Vec::new();
        let mut contains_owner = Vec::new();
        let mut one_by_one = Vec::new();
        for (index, rule) in rules.iter().enumerate() {
            if let Trigger::PageView(pattern) = rule.spec.when.trigger() {
                match &pattern.url_contains {
                    Some(part) if !part.contains('?') => {
                        patterns.push(part.clone());
                        contains_owner.push(index);
                    }
                    _ => one_by_one.push(index),
                }
            }
        }
        let contains = (!patterns.is_empty())
            .then(|| aho_corasick::AhoCorasick::new(&patterns).ok())
            .flatten();
        if contains.is_none() {
            // Cannot happen for plain strings; matching one by one stays correct regardless.
            one_by_one.append(&mut contains_owner);
        }
        one_by_one.sort_unstable();
        RuleSet {
            rules,
            contains,
            contains_owner,
            one_by_one,
        }
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Rule> {
        self.rules.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The page-view rules whose pattern matches `url`, in rule order.
    pub fn matching_page_view(&self, url: &str) -> Vec<&Rule> {
        let mut found: Vec<usize> = self
            .one_by_one
            .iter()
            .copied()
            .filter(|index| {
                matches!(self.rules[*index].spec.when.trigger(), Trigger::PageView(p) if p.matches(url))
            })
            .collect();
        if let Some(automaton) = &self.contains {
            let url = url.split('#').next().unwrap_or(url);
            let path = url.split('?').next().unwrap_or(url);
            for hit in automaton.find_overlapping_iter(path) {
                found.push(self.contains_owner[hit.pattern().as_usize()]);
            }
        }
        found.sort_unstable();
        found.dedup();
        found.into_iter().map(|index| &self.rules[index]).collect()
    }
}

/// What happened to a rule so far (kept apart from the rule so firing never rewrites it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleStats {
    pub fired: u64,
    pub delivered: u64,
    pub failed: u64,
    pub last_fired_at: Option<Millis>,
}

/// Why a rule was not saved: a field that is wrong (named by its path in the JSON form), or a
/// failure of the layer below.
#[derive(Debug, thiserror::Error)]
pub enum RuleError {
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("rule not found")]
    NotFound,
    #[error(transparent)]
    Domain(#[from] DomainError),
}

impl From<crate::store::StoreError> for RuleError {
    fn from(error: crate::store::StoreError) -> RuleError {
        RuleError::Domain(DomainError::Store(error))
    }
}

fn invalid<T>(path: impl Into<String>, message: impl Into<String>) -> Result<T, RuleError> {
    Err(RuleError::Invalid {
        path: path.into(),
        message: message.into(),
    })
}

/// Reads a rule's JSON form. Unknown keys, wrong types and missing fields are refused with the
/// path of the field (`then[2].webhook: unknown field `uri``).
pub fn parse_rule(json: &str) -> Result<RuleSpec, RuleError> {
    let mut deserializer = serde_json::Deserializer::from_str(json);
    let spec: RuleSpec = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let message = error.inner().to_string();
        // serde_json appends the position; the path already says where.
        let message = message
            .rsplit_once(" at line ")
            .map_or(message.as_str(), |(text, _)| text)
            .to_owned();
        RuleError::Invalid {
            path: if path == "." || path.is_empty() {
                "rule".into()
            } else {
                path
            },
            message,
        }
    })?;
    deserializer.end().map_err(|_| RuleError::Invalid {
        path: "rule".into(),
        message: "trailing characters after the JSON object".into(),
    })?;
    Ok(spec)
}

/// A warning about a valid rule: saved, but something will not work as is.
pub type Warning = String;

/// Checks a rule against the account: every field, every group and campaign (they must be this
/// account's), every template placeholder. Returns warnings for webhook targets on loopback or
/// private networks (delivered only when the server runs with `--allow-private-targets`).
pub fn validate_rule(
    store: &Store,
    account: AccountId,
    spec: &RuleSpec,
) -> Result<Vec<Warning>, RuleError> {
    let name = spec.name.trim();
    if name.is_empty() {
        return invalid("name", "must not be empty");
    }
    if name.chars().count() > MAX_RULE_NAME_LEN {
        return invalid(
            "name",
            format!("longer than {MAX_RULE_NAME_LEN} characters"),
        );
    }
    validate_when(&spec.when)?;
    if let Some(only_if) = &spec.only_if {
        for (path, group) in [
            ("only_if.in_group", only_if.in_group),
            ("only_if.not_in_group", only_if.not_in_group),
        ] {
            if let Some(group) = group {
                check_group(store, account, path, group)?;
            }
        }
    }
    if spec.then.is_empty() {
        return invalid("then", "give at least one action");
    }
    if spec.then.len() > MAX_ACTIONS {
        return invalid("then", format!("at most {MAX_ACTIONS} actions"));
    }
    let mut warnings = Vec::new();
    for (index, action) in spec.then.iter().enumerate() {
        let path = format!("then[{index}].{}", action.kind());
        if let Some(warning) = validate_action(store, account, &path, action)? {
            warnings.push(warning);
        }
    }
    if spec.repeat_after_days == Some(0) {
        return invalid(
            "repeat_after_days",
            "must be at least 1 (null: at most once per contact)",
        );
    }
    Ok(warnings)
}

fn validate_when(when: &When) -> Result<(), RuleError> {
    let given = [
        when.pageview.is_some(),
        when.event.is_some(),
        when.identified.is_some(),
        when.contact_added.is_some(),
    ]
    .into_iter()
    .filter(|given| *given)
    .count();
    if given != 1 {
        return invalid(
            "when",
            "give exactly one of pageview, event, identified, contact_added",
        );
    }
    match when.trigger() {
        Trigger::PageView(pattern) => {
            let patterns = [
                ("url_contains", &pattern.url_contains),
                ("url_prefix", &pattern.url_prefix),
                ("url_equals", &pattern.url_equals),
            ];
            let given: Vec<_> = patterns.iter().filter(|(_, p)| p.is_some()).collect();
            let [(key, Some(text))] = given.as_slice() else {
                return invalid(
                    "when.pageview",
                    "give exactly one of url_contains, url_prefix, url_equals",
                );
            };
            if text.trim().is_empty() {
                return invalid(format!("when.pageview.{key}"), "must not be empty");
            }
            if text.chars().count() > super::tracking::MAX_URL_LEN {
                return invalid(format!("when.pageview.{key}"), "too long");
            }
        }
        Trigger::Event(pattern) => {
            if pattern.name.trim().is_empty() {
                return invalid("when.event.name", "must not be empty");
            }
            if pattern.name.chars().count() > super::tracking::MAX_EVENT_NAME_LEN {
                return invalid("when.event.name", "too long");
            }
        }
        Trigger::Identified | Trigger::ContactAdded => {
            for (key, given) in [
                ("count", when.count.is_some()),
                ("within_days", when.within_days.is_some()),
            ] {
                if given {
                    return invalid(
                        format!("when.{key}"),
                        "only pageview and event triggers are counted",
                    );
                }
            }
        }
    }
    if when.count == Some(0) || when.count.is_some_and(|count| count > 10_000) {
        return invalid("when.count", "must be between 1 and 10000");
    }
    if when.within_days == Some(0) || when.within_days.is_some_and(|days| days > 3650) {
        return invalid("when.within_days", "must be between 1 and 3650");
    }
    Ok(())
}

fn check_group(
    store: &Store,
    account: AccountId,
    path: &str,
    group: GroupId,
) -> Result<(), RuleError> {
    if store.group(account, group)?.is_none() {
        return invalid(
            path,
            format!("group {group} does not exist in this account"),
        );
    }
    Ok(())
}

fn validate_action(
    store: &Store,
    account: AccountId,
    path: &str,
    action: &Action,
) -> Result<Option<Warning>, RuleError> {
    match action {
        Action::AddToGroup(group) | Action::RemoveFromGroup(group) => {
            check_group(store, account, path, *group)?;
        }
        Action::AddToCampaign(target) => {
            let campaign = match super::campaigns::campaign(store, account, &target.campaign) {
                Ok(campaign) => campaign,
                Err(DomainError::NotFound(_)) => {
                    return invalid(
                        format!("{path}.campaign"),
                        format!(
                            "campaign {} does not exist in this account",
                            target.campaign
                        ),
                    )
                }
                Err(error) => return Err(error.into()),
            };
            let Some(status) = campaign.statuses.iter().find(|s| s.id == target.status_id) else {
                return invalid(
                    format!("{path}.status_id"),
                    format!(
                        "campaign {} has no status {}",
                        target.campaign, target.status_id
                    ),
                );
            };
            if status.system.needs_agent() || status.system.needs_next_call_date() {
                return invalid(
                    format!("{path}.status_id"),
                    "a rule cannot give the agent or call date this status needs",
                );
            }
        }
        Action::Webhook(hook) => {
            let host = check_target_url(&format!("{path}.url"), &hook.url)?;
            if hook.secret.chars().count() < MIN_SECRET_LEN {
                return invalid(
                    format!("{path}.secret"),
                    format!("must be at least {MIN_SECRET_LEN} characters"),
                );
            }
            return Ok(private_host_warning(&format!("{path}.url"), &host));
        }
        Action::SendSms(sms) => {
            if sms.text.trim().is_empty() {
                return invalid(format!("{path}.text"), "must not be empty");
            }
            if sms.text.chars().count() > MAX_SMS_LEN {
                return invalid(
                    format!("{path}.text"),
                    format!("longer than {MAX_SMS_LEN} characters"),
                );
            }
            if let Some(unknown) = unknown_placeholder(&sms.text) {
                return invalid(
                    format!("{path}.text"),
                    format!(
                        "unknown placeholder {{{unknown}}}; use {}",
                        PLACEHOLDERS.map(|p| format!("{{{p}}}")).join(", ")
                    ),
                );
            }
            if let Some(sender) = &sms.sender {
                check_sender(&format!("{path}.sender"), sender)?;
            }
        }
    }
    Ok(None)
}

/// A sender name as SerwerSMS takes it: 1 to 11 characters.
pub fn check_sender(path: &str, sender: &str) -> Result<(), RuleError> {
    let length = sender.trim().chars().count();
    if length == 0 || length > 11 {
        return invalid(path, "a sender name has 1 to 11 characters");
    }
    Ok(())
}

/// Checks an http(s) URL a delivery will go to; returns its host.
pub fn check_target_url(path: &str, text: &str) -> Result<String, RuleError> {
    let Ok(url) = url::Url::parse(text.trim()) else {
        return invalid(path, "not a valid URL");
    };
    if !matches!(url.scheme(), "http" | "https") {
        return invalid(path, "must be an http or https URL");
    }
    if !url.username().is_empty() || url.password().is_some() {
        return invalid(path, "must not carry credentials");
    }
    let Some(host) = url.host_str() else {
        return invalid(path, "has no host");
    };
    Ok(host.trim_matches(['[', ']']).to_ascii_lowercase())
}

/// The warning for a target whose host is plainly loopback or private (the server checks the
/// resolved addresses again at delivery time).
pub fn private_host_warning(path: &str, host: &str) -> Option<Warning> {
    let private = match host.parse::<IpAddr>() {
        Ok(address) => !is_public_address(address),
        Err(_) => host == "localhost" || host.ends_with(".localhost") || host.ends_with(".local"),
    };
    private.then(|| {
        format!(
            "{path}: {host} is a loopback or private address; the server delivers there only \
             when started with --allow-private-targets"
        )
    })
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (carrier-grade NAT), unspecified, broadcast, multicast or documentation space.
pub fn is_public_address(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// The first `{name}` in `text` that is not one of [`PLACEHOLDERS`].
fn unknown_placeholder(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        if !PLACEHOLDERS.contains(&name) {
            return Some(name.to_owned());
        }
        rest = &after[close + 1..];
    }
    None
}

/// Fills an SMS template: each `{name}` of [`PLACEHOLDERS`] becomes the contact's value (empty
/// if it has none).
pub fn render_template(text: &str, value: impl Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find('}') {
            Some(close) if PLACEHOLDERS.contains(&&after[..close]) => {
                out.push_str(&value(&after[..close]));
                rest = &after[close + 1..];
            }
            _ => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A saved rule and what to tell the person who saved it.
#[derive(Clone, Debug)]
pub struct SavedRule {
    pub rule: Rule,
    pub warnings: Vec<Warning>,
}

fn tidy(mut spec: RuleSpec) -> RuleSpec {
    spec.name = spec.name.trim().to_owned();
    for action in &mut spec.then {
        if let Action::Webhook(hook) = action {
            hook.url = hook.url.trim().to_owned();
        }
    }
    spec
}

/// Validates and stores a new rule. Not flushed.
pub fn add_rule(store: &Store, account: AccountId, spec: RuleSpec) -> Result<SavedRule, RuleError> {
    let warnings = validate_rule(store, account, &spec)?;
    let now = now_millis();
    let rule = Rule {
        id: RuleId(store.next_id()?),
        spec: tidy(spec),
        created_at: now,
        updated_at: now,
    };
    store.insert_rule(account, &rule)?;
    Ok(SavedRule { rule, warnings })
}

/// Validates and replaces a rule's definition (its firings and log stay). Not flushed.
pub fn update_rule(
    store: &Store,
    account: AccountId,
    id: RuleId,
    spec: RuleSpec,
) -> Result<SavedRule, RuleError> {
    let old = view_rule(store, account, id)?;
    let warnings = validate_rule(store, account, &spec)?;
    let rule = Rule {
        spec: tidy(spec),
        updated_at: now_millis(),
        ..old
    };
    store.insert_rule(account, &rule)?;
    Ok(SavedRule { rule, warnings })
}

/// A rule's counts (fired, delivered, failed, last fired), every acknowledged firing included.
pub fn rule_stats(store: &Store, account: AccountId, id: RuleId) -> DomainResult<RuleStats> {
    store.rule_stats(account, id)
}

pub fn view_rule(store: &Store, account: AccountId, id: RuleId) -> Result<Rule, RuleError> {
    store.rule(account, id)?.ok_or(RuleError::NotFound)
}

/// Switches a rule on or off. Not flushed.
pub fn set_rule_enabled(
    store: &Store,
    account: AccountId,
    id: RuleId,
    enabled: RuleState,
) -> Result<Rule, RuleError> {
    let mut rule = view_rule(store, account, id)?;
    rule.spec.enabled = enabled == RuleState::On;
    rule.updated_at = now_millis();
    store.insert_rule(account, &rule)?;
    Ok(rule)
}

/// On or off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleState {
    On,
    Off,
}

/// Deletes a rule with its firing records; deliveries already queued still go out. Not
/// flushed.
pub fn delete_rule(store: &Store, account: AccountId, id: RuleId) -> Result<(), RuleError> {
    view_rule(store, account, id)?;
    store.delete_rule(account, id)?;
    Ok(())
}

/// The account's rules, oldest first, with what each has done.
pub fn list_rules(store: &Store, account: AccountId) -> DomainResult<Vec<(Rule, RuleStats)>> {
    let mut rules = Vec::new();
    for rule in store.rules(account)? {
        let stats = store.rule_stats(account, rule.id)?;
        rules.push((rule, stats));
    }
    Ok(rules)
}

/// The rule's JSON form with webhook secrets hidden (for `rule show` and the admin pages).
pub fn shown_spec(spec: &RuleSpec) -> RuleSpec {
    let mut spec = spec.clone();
    for action in &mut spec.then {
        if let Action::Webhook(hook) = action {
            hook.secret = HIDDEN_SECRET.into();
        }
    }
    spec
}

/// What a hidden secret reads as; saving it back keeps the stored secret.
pub const HIDDEN_SECRET: &str = "(hidden)";

/// Replaces hidden webhook secrets in `spec` by the stored rule's secrets for the same URL.
pub fn keep_hidden_secrets(spec: &mut RuleSpec, stored: &RuleSpec) {
    for action in &mut spec.then {
        if let Action::Webhook(hook) = action {
            if hook.secret == HIDDEN_SECRET || hook.secret.is_empty() {
                let old = stored.then.iter().find_map(|old| match old {
                    Action::Webhook(old) if old.url == hook.url => Some(old.secret.clone()),
                    _ => None,
                });
                if let Some(secret) = old {
                    hook.secret = secret;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{add_campaign, add_group, create_account};

    const EXAMPLE: &str = r#"{
      "name": "Cennik 3 razy w tygodniu",
      "enabled": true,
      "when": { "pageview": { "url_contains": "/pricing" }, "count": 3, "within_days": 7 },
      "only_if": { "in_group": 12, "not_in_group": 14 },
      "then": [
        { "add_to_group": 14 },
        { "remove_from_group": 12 },
        { "add_to_campaign": { "campaign": "00001", "status_id": 1 } },
        { "webhook": { "url": "https://crm.example.com/hooks/ssrm", "secret": "at least 16 chars" } },
        { "send_sms": { "text": "Dzień dobry {first_name}, zadzwonimy z ofertą.", "sender": "Sklep" } }
      ],
      "repeat_after_days": null
    }"#;

    fn error_path(result: Result<impl std::fmt::Debug, RuleError>) -> String {
        match result {
            Err(RuleError::Invalid { path, .. }) => path,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn the_issues_example_parses_and_round_trips() {
        let spec = parse_rule(EXAMPLE).expect("parses");
        assert_eq!(spec.when.needed(), 3);
        assert_eq!(spec.then.len(), 5);
        let again = parse_rule(&serde_json::to_string(&spec).expect("json")).expect("parses");
        assert_eq!(again, spec);
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_their_path() {
        let unknown = EXAMPLE.replace("\"secret\"", "\"secrett\"");
        assert_eq!(error_path(parse_rule(&unknown)), "then[3].webhook.secrett");
        let wrong = EXAMPLE.replace("\"count\": 3", "\"count\": \"three\"");
        assert_eq!(error_path(parse_rule(&wrong)), "when.count");
        assert_eq!(error_path(parse_rule("{\"name\": 1}")), "name");
    }

    #[test]
    fn validation_checks_the_account_and_templates() {
        let store = Store::open_temporary().expect("store");
        let account = create_account(&store, "shop", None).expect("account").id;
        let other = create_account(&store, "other", None).expect("account").id;
        let mine = add_group(&store, account, "Mine").expect("group");
        let theirs = add_group(&store, other, "Theirs").expect("group");
        add_campaign(&store, account, "Calls").expect("campaign");
        let rule = |then: &str| {
            parse_rule(&format!(
                r#"{{"name":"r","when":{{"pageview":{{"url_prefix":"https://s/"}}}},"then":[{then}]}}"#
            ))
            .expect("parses")
        };
        let ok = rule(&format!(r#"{{"add_to_group":{}}}"#, mine.id));
        assert!(validate_rule(&store, account, &ok)
            .expect("valid")
            .is_empty());
        let foreign = rule(&format!(r#"{{"add_to_group":{}}}"#, theirs.id));
        assert_eq!(
            error_path(validate_rule(&store, account, &foreign)),
            "then[0].add_to_group"
        );
        let sms = rule(r#"{"add_to_group":1},{"send_sms":{"text":"Hi {nick}"}}"#);
        // The first action already fails (group 1 is not the account's).
        assert_eq!(
            error_path(validate_rule(&store, account, &sms)),
            "then[0].add_to_group"
        );
        let sms = rule(r#"{"send_sms":{"text":"Hi {nick}"}}"#);
        assert_eq!(
            error_path(validate_rule(&store, account, &sms)),
            "then[0].send_sms.text"
        );
        let local =
            rule(r#"{"webhook":{"url":"http://127.0.0.1:9/x","secret":"0123456789abcdef"}}"#);
        let warnings = validate_rule(&store, account, &local).expect("valid with a warning");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        let short = rule(r#"{"webhook":{"url":"https://x.example/","secret":"short"}}"#);
        assert_eq!(
            error_path(validate_rule(&store, account, &short)),
            "then[0].webhook.secret"
        );
        let campaign = rule(r#"{"add_to_campaign":{"campaign":"00001","status_id":99}}"#);
        assert_eq!(
            error_path(validate_rule(&store, account, &campaign)),
            "then[0].add_to_campaign.status_id"
        );
        let counted = parse_rule(
            r#"{"name":"r","when":{"identified":{},"count":2},"then":[{"add_to_group":1}]}"#,
        )
        .expect("parses");
        assert_eq!(
            error_path(validate_rule(&store, account, &counted)),
            "when.count"
        );
        let two =
            parse_rule(r#"{"name":"r","when":{"identified":{},"contact_added":{}},"then":[]}"#)
                .expect("parses");
        assert_eq!(error_path(validate_rule(&store, account, &two)), "when");
    }

    #[test]
    fn url_patterns_ignore_the_query_unless_they_name_one() {
        let contains = UrlPattern {
            url_contains: Some("/pricing".into()),
            ..UrlPattern::default()
        };
        assert!(contains.matches("https://s/pricing?utm=1"));
        assert!(!contains.matches("https://s/?next=/pricing"));
        let equals = UrlPattern {
            url_equals: Some("https://s/p?a=1".into()),
            ..UrlPattern::default()
        };
        assert!(equals.matches("https://s/p?a=1#top"));
        assert!(!equals.matches("https://s/p?a=2"));
    }

    #[test]
    fn a_rule_set_finds_the_same_rules_as_matching_one_by_one() {
        let rule = |n: u64, pattern: UrlPattern| Rule {
            id: RuleId(n),
            spec: RuleSpec {
                name: format!("r{n}"),
                enabled: true,
                when: When {
                    pageview: Some(pattern),
                    ..When::default()
                },
                only_if: None,
                then: vec![Action::AddToGroup(GroupId(1))],
                repeat_after_days: None,
            },
            created_at: 0,
            updated_at: 0,
        };
        let contains = |text: &str| UrlPattern {
            url_contains: Some(text.into()),
            ..UrlPattern::default()
        };
        let rules = vec![
            rule(1, contains("/pricing")),
            rule(2, contains("pri")),
            rule(3, contains("?plan=pro")),
            rule(
                4,
                UrlPattern {
                    url_prefix: Some("https://s/pricing".into()),
                    ..UrlPattern::default()
                },
            ),
            rule(5, contains("/about")),
        ];
        let set = RuleSet::new(rules.clone());
        for url in [
            "https://s/pricing?plan=pro#x",
            "https://s/?next=/pricing",
            "https://s/about",
            "https://s/x#/pricing",
        ] {
            let expected: Vec<RuleId> = rules
                .iter()
                .filter(|r| matches!(r.spec.when.trigger(), Trigger::PageView(p) if p.matches(url)))
                .map(|r| r.id)
                .collect();
            let found: Vec<RuleId> = set.matching_page_view(url).iter().map(|r| r.id).collect();
            assert_eq!(found, expected, "{url}");
        }
    }

    #[test]
    fn templates_fill_known_placeholders_only() {
        let text = render_template("Hi {first_name} {x} {", |name| {
            if name == "first_name" {
                "Jan".into()
            } else {
                String::new()
            }
        });
        assert_eq!(text, "Hi Jan {x} {");
    }

    #[test]
    fn private_addresses_are_recognised() {
        for (address, public) in [
            ("127.0.0.1", false),
            ("10.1.2.3", false),
            ("169.254.169.254", false),
            ("100.64.0.1", false),
            ("::1", false),
            ("fd00::1", false),
            ("::ffff:192.168.0.1", false),
            ("8.8.8.8", true),
            ("2a00:1450::1", true),
        ] {
            let ip: IpAddr = address.parse().expect("address");
            assert_eq!(is_public_address(ip), public, "{address}");
        }
    }
}
