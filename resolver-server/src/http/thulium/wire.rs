//! Thulium request and answer bodies: records parsed leniently (numbers may be strings, null is
//! absent), answers shaped as Thulium's documentation shows them.

use super::error::{field_message, refusal_message};
use crate::domain::{
    CampaignStatus, ContactId, RecordChange, RecordInput, RecordOutcome, RecordView,
};
use serde_json::{json, Map, Value};

fn present<'a>(record: &'a Map<String, Value>, field: &str) -> Option<&'a Value> {
    match record.get(field) {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.trim().is_empty() => None,
        Some(value) => Some(value),
    }
}

fn integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// An optional integer field; `Err(field)` when present but not an integer of the right range.
fn optional<T: TryFrom<i64>>(
    record: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<T>, &'static str> {
    present(record, field)
        .map(|value| {
            integer(value)
                .and_then(|n| T::try_from(n).ok())
                .ok_or(field)
        })
        .transpose()
}

fn optional_text(
    record: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, &'static str> {
    match present(record, field) {
        None => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(field),
    }
}

/// The key a record is answered under: its customer id as given, or `#<position>` when it has
/// none.
pub fn record_key(record: &Value, position: usize) -> String {
    match record.get("customer_id") {
        Some(Value::Number(number)) => number.to_string(),
        Some(Value::String(text)) if !text.trim().is_empty() => text.trim().to_owned(),
        _ => format!("#{position}"),
    }
}

/// Reads one record; `Err(field)` names the first field that is missing or malformed.
pub fn record_input(record: &Value) -> Result<RecordInput, &'static str> {
    let Value::Object(record) = record else {
        return Err("customer_id");
    };
    let customer = present(record, "customer_id")
        .and_then(integer)
        .and_then(|n| u64::try_from(n).ok())
        .ok_or("customer_id")?;
    Ok(RecordInput {
        customer: ContactId(customer),
        status_id: optional(record, "status_id")?,
        dictionary_status_id: optional(record, "dictionary_status_id")?,
        agent_login: optional_text(record, "agent_login")?,
        next_call_date: optional_text(record, "next_call_date")?,
        order: optional(record, "order")?,
    })
}

/// Reads the fields a record update may change.
pub fn record_change(body: &Value) -> Result<RecordChange, &'static str> {
    let Value::Object(record) = body else {
        return Err("status_id");
    };
    Ok(RecordChange {
        status_id: optional(record, "status_id")?,
        dictionary_status_id: optional(record, "dictionary_status_id")?,
        agent_login: optional_text(record, "agent_login")?,
        next_call_date: optional_text(record, "next_call_date")?,
        order: optional(record, "order")?,
    })
}

pub fn outcome(outcome: RecordOutcome, polish: bool) -> Value {
    match outcome {
        RecordOutcome::Added { record_id } => {
            json!({ "http_status": 201, "record_id": record_id, "status": "ADDED" })
        }
        RecordOutcome::AlreadyExists { record_id } => {
            json!({ "http_status": 400, "record_id": record_id, "status": "ALREADY_EXISTS" })
        }
        RecordOutcome::Failed(refusal) => {
            json!({ "http_status": 400, "status": "FAILED", "message": refusal_message(refusal, polish) })
        }
    }
}

pub fn malformed(field: &str, polish: bool) -> Value {
    json!({ "http_status": 400, "status": "FAILED", "message": field_message(field, polish) })
}

pub fn removed(record_id: Option<u64>) -> Value {
    match record_id {
        Some(record_id) => {
            json!({ "http_status": 200, "record_id": record_id, "status": "REMOVED" })
        }
        None => json!({ "http_status": 404, "status": "NOT_EXIST" }),
    }
}

fn date_time(millis: i64) -> Value {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    crate::domain::formatted(millis, format).map_or(Value::Null, Value::String)
}

pub fn record(view: &RecordView) -> Value {
    let record = &view.record;
    json!({
        "record_id": record.record_id,
        "customer_id": record.customer.0,
        "phone_number": view.phone,
        "system_status": view.status.system.as_str(),
        "status": view.status.name,
        "status_id": record.status_id,
        "dictionary_status_id": record.dictionary_status_id,
        "call_date": record.call_date.map_or(Value::Null, date_time),
        "create_date": date_time(record.created_at),
        "next_call_date": record.next_call_date,
        "agent_login": record.agent_login,
        "order": record.order,
    })
}

pub fn statuses(statuses: &[CampaignStatus]) -> Value {
    Value::Array(
        statuses
            .iter()
            .map(|status| {
                json!({
                    "system_status": status.system.as_str(),
                    "status_id": status.id.to_string(),
                    "dictionary_status_id": status.dictionary_status_id,
                    "name": status.name,
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Any JSON as a record, or as a record update: read or refused naming a field.
        #[test]
        fn any_record_is_read_or_refused(record in crate::any_json(), position in any::<usize>()) {
            let _ = record_key(&record, position);
            let _ = record_input(&record);
            let _ = record_change(&record);
        }

        /// Records with the right field names and values of any JSON type.
        #[test]
        fn records_with_any_field_values_are_read_or_refused(
            values in prop::collection::vec(crate::any_json(), 6)
        ) {
            let names = ["customer_id", "status_id", "dictionary_status_id", "agent_login", "next_call_date", "order"];
            let record: Map<String, Value> = names.iter().map(|n| (*n).to_owned()).zip(values).collect();
            let record = Value::Object(record);
            let _ = record_key(&record, 0);
            let _ = record_input(&record);
            let _ = record_change(&record);
        }
    }
}
