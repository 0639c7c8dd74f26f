//! The TelefUM CRM integration API: `/rest?typereq=find|addcont|addevent`, answering XML in the
//! seed's shape. Credentials are `login` + `password`, where the password may be an API token
//! of that login's account.
//!
//! Spec: `shared/spec/telefum-crm-api.md`; seed: `shared/seeds/telefum-crm-api.txt`.

mod error;
mod params;
mod xml;

use super::auth::Attempt;
use super::body::read_limited;
use super::xml::XmlError;
use super::AppState;
use crate::domain::{
    self, Contact, ContactId, ContactInput, ContactKind, EventInput, PhoneReading, Principal,
};
use crate::http;
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use error::TelefumError;
use params::Params;
use xml::Response;

/// TelefUM sends a handful of short fields.
const MAX_REST_BODY: usize = 64 * 1024;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/rest", web::get().to(rest))
        .route("/rest", web::post().to(rest));
}

fn respond(document: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/xml; charset=utf-8")
        .body(document)
}

/// The error document. Its text is ours, so writing cannot fail; if it ever did, the answer is
/// a 500 with a fixed valid document rather than an empty 200.
fn fail(error: TelefumError) -> HttpResponse {
    match Response::new()
        .field("result", "error")
        .field("description", error.description())
        .finish()
    {
        Ok(document) => respond(document),
        Err(failure) => {
            tracing::error!(%failure, "TelefUM error document");
            HttpResponse::InternalServerError()
                .content_type("text/xml; charset=utf-8")
                .body("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<result>error</result>\n</response>")
        }
    }
}

/// Reads `typecont` in any of its spellings: `lead`/`contact`/`company`, capitalised, or
/// Russian (`Лид`, `Контакт`, `Компания`).
pub fn contact_kind(text: &str) -> Option<ContactKind> {
    ContactKind::parse(text)
}

async fn rest(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    match answer(&request, payload, &state).await {
        Ok(document) => respond(document),
        Err(error) => fail(error),
    }
}

async fn answer(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<String, TelefumError> {
    let body = read_limited(request, payload, MAX_REST_BODY)
        .await
        .map_err(|_| TelefumError::InvalidData)?;
    let params = Params::parse(&[request.query_string().as_bytes(), &body]);
    let principal = authenticate(request, &params, state).await?;
    let store = &state.store;
    let document = match params.get("typereq") {
        Some("find") => {
            let phone = params
                .get("phone")
                .ok_or(TelefumError::MissingPhone)?
                .to_owned();
            let contacts = http::blocking(store, move |store| {
                domain::contacts_by_caller_number(store, principal.account, &phone)
            })
            .await?;
            found(&contacts)?
        }
        Some("addcont") => {
            let input = new_contact(&params)?;
            let contact = http::durable(store, move |store| {
                domain::add_contact(store, &principal, &input)
            })
            .await?;
            Response::new()
                .field("result", "ok")
                .field("id", &contact.id.to_string())
                .field("typecont", contact.kind.as_str())
                .field("description", "Контакт добавлен")
                .finish()?
        }
        Some("addevent") => {
            if request.method() != Method::POST {
                return Err(TelefumError::AddEventNeedsPost);
            }
            let id = params.get("id").ok_or(TelefumError::MissingContactId)?;
            let id = ContactId(id.parse().map_err(|_| TelefumError::ContactNotFound)?);
            let kind = match params.get("typecont") {
                Some(kind) => Some(contact_kind(kind).ok_or(TelefumError::UnknownContactType)?),
                None => None,
            };
            let event = EventInput {
                contact: id,
                kind,
                subject: params.get("subj").unwrap_or_default().to_owned(),
                description: params.get("desc").unwrap_or_default().to_owned(),
                line: params.get("x_pstn").map(str::to_owned),
            };
            let activity = http::durable(store, move |store| {
                domain::log_event(store, &principal, &event)
            })
            .await?;
            Response::new()
                .field("result", "ok")
                .field("idev", &activity.id.to_string())
                .field("description", "Событие добавлено")
                .finish()?
        }
        _ => return Err(TelefumError::UnknownRequest),
    };
    Ok(document)
}

/// `login` + `password` (or a token of that login's account). A throttled login is answered
/// as a bad one: TelefUM answers every error 200 with its description.
async fn authenticate(
    request: &HttpRequest,
    params: &Params,
    state: &AppState,
) -> Result<Principal, TelefumError> {
    let (Some(login), Some(password)) = (params.get("login"), params.get("password")) else {
        return Err(TelefumError::BadCredentials);
    };
    let (login, password) = (login.to_owned(), password.to_owned());
    let attempt = Attempt::of(request, state);
    http::blocking(&state.store, move |store| {
        domain::authenticate_login(store, attempt.get(), &login, &password)
    })
    .await?
    .map_err(|_| TelefumError::BadCredentials)
}

fn found(contacts: &[Contact]) -> Result<String, XmlError> {
    let mut response = Response::new();
    for contact in contacts {
        let id = contact.id.to_string();
        let name = contact.name();
        response = response.item(&[
            ("id", &id),
            ("typecont", contact.kind.as_str()),
            ("name", &name),
            ("company", &contact.company),
            ("description", &contact.description),
        ]);
    }
    response
        .field("total", &contacts.len().to_string())
        .finish()
}

/// `addcont`'s parameters as a contact: a company's name is its company; a person's name is
/// split into first name and the rest; `x_pstn` (the line that was called) is the source.
fn new_contact(params: &Params) -> Result<ContactInput, TelefumError> {
    let phone = params.get("phone").ok_or(TelefumError::MissingPhone)?;
    let kind = match params.get("typecont") {
        Some(text) => contact_kind(text).ok_or(TelefumError::UnknownContactType)?,
        None => ContactKind::Contact,
    };
    let name = params.get("name").unwrap_or_default();
    let mut input = ContactInput {
        phone: Some(phone.to_owned()),
        kind: Some(kind),
        source: params.get("x_pstn").map(str::to_owned),
        phone_reading: PhoneReading::Dialable,
        ..ContactInput::default()
    };
    if kind == ContactKind::Company {
        input.company = Some(name.to_owned());
    } else {
        let mut parts = name.splitn(2, char::is_whitespace);
        input.first_name = parts.next().map(str::to_owned);
        input.last_name = parts.next().map(|rest| rest.trim().to_owned());
    }
    Ok(input)
}
