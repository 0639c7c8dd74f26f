//! Webhooks: `POST` of the firing as JSON, signed `X-Ssrm-Signature: sha256=<hex HMAC-SHA256
//! (secret, body)>`, with the stable `X-Ssrm-Delivery` id. Any 2xx is done.

use super::describe;
use super::guard::{self, TargetPolicy};
use crate::domain::{AttemptOutcome, Delivery, WebhookAction};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

/// The JSON body: `{rule:{id,name}, contact:{…}, trigger:{type, url|name, time}, delivery}`.
/// The same bytes on every attempt, so a receiver can compare retries.
pub fn body(delivery: &Delivery) -> Vec<u8> {
    let contact = &delivery.contact;
    let mut trigger = json!({ "type": delivery.trigger.kind.as_str() });
    if let Some(url) = &delivery.trigger.url {
        trigger["url"] = Value::String(url.clone());
    }
    if let Some(name) = &delivery.trigger.name {
        trigger["name"] = Value::String(name.clone());
    }
    trigger["time"] =
        crate::domain::rfc3339(delivery.trigger.at).map_or(Value::Null, Value::String);
    let value = json!({
        "rule": { "id": delivery.rule.0, "name": delivery.rule_name },
        "contact": {
            "id": contact.id.0,
            "phone": contact.phone,
            "email": contact.email,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "company": contact.company,
            "suid": contact.suid.map(|suid| suid.to_string()),
        },
        "trigger": trigger,
        "delivery": delivery.id.to_string(),
    });
    serde_json::to_vec(&value).expect("a JSON value always serialises")
}

/// `sha256=<hex>` of the body under the rule's secret.
pub fn signature(secret: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

pub async fn send(
    http: &reqwest::Client,
    targets: TargetPolicy,
    delivery: &Delivery,
    hook: &WebhookAction,
) -> AttemptOutcome {
    let url = match guard::check(&hook.url, targets).await {
        Ok(url) => url,
        Err(reason) => return AttemptOutcome::Failed(reason),
    };
    let body = body(delivery);
    let answer = http
        .post(url)
        .header("content-type", "application/json")
        .header("x-ssrm-delivery", delivery.id.to_string())
        .header("x-ssrm-signature", signature(&hook.secret, &body))
        .body(body)
        .send()
        .await;
    match answer {
        Ok(response) if response.status().is_success() => {
            AttemptOutcome::Delivered(format!("HTTP {}", response.status().as_u16()))
        }
        Ok(response) => AttemptOutcome::Retry(format!("HTTP {}", response.status().as_u16())),
        Err(error) if error.to_string().contains(guard::REFUSED) => {
            AttemptOutcome::Failed(guard::REFUSED.to_owned())
        }
        Err(error) => AttemptOutcome::Retry(describe(&error)),
    }
}
