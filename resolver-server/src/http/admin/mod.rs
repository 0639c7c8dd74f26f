//! The admin pages: login, contacts, search, the contact card with its timeline, contact edit,
//! groups, domains with their snippet and verification switch, API tokens. Server-rendered,
//! usable without JavaScript. Sessions are HttpOnly cookies (Secure on https, SameSite=Lax);
//! every form carries the session's CSRF token; login attempts are rate-limited per address.
//!
//! Spec: `shared/spec/telefum-crm-api.md` (Browser pages) and the admin-pages issue.

mod campaigns;
mod contacts;
mod dashboard;
mod error;
mod exports;
mod forms;
mod pages;
mod privacy;
mod rules;
mod session;
mod settings;

use super::auth::{retry_after_seconds, Attempt};
use super::AppState;
use crate::domain::{
    self, AuthFailure, Blanks, Contact, ContactId, ContactInput, ContactKind, ContactQuery, Entity,
    GroupFilter, GroupId, Paging, PhoneReading, Session,
};
use crate::store::Store;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use error::{forbidden, internal, not_found, refused};
use maud::Markup;
use pages::Chrome;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::future::{ready, Future, Ready};
use std::pin::Pin;

use campaigns::campaign_of;
use campaigns::{add_campaign, add_campaign_status, campaign};
use contacts::{card, contacts, edit, edit_form, search};
use contacts::{contact_query, ListQuery};
use forms::*;
use session::{login, login_form, logout};
use settings::{
    add_domain, add_group, create_token, domains, groups, revoke_token, tokens, verification,
};

const SESSION_COOKIE: &str = "ssrm_session";
const LOGIN_CSRF_COOKIE: &str = "ssrm_login_csrf";
/// Timeline entries per card page.
const TIMELINE_PAGE: u64 = 50;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/admin.css", web::get().to(stylesheet))
        .route("/login", web::get().to(login_form))
        .route("/login", web::post().to(login))
        .route("/logout", web::post().to(logout))
        .route("/contacts", web::get().to(contacts))
        .route("/contacts/{id}/edit", web::get().to(edit_form))
        .route("/contacts/{id}/edit", web::post().to(edit))
        .route("/search", web::get().to(search))
        .route("/card", web::get().to(card))
        .route("/groups", web::get().to(groups))
        .route("/groups", web::post().to(add_group))
        .route("/domains", web::get().to(domains))
        .route("/domains", web::post().to(add_domain))
        .route("/domains/verification", web::post().to(verification))
        .route("/campaigns", web::get().to(campaigns::campaigns))
        .route("/campaigns", web::post().to(add_campaign))
        .route("/campaigns/{id}", web::get().to(campaign))
        .route(
            "/campaigns/{id}/statuses",
            web::post().to(add_campaign_status),
        )
        .route("/tokens", web::get().to(tokens))
        .route("/tokens", web::post().to(create_token))
        .route("/tokens/revoke", web::post().to(revoke_token))
        .configure(rules::configure)
        .configure(privacy::configure)
        .configure(exports::configure)
        .configure(dashboard::configure);
}

fn html(status: StatusCode, markup: Markup) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((
            "Content-Security-Policy",
            "default-src 'self'; form-action 'self'; frame-ancestors 'none'",
        ))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "same-origin"))
        .insert_header(("Cache-Control", "no-store"))
        .body(markup.into_string())
}

fn page(markup: Markup) -> HttpResponse {
    html(StatusCode::OK, markup)
}

/// The page `render` makes of what was read, or the server-failure page (logged) when reading
/// failed.
fn shown<T>(read: domain::DomainResult<T>, render: impl FnOnce(T) -> Markup) -> HttpResponse {
    match read {
        Ok(found) => page(render(found)),
        Err(error) => internal(&error),
    }
}

fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location))
        .finish()
}

/// A signed-in user, or a redirect to the login page that comes back here.
struct Admin(Session);

/// Why a page that needs a signed-in user was not shown.
#[derive(Debug)]
enum NoAdmin {
    /// No session, or an expired one: to the login page, and back here after it.
    NotSignedIn { next: String },
    /// The session could not be read: a server failure (logged), not a sign-out.
    Failed(domain::DomainError),
}

impl std::fmt::Display for NoAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoAdmin::NotSignedIn { .. } => f.write_str("not signed in"),
            NoAdmin::Failed(error) => write!(f, "session not readable: {error}"),
        }
    }
}

impl ResponseError for NoAdmin {
    fn status_code(&self) -> StatusCode {
        match self {
            NoAdmin::NotSignedIn { .. } => StatusCode::SEE_OTHER,
            NoAdmin::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        match self {
            NoAdmin::NotSignedIn { next } => {
                let next =
                    percent_encoding::utf8_percent_encode(next, percent_encoding::NON_ALPHANUMERIC);
                see_other(&format!("/login?next={next}"))
            }
            NoAdmin::Failed(error) => internal(error),
        }
    }
}

impl FromRequest for Admin {
    type Error = NoAdmin;
    type Future = Ready<Result<Admin, NoAdmin>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let next = match request.query_string() {
            "" => request.path().to_owned(),
            query => format!("{}?{query}", request.path()),
        };
        let found = match (
            request.app_data::<web::Data<AppState>>(),
            request.cookie(SESSION_COOKIE),
        ) {
            (Some(state), Some(cookie)) => domain::find_session(&state.store, cookie.value()),
            _ => Ok(None),
        };
        ready(match found {
            Ok(Some(session)) => Ok(Admin(session)),
            Ok(None) => Err(NoAdmin::NotSignedIn { next }),
            Err(error) => Err(NoAdmin::Failed(error)),
        })
    }
}

/// Sets a cookie on an answer; a cookie that cannot be written (it never should: names and
/// values are ours) is logged, and the answer goes out without it.
fn set_cookie(response: &mut HttpResponse, cookie: &Cookie<'_>) {
    if let Err(error) = response.add_cookie(cookie) {
        tracing::error!(%error, cookie = cookie.name(), "cannot set a cookie");
    }
}

impl Admin {
    fn chrome(&self) -> Chrome<'_> {
        Chrome {
            username: &self.0.username,
            csrf: &self.0.csrf,
        }
    }
}

/// Decodes a form body (PHP-style `groups[]=` arrays allowed).
fn form<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    serde_qs::Config::new(2, false).deserialize_bytes(body).ok()
}

/// Reads a form whose CSRF token matches the session's; `None` means refuse it.
fn checked_form<T: DeserializeOwned + HasCsrf>(admin: &Admin, body: &[u8]) -> Option<T> {
    form::<T>(body).filter(|parsed| admin.0.csrf_matches(parsed.csrf()))
}

trait HasCsrf {
    fn csrf(&self) -> &str;
}

/// A form posted by a signed-in user, with the session's CSRF token. Checked in the order the
/// handlers took their parts: the session (else to the login page), the body (else actix's
/// answer), then the token (else [`forbidden`]).
struct Posted<T>(Admin, T);

/// A form whose CSRF token is missing or stale, answered by [`forbidden`].
struct StaleForm(Admin);

// Not derived: the session holds the CSRF token, which must not reach the logs.
impl std::fmt::Debug for StaleForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StaleForm")
    }
}

impl std::fmt::Display for StaleForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("form without the session's CSRF token")
    }
}

impl ResponseError for StaleForm {
    fn status_code(&self) -> StatusCode {
        StatusCode::FORBIDDEN
    }

    fn error_response(&self) -> HttpResponse {
        forbidden(Some(&self.0))
    }
}

impl<T: DeserializeOwned + HasCsrf + 'static> FromRequest for Posted<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Posted<T>, actix_web::Error>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let admin = Admin::from_request(request, payload);
        let body = web::Bytes::from_request(request, payload);
        Box::pin(async move {
            let admin = admin.await?;
            let body = body.await?;
            match checked_form::<T>(&admin, &body) {
                Some(form) => Ok(Posted(admin, form)),
                None => Err(StaleForm(admin).into()),
            }
        })
    }
}

/// Ok once the writes before it are durable; else the server-failure page to answer with.
async fn durable(store: &Store) -> Result<(), HttpResponse> {
    super::flush(store)
        .await
        .map_err(|()| internal(&"flush failed"))
}

/// Runs store work off the async workers (lists and searches read many records). Any failure,
/// the store's or a worker's that did not finish, is the server's: `Err` is its page, logged.
async fn off_workers<T: Send + 'static>(
    state: &AppState,
    work: impl FnOnce(&Store) -> domain::DomainResult<T> + Send + 'static,
) -> Result<T, HttpResponse> {
    let store = state.store.clone();
    match web::block(move || work(&store)).await {
        Ok(Ok(found)) => Ok(found),
        Ok(Err(error)) => Err(internal(&error)),
        Err(error) => Err(internal(&error)),
    }
}

/// A redirect to `location` once the writes before it are durable.
async fn saved(store: &Store, location: &str) -> HttpResponse {
    match durable(store).await {
        Ok(()) => see_other(location),
        Err(failed) => failed,
    }
}

macro_rules! has_csrf {
    ($($form:ty),*) => { $(impl HasCsrf for $form { fn csrf(&self) -> &str { &self.csrf } })* };
}
use has_csrf;

has_csrf!(
    StatusForm,
    CsrfOnly,
    ContactEditForm,
    NameForm,
    DomainForm,
    VerificationForm,
    TokenForm,
    RevokeForm
);

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(include_str!("admin.css"))
}
