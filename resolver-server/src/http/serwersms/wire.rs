//! SerwerSMS answer bodies, built from domain records. Ids are JSON integers and `success` a
//! JSON boolean, as the official test suites check.
//!
//! Spec: `shared/spec/serwersms-api-v2.md`, section Responses.

use crate::domain::{
    BlacklistEntry, Contact, ContactListItem, Group, HistoryEntry, ImportReport, Millis, Page,
    PhoneGroup,
};
use serde_json::{json, Value};

pub fn success() -> Value {
    json!({ "success": true })
}

pub fn success_id(id: u64) -> Value {
    json!({ "success": true, "id": id })
}

pub fn list<T>(page: Page<T>, item: impl Fn(T) -> Value) -> Value {
    json!({
        "paging": { "page": page.page, "count": page.pages },
        "items": page.items.into_iter().map(item).collect::<Vec<_>>(),
    })
}

pub fn group(group: &Group) -> Value {
    json!({ "id": group.id.0, "name": group.name, "count": group.count })
}

pub fn contact(contact: &Contact) -> Value {
    json!({
        "id": contact.id.0,
        "phone": contact.phone.as_str(),
        "email": contact.email.as_ref().map(|e| e.as_str()).unwrap_or_default(),
        "company": contact.company,
        "first_name": contact.first_name,
        "last_name": contact.last_name,
        "tax_id": contact.tax_id,
        "address": contact.address,
        "city": contact.city,
        "description": contact.description,
        "blacklist": contact.blacklist,
    })
}

pub fn contact_list_item(item: ContactListItem) -> Value {
    let mut value = contact(&item.contact);
    if let Value::Object(map) = &mut value {
        map.insert(
            "group_id".into(),
            item.group.as_ref().map_or(Value::Null, |g| json!(g.id.0)),
        );
        map.insert(
            "group_name".into(),
            item.group.map_or(Value::Null, |g| json!(g.name)),
        );
    }
    value
}

pub fn phone_groups(found: Vec<PhoneGroup>) -> Value {
    let items: Vec<Value> = found
        .into_iter()
        // The document shows the contact id of `groups/check` as a string, unlike every other id.
        .map(|entry| json!({ "id": entry.contact.0.to_string(), "group_id": entry.group.id.0, "group_name": entry.group.name }))
        .collect();
    json!({ "items": items })
}

pub fn import(report: ImportReport) -> Value {
    json!({ "success": true, "id": report.group.0, "correct": report.correct, "failed": report.failed })
}

/// `blacklist/check`.
pub fn exists(listed: bool) -> Value {
    json!({ "exists": listed })
}

/// One entry of `blacklist/index`: `{"phone","added"}`, the date as SerwerSMS writes dates
/// (`2024-05-01 12:30:00`, UTC).
pub fn blacklist_entry(entry: &BlacklistEntry) -> Value {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let added = crate::domain::formatted(entry.added, format).map_or(Value::Null, Value::String);
    json!({ "phone": entry.phone.as_str(), "added": added })
}

fn rfc3339_value(at: Millis) -> Value {
    crate::domain::rfc3339(at).map_or(Value::Null, Value::String)
}

/// One entry of `contacts/history`. Every entry has the same keys, `null` where they do not
/// apply: `{"type":"pageview"|"event"|"rule","time","suid","url","title","referrer","name","props"}`.
/// A `rule` entry is one action of a behaviour rule that fired: `name` is the rule's name,
/// `title` the line the contact card shows, `url` the page that triggered it (if a page view
/// did), and `props` `{"rule","action","status","delivery","attempts","detail"}`.
pub fn history_entry(entry: HistoryEntry) -> Value {
    match entry {
        HistoryEntry::PageView(view) => json!({
            "type": "pageview",
            "time": rfc3339_value(view.at),
            "suid": view.suid.to_string(),
            "url": view.url,
            "title": view.title,
            "referrer": view.referrer,
            "name": Value::Null,
            "props": Value::Null,
        }),
        HistoryEntry::Event(event) => json!({
            "type": "event",
            "time": rfc3339_value(event.at),
            "suid": event.suid.to_string(),
            "url": event.url,
            "title": Value::Null,
            "referrer": Value::Null,
            "name": event.name,
            // Stored only after it parsed as a JSON object.
            "props": serde_json::from_str::<Value>(&event.props).unwrap_or(Value::Null),
        }),
        HistoryEntry::Rule(delivery) => json!({
            "type": "rule",
            "time": rfc3339_value(delivery.created_at),
            "suid": delivery.contact.suid.map(|suid| suid.to_string()),
            "url": delivery.trigger.url,
            "title": delivery.summary(),
            "referrer": Value::Null,
            "name": delivery.rule_name,
            "props": {
                "rule": delivery.rule.0,
                "action": delivery.action.kind(),
                "status": delivery.state.as_str(),
                "delivery": delivery.id.to_string(),
                "attempts": delivery.attempts.len(),
                "detail": delivery.detail(),
            },
        }),
    }
}
