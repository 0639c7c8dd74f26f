//! The admin pages of behaviour rules: the list with on/off and counts, a form that builds a
//! rule without typing JSON (its JSON is shown and editable too), a rule's page with its log
//! (last 100 firings and delivery outcomes), and the SMS gateway settings. Every form carries
//! the session's CSRF token.

use super::pages::{csrf_field, layout, time, Chrome};
use super::{durable, html, internal, saved, see_other, shown, Admin, HasCsrf, Posted};
use crate::domain::{
    self, Delivery, DeliveryState, Firing, GatewayCredentials, Group, Rule, RuleError, RuleId,
    RuleState, RuleStats, SmsGateway,
};
use crate::http::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Value};

/// Firings shown on a rule's page.
const LOG_LENGTH: usize = 100;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/rules", web::get().to(rules))
        .route("/rules", web::post().to(add_rule))
        .route("/rules/gateway", web::post().to(set_gateway))
        .route("/rules/{id}", web::get().to(rule))
        .route("/rules/{id}", web::post().to(edit_rule))
        .route("/rules/{id}/switch", web::post().to(switch))
        .route("/rules/{id}/delete", web::post().to(delete));
}

/// The form of a new rule: the common cases as fields, or the whole JSON.
#[derive(Deserialize, Default)]
struct RuleForm {
    csrf: String,
    #[serde(default)]
    json: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    trigger: String,
    #[serde(default)]
    pattern: String,
    #[serde(default)]
    count: String,
    #[serde(default)]
    within_days: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    group: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    secret: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    sender: String,
    #[serde(default)]
    campaign: String,
    #[serde(default)]
    status_id: String,
    #[serde(default)]
    repeat_after_days: String,
}

#[derive(Deserialize)]
struct JsonForm {
    csrf: String,
    json: String,
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

#[derive(Deserialize)]
struct GatewayForm {
    csrf: String,
    url: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    sender: String,
}

super::has_csrf!(RuleForm, JsonForm, CsrfForm, GatewayForm);

fn number(text: &str) -> Value {
    text.trim().parse::<u64>().map_or(Value::Null, Value::from)
}

impl RuleForm {
    /// The rule's JSON form: the JSON field if given, else built from the fields.
    fn to_json(&self) -> String {
        if !self.json.trim().is_empty() {
            return self.json.clone();
        }
        let pattern = self.pattern.trim();
        let mut when = match self.trigger.as_str() {
            "url_prefix" | "url_equals" | "url_contains" => {
                json!({ "pageview": { self.trigger.clone(): pattern } })
            }
            "event" => json!({ "event": { "name": pattern } }),
            "identified" => json!({ "identified": {} }),
            _ => json!({ "contact_added": {} }),
        };
        for (key, text) in [("count", &self.count), ("within_days", &self.within_days)] {
            if !text.trim().is_empty() {
                when[key] = number(text);
            }
        }
        let action = match self.action.as_str() {
            "remove_from_group" => json!({ "remove_from_group": number(&self.group) }),
            "add_to_campaign" => json!({ "add_to_campaign": {
                "campaign": self.campaign.trim(), "status_id": number(&self.status_id) } }),
            "webhook" => json!({ "webhook": { "url": self.url.trim(), "secret": self.secret } }),
            "send_sms" => {
                let mut sms = json!({ "text": self.text });
                if !self.sender.trim().is_empty() {
                    sms["sender"] = Value::String(self.sender.trim().to_owned());
                }
                json!({ "send_sms": sms })
            }
            _ => json!({ "add_to_group": number(&self.group) }),
        };
        let repeat = number(&self.repeat_after_days);
        json!({
            "name": self.name,
            "enabled": true,
            "when": when,
            "then": [action],
            "repeat_after_days": repeat,
        })
        .to_string()
    }
}

struct ListView {
    rules: Vec<(Rule, RuleStats)>,
    groups: Vec<Group>,
    gateway: Option<SmsGateway>,
}

fn list_view(state: &AppState, admin: &Admin) -> domain::DomainResult<ListView> {
    let account = admin.0.account;
    Ok(ListView {
        rules: domain::list_rules(&state.store, account)?,
        groups: domain::all_groups(&state.store, account)?,
        gateway: domain::sms_gateway(&state.store, account)?,
    })
}

async fn rules(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    shown(list_view(&state, &admin), |view| {
        list_page(&admin.chrome(), &view, &[], None)
    })
}

fn refused(admin: &Admin, state: &AppState, notes: &[String], error: &str) -> HttpResponse {
    match list_view(state, admin) {
        Ok(view) => html(
            StatusCode::UNPROCESSABLE_ENTITY,
            list_page(&admin.chrome(), &view, notes, Some(error)),
        ),
        Err(error) => internal(&error),
    }
}

async fn add_rule(
    Posted(admin, form): Posted<RuleForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let json = form.to_json();
    let saved = domain::parse_rule(&json)
        .and_then(|spec| domain::add_rule(&state.store, admin.0.account, spec));
    match saved {
        Ok(saved) => {
            if let Err(failed) = durable(&state.store).await {
                return failed;
            }
            if saved.warnings.is_empty() {
                see_other(&format!("/rules/{}", saved.rule.id))
            } else {
                rule_response(&admin, &state, saved.rule.id, &saved.warnings, None)
            }
        }
        Err(RuleError::Invalid { path, message }) => {
            refused(&admin, &state, &[json], &format!("{path}: {message}"))
        }
        Err(error) => internal(&error),
    }
}

fn rule_id(path: &str) -> Option<RuleId> {
    path.parse().ok().map(RuleId)
}

fn rule_response(
    admin: &Admin,
    state: &AppState,
    id: RuleId,
    warnings: &[String],
    error: Option<(&str, &str)>,
) -> HttpResponse {
    let account = admin.0.account;
    let Ok(rule) = domain::view_rule(&state.store, account, id) else {
        return super::html(
            StatusCode::NOT_FOUND,
            super::pages::message(
                Some(&admin.chrome()),
                "Nie znaleziono",
                "Nie ma takiej reguły.",
            ),
        );
    };
    let log = match domain::rule_log(&state.store, account, id, LOG_LENGTH) {
        Ok(log) => log,
        Err(error) => return internal(&error),
    };
    let stats = match domain::rule_stats(&state.store, account, id) {
        Ok(stats) => stats,
        Err(error) => return internal(&error),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    html(
        status,
        rule_page(&admin.chrome(), &rule, stats, &log, warnings, error),
    )
}

async fn rule(admin: Admin, path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    match rule_id(&path) {
        Some(id) => rule_response(&admin, &state, id, &[], None),
        None => rule_response(&admin, &state, RuleId(0), &[], None),
    }
}

async fn edit_rule(
    Posted(admin, form): Posted<JsonForm>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let id = rule_id(&path).unwrap_or(RuleId(0));
    let account = admin.0.account;
    let saved = domain::view_rule(&state.store, account, id).and_then(|stored| {
        let mut spec = domain::parse_rule(&form.json)?;
        domain::keep_hidden_secrets(&mut spec, &stored.spec);
        domain::update_rule(&state.store, account, id, spec)
    });
    match saved {
        Ok(saved) => {
            if let Err(failed) = durable(&state.store).await {
                return failed;
            }
            if saved.warnings.is_empty() {
                see_other(&format!("/rules/{id}"))
            } else {
                rule_response(&admin, &state, id, &saved.warnings, None)
            }
        }
        Err(RuleError::Invalid { path, message }) => rule_response(
            &admin,
            &state,
            id,
            &[],
            Some((&form.json, &format!("{path}: {message}"))),
        ),
        Err(RuleError::NotFound) => rule_response(&admin, &state, id, &[], None),
        Err(RuleError::Domain(error)) => internal(&error),
    }
}

async fn switch(
    Posted(admin, _): Posted<CsrfForm>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let id = rule_id(&path).unwrap_or(RuleId(0));
    let account = admin.0.account;
    let switched = domain::view_rule(&state.store, account, id).and_then(|rule| {
        let next = if rule.spec.enabled {
            RuleState::Off
        } else {
            RuleState::On
        };
        domain::set_rule_enabled(&state.store, account, id, next)
    });
    match switched {
        Ok(_) => saved(&state.store, "/rules").await,
        Err(RuleError::Domain(error)) => internal(&error),
        Err(_) => rule_response(&admin, &state, id, &[], None),
    }
}

async fn delete(
    Posted(admin, _): Posted<CsrfForm>,
    path: web::Path<String>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let id = rule_id(&path).unwrap_or(RuleId(0));
    match domain::delete_rule(&state.store, admin.0.account, id) {
        Ok(()) => saved(&state.store, "/rules").await,
        Err(RuleError::Domain(error)) => internal(&error),
        Err(_) => rule_response(&admin, &state, id, &[], None),
    }
}

async fn set_gateway(
    Posted(admin, form): Posted<GatewayForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let credentials = if form.token.trim().is_empty() {
        GatewayCredentials::Password {
            username: form.username.trim().to_owned(),
            password: form.password.clone(),
        }
    } else {
        GatewayCredentials::Token(form.token.trim().to_owned())
    };
    let sender = Some(form.sender.trim()).filter(|s| !s.is_empty());
    match domain::set_sms_gateway(
        &state.store,
        admin.0.account,
        &form.url,
        credentials,
        sender,
    ) {
        Ok((_, None)) => saved(&state.store, "/rules").await,
        Ok((_, Some(warning))) => {
            if let Err(failed) = durable(&state.store).await {
                return failed;
            }
            shown(list_view(&state, &admin), |view| {
                list_page(&admin.chrome(), &view, &[warning], None)
            })
        }
        Err(RuleError::Invalid { path, message }) => refused(
            &admin,
            &state,
            &[],
            &format!("bramka SMS, {path}: {message}"),
        ),
        Err(error) => internal(&error),
    }
}

// ----- pages -----

fn trigger_text(rule: &Rule) -> String {
    let when = &rule.spec.when;
    let base = match when.trigger() {
        domain::Trigger::PageView(pattern) => {
            let (how, text) = if let Some(text) = &pattern.url_contains {
                ("adres zawiera", text)
            } else if let Some(text) = &pattern.url_prefix {
                ("adres zaczyna się od", text)
            } else {
                (
                    "adres równy",
                    pattern.url_equals.as_ref().map_or(&rule.spec.name, |t| t),
                )
            };
            format!("odsłona: {how} „{text}”")
        }
        domain::Trigger::Event(pattern) => format!("zdarzenie „{}”", pattern.name),
        domain::Trigger::Identified => "odwiedzający rozpoznany".to_owned(),
        domain::Trigger::ContactAdded => "nowy kontakt".to_owned(),
    };
    let count = when
        .count
        .map(|count| format!(", {count} razy"))
        .unwrap_or_default();
    let days = when
        .within_days
        .map(|days| format!(" w ciągu {days} dni"))
        .unwrap_or_default();
    format!("{base}{count}{days}")
}

fn list_page(chrome: &Chrome, view: &ListView, notes: &[String], error: Option<&str>) -> Markup {
    layout(
        Some(chrome),
        "Reguły",
        html! {
            h1 { "Reguły zachowań" }
            p { "Co robią odwiedzający, uruchamia akcje: grupy, kampanie, webhooki, SMS. Opis formatu JSON: README, „Behaviour rules”." }
            @if let Some(error) = error { p.error role="alert" { (error) } }
            @for note in notes { p.warning { (note) } }
            @if view.rules.is_empty() {
                p.empty { "Brak reguł." }
            } @else {
                table.rules {
                    thead { tr { th { "Reguła" } th { "Wyzwalacz" } th { "Uruchomienia" } th { "Dostarczone" } th { "Nieudane" } th { "Stan" } } }
                    tbody {
                        @for (rule, stats) in &view.rules {
                            tr {
                                td { a href={ "/rules/" (rule.id) } { (rule.spec.name) } }
                                td { (trigger_text(rule)) }
                                td.fired { (stats.fired) }
                                td { (stats.delivered) }
                                td { (stats.failed) }
                                td {
                                    form.inline method="post" action={ "/rules/" (rule.id) "/switch" } {
                                        (csrf_field(chrome.csrf))
                                        button type="submit" { @if rule.spec.enabled { "Włączona — wyłącz" } @else { "Wyłączona — włącz" } }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            h2 { "Nowa reguła" }
            form.rule method="post" action="/rules" {
                (csrf_field(chrome.csrf))
                label { "Nazwa" input name="name" maxlength="100" placeholder="Cennik 3 razy w tygodniu"; }
                label { "Kiedy"
                    select name="trigger" {
                        option value="url_contains" { "odsłona: adres zawiera" }
                        option value="url_prefix" { "odsłona: adres zaczyna się od" }
                        option value="url_equals" { "odsłona: adres równy" }
                        option value="event" { "zdarzenie o nazwie" }
                        option value="identified" { "odwiedzający rozpoznany (trackUser, zapis z suid)" }
                        option value="contact_added" { "nowy kontakt" }
                    }
                }
                label { "Adres lub nazwa zdarzenia" input name="pattern" placeholder="/pricing"; }
                label { "Ile razy" input name="count" type="number" min="1" placeholder="1"; }
                label { "W ciągu dni" input name="within_days" type="number" min="1" placeholder="zawsze"; }
                label { "Akcja"
                    select name="action" {
                        option value="add_to_group" { "dodaj do grupy" }
                        option value="remove_from_group" { "usuń z grupy" }
                        option value="add_to_campaign" { "dodaj do kampanii" }
                        option value="webhook" { "webhook" }
                        option value="send_sms" { "wyślij SMS" }
                    }
                }
                label { "Grupa"
                    select name="group" {
                        @for group in &view.groups { option value=(group.id) { (group.name) } }
                    }
                }
                label { "Kampania (id) i status_id" input name="campaign" placeholder="00001"; input name="status_id" type="number" min="1" placeholder="1"; }
                label { "Webhook: URL" input name="url" type="url" placeholder="https://crm.example.com/hooks/ssrm"; }
                label { "Webhook: sekret (min. 16 znaków)" input name="secret"; }
                label { "SMS: treść ({first_name}, {last_name}, {company}, {phone}, {email}, {city})" textarea name="text" rows="2" {} }
                label { "SMS: nadawca" input name="sender" maxlength="11"; }
                label { "Ponów po dniach (puste: raz na kontakt)" input name="repeat_after_days" type="number" min="1"; }
                details {
                    summary { "albo JSON" }
                    textarea name="json" rows="12" { (notes.first().map(String::as_str).unwrap_or_default()) }
                }
                button type="submit" { "Dodaj regułę" }
            }
            h2 { "Bramka SMS" }
            @match &view.gateway {
                Some(gateway) => p.gateway { "Adres: " code { (gateway.url) } ", uwierzytelnianie: " (gateway.auth_description()) ", nadawca: " (gateway.sender.as_deref().unwrap_or("—")) },
                None => p.empty { "Nie ustawiono: reguły nie wyślą SMS." },
            }
            form.gateway method="post" action="/rules/gateway" {
                (csrf_field(chrome.csrf))
                label { "Adres API (zgodny z SerwerSMS v2)" input name="url" type="url" required placeholder="https://api2.serwersms.pl/"; }
                label { "Token" input name="token" type="password" autocomplete="off"; }
                label { "albo login" input name="username" autocomplete="off"; }
                label { "i hasło" input name="password" type="password" autocomplete="off"; }
                label { "Nadawca domyślny" input name="sender" maxlength="11"; }
                button type="submit" { "Zapisz bramkę" }
            }
        },
    )
}

fn delivery_class(delivery: &Delivery) -> &'static str {
    match delivery.state {
        DeliveryState::Pending => "pending",
        DeliveryState::Delivered => "delivered",
        DeliveryState::Failed => "failed",
    }
}

fn rule_page(
    chrome: &Chrome,
    rule: &Rule,
    stats: RuleStats,
    log: &[(Firing, Vec<Delivery>)],
    warnings: &[String],
    error: Option<(&str, &str)>,
) -> Markup {
    let shown = serde_json::to_string_pretty(&domain::shown_spec(&rule.spec)).unwrap_or_default();
    let (json, message) = match error {
        Some((json, message)) => (json.to_owned(), Some(message)),
        None => (shown, None),
    };
    layout(
        Some(chrome),
        &rule.spec.name,
        html! {
            h1 { "Reguła „" (rule.spec.name) "”" }
            p { (trigger_text(rule)) " · " @if rule.spec.enabled { "włączona" } @else { "wyłączona" }
                " · uruchomienia: " span.fired { (stats.fired) } ", dostarczone: " (stats.delivered) ", nieudane: " (stats.failed) }
            @if let Some(message) = message { p.error role="alert" { (message) } }
            @for warning in warnings { p.warning { (warning) } }
            form method="post" action={ "/rules/" (rule.id) } {
                (csrf_field(chrome.csrf))
                label { "JSON reguły (sekrety webhooków ukryte: „(hidden)” zachowuje zapisany)" textarea name="json" rows="16" { (json) } }
                button type="submit" { "Zapisz" }
            }
            form.inline method="post" action={ "/rules/" (rule.id) "/switch" } {
                (csrf_field(chrome.csrf))
                button type="submit" { @if rule.spec.enabled { "Wyłącz" } @else { "Włącz" } }
            }
            form.inline method="post" action={ "/rules/" (rule.id) "/delete" } {
                (csrf_field(chrome.csrf))
                button type="submit" { "Usuń regułę" }
            }
            h2 { "Dziennik (ostatnie " (LOG_LENGTH) " uruchomień)" }
            @if log.is_empty() {
                p.empty { "Reguła jeszcze się nie uruchomiła." }
            } @else {
                table.log {
                    thead { tr { th { "Czas" } th { "Kontakt" } th { "Wyzwalacz" } th { "Akcje" } } }
                    tbody {
                        @for (firing, deliveries) in log {
                            tr {
                                td { (time(firing.at)) }
                                td { a href={ "/card?id=" (firing.contact) } { (firing.contact) } }
                                td { (firing.trigger.kind.as_str()) " " (firing.trigger.url.as_deref().or(firing.trigger.name.as_deref()).unwrap_or_default()) }
                                td {
                                    ul {
                                        @for delivery in deliveries {
                                            li class=(delivery_class(delivery)) {
                                                (delivery.action.kind()) ": " (delivery.state.as_str())
                                                " (" (delivery.attempts.len()) " prób"
                                                @if !delivery.detail().is_empty() { ", " (delivery.detail()) }
                                                ") · id " code { (delivery.id) }
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    )
}
