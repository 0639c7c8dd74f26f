//! The admin pages: login, contacts, search, the contact card with its timeline, contact edit,
//! groups, domains with their snippet and verification switch, API tokens. Server-rendered,
//! usable without JavaScript. Sessions are HttpOnly cookies (Secure on https, SameSite=Lax);
//! every form carries the session's CSRF token; login attempts are rate-limited per address.
//!
//! Spec: `shared/spec/telefum-crm-api.md` (Browser pages) and the admin-pages issue.

mod dashboard;
mod error;
mod exports;
mod pages;
mod privacy;
mod rules;

use super::auth::{retry_after_seconds, Attempt};
use super::AppState;
use crate::domain::{
    self, AuthFailure, Blanks, Contact, ContactId, ContactInput, ContactKind, ContactQuery, Entity,
    GroupFilter, GroupId, Paging, PhoneReading, Session,
};
use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpRequest, HttpResponse, ResponseError};
use error::{forbidden, internal, not_found, refused};
use maud::Markup;
use pages::Chrome;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::future::{ready, Ready};

const SESSION_COOKIE: &str = "ssrm_session";
const LOGIN_CSRF_COOKIE: &str = "ssrm_login_csrf";
/// Timeline entries per card page.
const TIMELINE_PAGE: u64 = 50;
/// Longest token lifetime typed in the tokens page (a hundred years).
const MAX_TOKEN_DAYS: u32 = 36_500;

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
        .route("/campaigns", web::get().to(campaigns))
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

macro_rules! has_csrf {
    ($($form:ty),*) => { $(impl HasCsrf for $form { fn csrf(&self) -> &str { &self.csrf } })* };
}
use has_csrf;

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header(("Cache-Control", "public, max-age=300"))
        .body(include_str!("admin.css"))
}

// ----- login -----

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

/// Only a path on this site: `/card?id=1`, never `//evil.example` or `https://…`.
/// Read the way a browser reads a `Location` (WHATWG URL, `url` crate: tabs and line breaks
/// dropped, `\\` as `/`) against this site; kept only if it stays on this site, and then
/// written back percent-encoded, so it is always a valid header value. Anything else: the
/// contact list (the login itself still succeeds).
fn safe_next(next: Option<&str>) -> String {
    const HOME: &str = "/";
    let Some(next) = next.filter(|next| next.starts_with('/')) else {
        return HOME.to_owned();
    };
    let Ok(base) = url::Url::parse("http://admin.invalid/") else {
        return HOME.to_owned();
    };
    match base.join(next) {
        Ok(target) if target.origin() == base.origin() => match target.query() {
            Some(query) => format!("{}?{query}", target.path()),
            None => target.path().to_owned(),
        },
        _ => HOME.to_owned(),
    }
}

fn secure(request: &HttpRequest) -> bool {
    request.connection_info().scheme() == "https"
}

fn login_page(
    request: &HttpRequest,
    next: &str,
    error: Option<&str>,
    status: StatusCode,
) -> HttpResponse {
    let csrf = domain::random_token(16);
    let cookie = Cookie::build(LOGIN_CSRF_COOKIE, csrf.clone())
        .path("/login")
        .http_only(true)
        .secure(secure(request))
        .same_site(SameSite::Strict)
        .finish();
    let mut response = html(status, pages::login(&csrf, next, error));
    set_cookie(&mut response, &cookie);
    response
}

async fn login_form(request: HttpRequest, query: web::Query<NextQuery>) -> HttpResponse {
    login_page(
        &request,
        &safe_next(query.next.as_deref()),
        None,
        StatusCode::OK,
    )
}

#[derive(Deserialize)]
struct LoginForm {
    csrf: String,
    username: String,
    password: String,
    next: Option<String>,
}

async fn login(request: HttpRequest, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let Some(form): Option<LoginForm> = form(&body) else {
        return login_page(
            &request,
            "/",
            Some("Uzupełnij login i hasło."),
            StatusCode::BAD_REQUEST,
        );
    };
    let next = safe_next(form.next.as_deref());
    // Double-submit: the form's token must equal the cookie set with the form.
    let expected = request
        .cookie(LOGIN_CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    if expected.is_empty() || !domain::constant_time_eq(expected.as_bytes(), form.csrf.as_bytes()) {
        return forbidden(None);
    }
    let address =
        super::limiter::rate_key(super::client_address(&request, state.client_address)).to_string();
    if state.login_limiter.check_key(&address).is_err() {
        return login_page(
            &request,
            &next,
            Some("Za dużo prób logowania. Spróbuj za minutę."),
            StatusCode::TOO_MANY_REQUESTS,
        );
    }
    let store = state.store.clone();
    let attempt = Attempt::of(&request, &state);
    let outcome = web::block(
        move || -> domain::DomainResult<Result<(String, Session), _>> {
            match domain::authenticate_password(
                &store,
                attempt.get(),
                &form.username,
                &form.password,
            )? {
                Ok(principal) => domain::open_session(&store, &principal).map(Ok),
                Err(failure) => Ok(Err(failure)),
            }
        },
    )
    .await;
    match outcome {
        Ok(Ok(Err(AuthFailure::Throttled { retry_after }))) => {
            let mut response = login_page(
                &request,
                &next,
                Some("Za dużo nieudanych prób logowania na to konto. Spróbuj później."),
                StatusCode::TOO_MANY_REQUESTS,
            );
            if let Ok(value) = retry_after_seconds(retry_after).to_string().try_into() {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            response
        }
        Ok(Ok(Ok((token, _)))) => {
            let cookie = Cookie::build(SESSION_COOKIE, token)
                .path("/")
                .http_only(true)
                .secure(secure(&request))
                .same_site(SameSite::Lax)
                .finish();
            let mut response = see_other(&next);
            set_cookie(&mut response, &cookie);
            response
        }
        Ok(Ok(Err(
            AuthFailure::BadPassword | AuthFailure::UnknownToken | AuthFailure::ExpiredToken,
        ))) => login_page(
            &request,
            &next,
            Some("Nieprawidłowy login lub hasło."),
            StatusCode::UNAUTHORIZED,
        ),
        Ok(Err(error)) => internal(&error),
        Err(error) => internal(&error),
    }
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: String,
}

#[derive(Deserialize)]
struct ContactEditForm {
    csrf: String,
    phone: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    tax_id: Option<String>,
    address: Option<String>,
    city: Option<String>,
    description: Option<String>,
    #[serde(default)]
    groups: Vec<u64>,
}

#[derive(Deserialize)]
struct NameForm {
    csrf: String,
    name: String,
}

#[derive(Deserialize)]
struct DomainForm {
    csrf: String,
    domain: String,
}

#[derive(Deserialize)]
struct VerificationForm {
    csrf: String,
    domain: String,
    required: String,
}

#[derive(Deserialize)]
struct TokenForm {
    csrf: String,
    expires_days: Option<String>,
}

#[derive(Deserialize)]
struct RevokeForm {
    csrf: String,
    prefix: String,
}

#[derive(Deserialize)]
struct StatusForm {
    csrf: String,
    name: String,
    system: String,
    dictionary_status_id: Option<String>,
}

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

async fn logout(
    request: HttpRequest,
    admin: Admin,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    if checked_form::<CsrfOnly>(&admin, &body).is_none() {
        return forbidden(Some(&admin));
    }
    if let Some(cookie) = request.cookie(SESSION_COOKIE) {
        if let Err(error) = domain::close_session(&state.store, cookie.value()) {
            return internal(&error);
        }
    }
    let mut response = see_other("/login");
    let mut removal = Cookie::build(SESSION_COOKIE, "").path("/").finish();
    removal.make_removal();
    set_cookie(&mut response, &removal);
    response
}

// ----- contacts, search, card -----

#[derive(Deserialize)]
struct ListQuery {
    q: Option<String>,
    group: Option<u64>,
    page: Option<i64>,
}

/// The contact query of the list's parameters (the page list and its CSV download share it),
/// with the group it names; `Err` for a group the account does not have.
fn contact_query(
    admin: &Admin,
    query: &ListQuery,
    state: &AppState,
) -> Result<(ContactQuery, Option<domain::Group>), Entity> {
    let group = match query.group {
        Some(id) => match domain::view_group(&state.store, admin.0.account, GroupId(id)) {
            Ok(group) => Some(group),
            Err(_) => return Err(Entity::Group),
        },
        None => None,
    };
    let contact_query = ContactQuery {
        group: group
            .as_ref()
            .map_or(GroupFilter::Any, |g| GroupFilter::Group(g.id)),
        search: Some(query.q.clone().unwrap_or_default()),
        paging: Paging::new(query.page, Some(50)),
        ..ContactQuery::default()
    };
    Ok((contact_query, group))
}

async fn contacts(
    admin: Admin,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let account = admin.0.account;
    let text = query.q.clone().unwrap_or_default();
    let (contact_query, group) = match contact_query(&admin, &query, &state) {
        Ok(found) => found,
        Err(entity) => return not_found(&admin, entity),
    };
    let store = state.store.clone();
    match web::block(move || domain::list_contacts(&store, account, &contact_query)).await {
        Ok(Ok(found)) => {
            let found = found.map(|item| item.contact);
            page(pages::contacts(
                &admin.chrome(),
                &found,
                &text,
                group.as_ref(),
            ))
        }
        Ok(Err(error)) => internal(&error),
        Err(error) => internal(&error),
    }
}

#[derive(Deserialize)]
struct SearchQuery {
    phone: Option<String>,
    q: Option<String>,
}

async fn search(
    admin: Admin,
    query: web::Query<SearchQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let account = admin.0.account;
    let phone = query.phone.clone().unwrap_or_default();
    let text = query.q.clone().unwrap_or_default();
    let store = state.store.clone();
    let (phone_given, text_given) = (phone.trim().to_owned(), text.trim().to_owned());
    let results = web::block(move || -> domain::DomainResult<Option<Vec<Contact>>> {
        if !phone_given.is_empty() {
            return match domain::contacts_by_caller_number(&store, account, &phone_given) {
                Ok(found) => Ok(Some(found)),
                Err(domain::DomainError::InvalidPhone { .. }) => Ok(Some(Vec::new())),
                Err(other) => Err(other),
            };
        }
        if !text_given.is_empty() {
            let query = ContactQuery {
                search: Some(text_given),
                paging: Paging::new(None, Some(500)),
                ..ContactQuery::default()
            };
            return Ok(Some(
                domain::list_contacts(&store, account, &query)?
                    .items
                    .into_iter()
                    .map(|i| i.contact)
                    .collect(),
            ));
        }
        Ok(None)
    })
    .await;
    match results {
        Ok(Ok(results)) => page(pages::search(
            &admin.chrome(),
            &phone,
            &text,
            results.as_deref(),
        )),
        Ok(Err(error)) => internal(&error),
        Err(error) => internal(&error),
    }
}

#[derive(Deserialize)]
struct CardQuery {
    id: Option<String>,
    /// TelefUM's links name the type too (`/card?id=24342&typecont=contact`); a card of
    /// another type is not the one the link means.
    typecont: Option<String>,
    page: Option<i64>,
}

async fn card(
    admin: Admin,
    query: web::Query<CardQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let account = admin.0.account;
    let Some(id) = query
        .id
        .as_deref()
        .and_then(|id| id.trim().parse().ok())
        .map(ContactId)
    else {
        return not_found(&admin, Entity::Contact);
    };
    let contact = match domain::view_contact(&state.store, account, id) {
        Ok(contact) => contact,
        Err(domain::DomainError::NotFound(_)) => return not_found(&admin, Entity::Contact),
        Err(error) => return internal(&error),
    };
    let wanted_kind = query
        .typecont
        .as_deref()
        .filter(|kind| !kind.trim().is_empty())
        .map(ContactKind::parse);
    if wanted_kind.is_some_and(|kind| kind != Some(contact.kind)) {
        return not_found(&admin, Entity::Contact);
    }
    let groups = match domain::groups_by_id(&state.store, account, &contact.groups) {
        Ok(groups) => groups,
        Err(error) => return internal(&error),
    };
    let paging = Paging::new(query.page, Some(TIMELINE_PAGE as i64));
    let timeline = match domain::contact_timeline(&state.store, account, id, paging) {
        Ok(timeline) => timeline,
        Err(error) => return internal(&error),
    };
    let campaigns = match domain::contact_campaigns(&state.store, account, id) {
        Ok(campaigns) => campaigns,
        Err(error) => return internal(&error),
    };
    page(pages::card(
        &admin.chrome(),
        &contact,
        &groups,
        &campaigns,
        &timeline.items,
        timeline.page,
        timeline.pages,
    ))
}

async fn edit_form(admin: Admin, path: web::Path<u64>, state: web::Data<AppState>) -> HttpResponse {
    let account = admin.0.account;
    let found = domain::view_contact(&state.store, account, ContactId(*path))
        .and_then(|contact| Ok((contact, domain::all_groups(&state.store, account)?)));
    match found {
        Ok((contact, groups)) => page(pages::edit(&admin.chrome(), &contact, &groups, None)),
        Err(domain::DomainError::NotFound(what)) => not_found(&admin, what),
        Err(error) => internal(&error),
    }
}

async fn edit(
    admin: Admin,
    path: web::Path<u64>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(form) = checked_form::<ContactEditForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    let id = ContactId(*path);
    let input = ContactInput {
        phone: form.phone,
        email: form.email,
        first_name: form.first_name,
        last_name: form.last_name,
        company: form.company,
        tax_id: form.tax_id,
        address: form.address,
        city: form.city,
        description: form.description,
        groups: Some(form.groups.into_iter().map(GroupId).collect()),
        // A number a PBX stored as dialled (`0123456789`, an extension) must stay savable.
        phone_reading: PhoneReading::Dialable,
        ..ContactInput::default()
    };
    let principal = admin.0.principal();
    let store = state.store.clone();
    match web::block(move || {
        domain::edit_contact_with(&store, &principal, id, &input, Blanks::Clear)
    })
    .await
    {
        Ok(Ok(contact)) => {
            if super::flush(&state.store).await.is_err() {
                return internal(&"flush failed");
            }
            see_other(&format!(
                "/card?id={}&typecont={}",
                contact.id,
                contact.kind.as_str()
            ))
        }
        Ok(Err(domain::DomainError::NotFound(_))) => not_found(&admin, Entity::Contact),
        Ok(Err(error)) => refused(&error, |reason| {
            let account = admin.0.account;
            let contact = domain::view_contact(&state.store, account, id)?;
            let groups = domain::all_groups(&state.store, account)?;
            Ok(pages::edit(
                &admin.chrome(),
                &contact,
                &groups,
                Some(reason),
            ))
        }),
        Err(error) => internal(&error),
    }
}

// ----- groups, domains, tokens -----

async fn groups(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    match domain::all_groups(&state.store, admin.0.account) {
        Ok(groups) => page(pages::groups(&admin.chrome(), &groups, None)),
        Err(error) => internal(&error),
    }
}

async fn add_group(admin: Admin, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let Some(form) = checked_form::<NameForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    match domain::add_group(&state.store, admin.0.account, &form.name) {
        Ok(_) if super::flush(&state.store).await.is_ok() => see_other("/groups"),
        Ok(_) => internal(&"flush failed"),
        Err(error) => refused(&error, |reason| {
            let groups = domain::all_groups(&state.store, admin.0.account)?;
            Ok(pages::groups(&admin.chrome(), &groups, Some(reason)))
        }),
    }
}

/// The address browsers load the tracker from: this server as the request reached it.
fn resolver_url(request: &HttpRequest) -> String {
    let info = request.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

async fn domains(request: HttpRequest, admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    match domain::list_domains(&state.store, admin.0.account) {
        Ok(domains) => page(pages::domains(
            &admin.chrome(),
            &domains,
            &resolver_url(&request),
            None,
        )),
        Err(error) => internal(&error),
    }
}

async fn add_domain(
    request: HttpRequest,
    admin: Admin,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(form) = checked_form::<DomainForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    match domain::add_domain(&state.store, admin.0.account, &form.domain) {
        Ok(_) if super::flush(&state.store).await.is_ok() => see_other("/domains"),
        Ok(_) => internal(&"flush failed"),
        Err(error) => refused(&error, |reason| {
            let domains = domain::list_domains(&state.store, admin.0.account)?;
            Ok(pages::domains(
                &admin.chrome(),
                &domains,
                &resolver_url(&request),
                Some(reason),
            ))
        }),
    }
}

async fn verification(admin: Admin, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let Some(form) = checked_form::<VerificationForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    let required = form.required == "true";
    match domain::set_require_hash(&state.store, admin.0.account, &form.domain, required) {
        Ok(_) if super::flush(&state.store).await.is_ok() => see_other("/domains"),
        Ok(_) => internal(&"flush failed"),
        Err(_) => not_found(&admin, Entity::Domain),
    }
}

async fn tokens(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    match domain::list_tokens(&state.store, admin.0.account) {
        Ok(tokens) => page(pages::tokens(&admin.chrome(), &tokens, None)),
        Err(error) => internal(&error),
    }
}

async fn create_token(admin: Admin, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let Some(form) = checked_form::<TokenForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    let expires_days = match form.expires_days.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(days) => match days.parse::<u32>() {
            Ok(days @ 1..=MAX_TOKEN_DAYS) => Some(days),
            _ => {
                return html(
                    StatusCode::BAD_REQUEST,
                    pages::message(
                        Some(&admin.chrome()),
                        "Nie utworzono tokenu",
                        "Ważność tokenu podaj jako liczbę dni od 1 do 36500 albo zostaw pole puste (token bez terminu ważności).",
                    ),
                );
            }
        },
    };
    let account = admin.0.account;
    match domain::create_token(&state.store, account, Some(&admin.0.username), expires_days) {
        Ok(token) if super::flush(&state.store).await.is_ok() => {
            match domain::list_tokens(&state.store, account) {
                Ok(tokens) => page(pages::tokens(&admin.chrome(), &tokens, Some(&token.secret))),
                Err(error) => internal(&error),
            }
        }
        Ok(_) => internal(&"flush failed"),
        Err(error) => internal(&error),
    }
}

async fn revoke_token(admin: Admin, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let Some(form) = checked_form::<RevokeForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    match domain::revoke_token(&state.store, admin.0.account, &form.prefix) {
        Ok(_) if super::flush(&state.store).await.is_ok() => see_other("/tokens"),
        Ok(_) => internal(&"flush failed"),
        Err(_) => not_found(&admin, Entity::Token),
    }
}

// ----- campaigns -----

async fn campaigns(admin: Admin, state: web::Data<AppState>) -> HttpResponse {
    match domain::list_campaigns(&state.store, admin.0.account) {
        Ok(campaigns) => page(pages::campaigns(&admin.chrome(), &campaigns, None)),
        Err(error) => internal(&error),
    }
}

async fn add_campaign(admin: Admin, body: web::Bytes, state: web::Data<AppState>) -> HttpResponse {
    let Some(form) = checked_form::<NameForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    match domain::add_campaign(&state.store, admin.0.account, &form.name) {
        Ok(campaign) if super::flush(&state.store).await.is_ok() => {
            see_other(&format!("/campaigns/{}", campaign.id))
        }
        Ok(_) => internal(&"flush failed"),
        Err(error) => refused(&error, |reason| {
            let campaigns = domain::list_campaigns(&state.store, admin.0.account)?;
            Ok(pages::campaigns(&admin.chrome(), &campaigns, Some(reason)))
        }),
    }
}

fn campaign_of(admin: &Admin, state: &AppState, id: &str) -> Option<domain::Campaign> {
    let id = domain::CampaignId::parse(id)?;
    domain::campaign(&state.store, admin.0.account, &id).ok()
}

async fn campaign(
    admin: Admin,
    path: web::Path<String>,
    query: web::Query<exports::RecordsQuery>,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(campaign) = campaign_of(&admin, &state, &path) else {
        return not_found(&admin, Entity::Campaign);
    };
    let status = query.status();
    let paging = Paging::new(query.page, Some(50));
    let store = state.store.clone();
    let (account, id) = (admin.0.account, campaign.id.clone());
    match web::block(move || domain::campaign_records(&store, account, &id, status, paging)).await {
        Ok(Ok(records)) => page(pages::campaign(
            &admin.chrome(),
            &campaign,
            Some((&records, status)),
            None,
        )),
        Ok(Err(error)) => internal(&error),
        Err(error) => internal(&error),
    }
}

async fn add_campaign_status(
    admin: Admin,
    path: web::Path<String>,
    body: web::Bytes,
    state: web::Data<AppState>,
) -> HttpResponse {
    let Some(form) = checked_form::<StatusForm>(&admin, &body) else {
        return forbidden(Some(&admin));
    };
    let Some(campaign) = campaign_of(&admin, &state, &path) else {
        return not_found(&admin, Entity::Campaign);
    };
    let dictionary = form
        .dictionary_status_id
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty());
    let outcome = match (
        domain::SystemStatus::parse(&form.system),
        dictionary.map(str::parse::<u32>).transpose(),
    ) {
        (Some(system), Ok(dictionary)) => domain::add_campaign_status(
            &state.store,
            admin.0.account,
            &campaign.id,
            &form.name,
            system,
            dictionary,
        )
        .map_err(|e| e.to_string()),
        _ => Err("nieznany status systemowy albo nieprawidłowy dictionary_status_id".to_owned()),
    };
    match outcome {
        Ok(_) if super::flush(&state.store).await.is_ok() => {
            see_other(&format!("/campaigns/{}", campaign.id))
        }
        Ok(_) => internal(&"flush failed"),
        Err(error) => html(
            StatusCode::UNPROCESSABLE_ENTITY,
            pages::campaign(&admin.chrome(), &campaign, None, Some(&error)),
        ),
    }
}
