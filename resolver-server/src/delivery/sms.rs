//! SMS through the account's SerwerSMS-API-v2-compatible gateway, sent as the official Python
//! client (`serwersmsv2api`) sends `messages/send_sms`: `POST {url}messages/send_sms.json`,
//! a JSON body, `Authorization: Bearer <token>` (or `username`/`password` in the body). The
//! delivery id goes as `unique_id`, so the gateway can drop a repeated attempt.

use super::describe;
use super::guard::{self, TargetPolicy};
use crate::domain::{AttemptOutcome, Delivery, GatewayCredentials, SmsGateway};
use serde_json::{json, Value};

/// The `unique_id` of a delivery's message.
pub fn unique_id(delivery: &Delivery) -> String {
    format!("ssrm-{}", delivery.id)
}

pub async fn send(
    http: &reqwest::Client,
    targets: TargetPolicy,
    gateway: &SmsGateway,
    delivery: &Delivery,
    text: &str,
    sender: Option<&str>,
) -> AttemptOutcome {
    let endpoint = format!("{}messages/send_sms.json", gateway.url);
    let url = match guard::check(&endpoint, targets).await {
        Ok(url) => url,
        Err(reason) => return AttemptOutcome::Failed(reason),
    };
    let mut body = json!({
        "phone": delivery.contact.phone,
        "text": text,
        "unique_id": unique_id(delivery),
    });
    if let Some(sender) = sender.or(gateway.sender.as_deref()) {
        body["sender"] = Value::String(sender.to_owned());
    }
    let mut request = http.post(url);
    match &gateway.credentials {
        GatewayCredentials::Token(token) => request = request.bearer_auth(token),
        GatewayCredentials::Password { username, password } => {
            body["username"] = Value::String(username.clone());
            body["password"] = Value::String(password.clone());
        }
    }
    let answer = request
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).expect("a JSON value always serialises"))
        .send()
        .await;
    let response = match answer {
        Ok(response) => response,
        Err(error) if error.to_string().contains(guard::REFUSED) => {
            return AttemptOutcome::Failed(guard::REFUSED.to_owned())
        }
        Err(error) => return AttemptOutcome::Retry(describe(&error)),
    };
    let status = response.status();
    let Ok(answer) = response.json::<Value>().await else {
        return AttemptOutcome::Retry(format!("HTTP {}: not a JSON answer", status.as_u16()));
    };
    if answer["success"] == Value::Bool(true) {
        let id = answer["items"][0]["id"].as_str().unwrap_or("?");
        return AttemptOutcome::Delivered(format!("message id {id}"));
    }
    let message = answer["error"]["message"]
        .as_str()
        .map(|m| m.chars().take(200).collect::<String>())
        .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
    AttemptOutcome::Retry(format!("gateway: {message}"))
}
