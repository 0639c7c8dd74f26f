//! The admin pages of data protection: erasing a contact (a form on its card, with a
//! confirmation), the access export (a JSON download from the card), the audit log of
//! deletions and the account's retention period. Every form carries the session's CSRF token.

use super::pages::{csrf_field, layout, time, Chrome};
use super::{
    checked_form, forbidden, html, internal, not_found, page, saved, Admin, HasCsrf, Posted,
};
use crate::domain::{self, Actor, AuditEntry, ContactId, Entity, Erasing, SiteDomain};
use crate::http::AppState;
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use maud::{html, Markup};
use serde::Deserialize;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/contacts/{id}/delete", web::post().to(delete))
        .route("/contacts/{id}/export", web::get().to(export))
        .route("/domains/browser-signals", web::post().to(browser_signals))
        .route("/audit", web::get().to(audit))
        .route("/audit/retention", web::post().to(set_retention));
}

/// The card's data-protection buttons: export and erase (the browser asks to confirm).
pub fn card_actions(chrome: &Chrome, contact: ContactId) -> Markup {
    html! {
        div.privacy {
            a.button href={ "/contacts/" (contact) "/export" } download { "Eksport danych (JSON)" }
            form method="post" action={ "/contacts/" (contact) "/delete" } {
                (csrf_field(chrome.csrf))
                label {
                    input type="checkbox" name="confirm" value="yes" required;
                    " Usuń kontakt i wszystkie jego dane (historię przeglądania, aktywności, kampanie)"
                }
                button.danger type="submit" { "Usuń trwale" }
            }
        }
    }
}

/// The domain's GPC/DNT switch (on the domains page).
pub fn browser_signals_form(chrome: &Chrome, domain: &SiteDomain) -> Markup {
    html! {
        @if domain.honour_browser_signals {
            p.ok { "Sygnały przeglądarki (GPC, DNT) respektowane: z takich żądań nic nie jest zapisywane." }
        }
        form.inline method="post" action="/domains/browser-signals" {
            (csrf_field(chrome.csrf))
            input type="hidden" name="domain" value=(domain.name);
            input type="hidden" name="on" value=(if domain.honour_browser_signals { "false" } else { "true" });
            button type="submit" { @if domain.honour_browser_signals { "Przestań respektować GPC/DNT" } @else { "Respektuj GPC/DNT" } }
        }
    }
}

#[derive(Deserialize)]
struct SignalsForm {
    csrf: String,
    domain: String,
    on: String,
}
super::has_csrf!(SignalsForm);

async fn browser_signals(
    Posted(admin, form): Posted<SignalsForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let on = form.on == "true";
    match domain::set_honour_browser_signals(&state.store, admin.0.account, &form.domain, on) {
        Ok(_) => saved(&state.store, "/domains").await,
        Err(_) => not_found(&admin, Entity::Domain),
    }
}

#[derive(Deserialize)]
struct DeleteForm {
    csrf: String,
    #[serde(default)]
    confirm: String,
}
super::has_csrf!(DeleteForm);

async fn delete(
    admin: Admin,
    path: web::Path<u64>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(form) = checked_form::<DeleteForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    if form.confirm != "yes" {
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            super::pages::message(
                Some(&admin.chrome()),
                "Nie usunięto",
                "Zaznacz potwierdzenie, aby trwale usunąć kontakt i jego dane.",
            ),
        );
    }
    let account = admin.0.account;
    let erasing = Erasing::new(
        Actor::Admin {
            user: admin.0.username.clone(),
        },
        "admin",
    );
    let store = state.store.clone();
    let id = ContactId(*path);
    match web::block(move || domain::delete_contacts(&store, account, &[id], &erasing)).await {
        Ok(Ok(())) => saved(&state.store, "/contacts").await,
        Ok(Err(domain::DomainError::NotFound(_))) => not_found(&admin, Entity::Contact),
        Ok(Err(error)) => internal(&error),
        Err(error) => internal(&error),
    }
}

/// The access export as a JSON download.
async fn export(admin: Admin, path: web::Path<u64>, state: web::Data<AppState>) -> HttpResponse {
    let id = ContactId(*path);
    let exported = domain::export_contact(&state.store, admin.0.account, id, domain::now_millis());
    match exported.map(|export| serde_json::to_vec_pretty(&export)) {
        Ok(Ok(body)) => HttpResponse::Ok()
            .content_type("application/json")
            .insert_header((
                "Content-Disposition",
                format!("attachment; filename=\"contact-{id}.json\""),
            ))
            .insert_header(("Cache-Control", "no-store"))
            .body(body),
        Ok(Err(error)) => internal(&error),
        Err(domain::DomainError::NotFound(_)) => not_found(&admin, Entity::Contact),
        Err(error) => internal(&error),
    }
}

async fn audit(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    let account = admin.0.account;
    match (
        domain::audit_log(&state.store, account),
        domain::retention_days(&state.store, account),
    ) {
        (Ok(entries), Ok(days)) => page(audit_page(&admin.chrome(), &entries, days, None)),
        (Err(error), _) => internal(&error),
        (_, Err(error)) => internal(&error),
    }
}

#[derive(Deserialize)]
struct RetentionForm {
    csrf: String,
    #[serde(default)]
    retention_days: String,
}
super::has_csrf!(RetentionForm);

async fn set_retention(
    Posted(admin, form): Posted<RetentionForm>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let account = admin.0.account;
    let outcome = match form.retention_days.trim().parse::<u32>() {
        Ok(days) => domain::set_retention_days(&state.store, account, days),
        Err(_) => Err(domain::DomainError::InvalidField {
            field: "retention_days",
            reason: "must be between 1 and 3650 days",
        }),
    };
    match outcome {
        Ok(()) => saved(&state.store, "/audit").await,
        Err(error) => super::error::refused(&error, |reason| {
            let entries = domain::audit_log(&state.store, account)?;
            let days = domain::retention_days(&state.store, account)?;
            Ok(audit_page(&admin.chrome(), &entries, days, Some(reason)))
        }),
    }
}

fn audit_page(chrome: &Chrome, entries: &[AuditEntry], days: u32, error: Option<&str>) -> Markup {
    layout(
        Some(chrome),
        "Prywatność",
        html! {
            h1 { "Prywatność" }
            h2 { "Okres przechowywania" }
            p { "Odsłony i zdarzenia starsze niż tyle dni są usuwane (co godzinę, w tle)." }
            @if let Some(error) = error { p.error { (error) } }
            form method="post" action="/audit/retention" {
                (csrf_field(chrome.csrf))
                label { "Dni: " input type="number" name="retention_days" min="1" max="3650" value=(days) required; }
                button type="submit" { "Zapisz" }
            }
            h2 { "Dziennik usunięć" }
            p { "Kto i kiedy usunął kontakt (z całą historią). Bez danych osobowych: tylko numer kontaktu." }
            table.audit {
                thead { tr { th { "Kiedy" } th { "Kontakt" } th { "Kto" } th { "Przez" } } }
                tbody {
                    @for entry in entries.iter().rev() {
                        tr {
                            td { (time(entry.at)) }
                            td { (entry.contact) }
                            td { (entry.by.describe()) }
                            td { (entry.via) }
                        }
                    }
                }
            }
        },
    )
}
