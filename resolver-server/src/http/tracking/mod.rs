//! The tracker's side of the resolver: the script and module files, and the endpoints the
//! tracker calls (`/t/pageview`, `/t/event`, `/t/identify`). A report is accepted only when its
//! site key names a registered domain *and* the request's `Origin` is that domain (or a
//! subdomain); CORS answers name that origin only. Bodies are small JSON sent as `text/plain`
//! (no preflight; `sendBeacon`-friendly); bad ones get 400 with a short reason.
//!
//! Spec: `shared/spec/tracker.md`, section Resolver endpoints.

use super::body::read_limited;
use super::{flush, AppState};
use crate::domain::{self, AccountId, SiteDomain, Suid};
use actix_files::NamedFile;
use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

/// Tracker bodies are a URL, a title and a few properties.
const MAX_TRACKING_BODY: usize = 16 * 1024;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/ssrm.js", web::get().to(script))
        .route("/ssrm_bg.wasm", web::get().to(module))
        .route("/t/pageview", web::post().to(page_view))
        .route("/t/event", web::post().to(event))
        .route("/t/identify", web::post().to(identify))
        .route(
            "/t/{endpoint}",
            web::method(actix_web::http::Method::OPTIONS).to(preflight),
        );
}

async fn tracker_file(
    request: &HttpRequest,
    state: &AppState,
    name: &str,
    mime: &str,
) -> HttpResponse {
    let path = state.tracker_dir.join(name);
    let Ok(file) = NamedFile::open_async(&path).await else {
        tracing::warn!(path = %path.display(), "tracker file missing: run scripts/build-tracker.sh");
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body("tracker not built");
    };
    let mime: mime::Mime = mime.parse().expect("a valid MIME type literal");
    let mut response = file
        .set_content_type(mime)
        .use_etag(true)
        .use_last_modified(true)
        .into_response(request);
    let versioned = request
        .query_string()
        .split('&')
        .any(|pair| pair.starts_with("v="));
    let cache = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static(cache),
    );
    // The module is fetched from the site's pages, another origin.
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    response
}

async fn script(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    tracker_file(
        &request,
        &state,
        "ssrm.js",
        "text/javascript; charset=utf-8",
    )
    .await
}

async fn module(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    tracker_file(&request, &state, "ssrm_bg.wasm", "application/wasm").await
}

/// A refusal: plain text, no CORS header (the page cannot read it, and needs not).
fn refuse(status: StatusCode, reason: &'static str) -> HttpResponse {
    HttpResponse::build(status)
        .content_type("text/plain; charset=utf-8")
        .body(reason)
}

/// The allowed origin's CORS headers on an answer.
fn with_cors(mut response: HttpResponse, origin: &str) -> HttpResponse {
    if let Ok(value) = header::HeaderValue::from_str(origin) {
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
        headers.insert(header::VARY, header::HeaderValue::from_static("Origin"));
    }
    response
}

fn origin(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn preflight(request: HttpRequest) -> HttpResponse {
    let Some(origin) = origin(&request) else {
        return refuse(StatusCode::BAD_REQUEST, "no Origin");
    };
    // The site is checked on the real request; a preflight only says what may be sent.
    let response = HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish();
    with_cors(response, &origin)
}

/// A report that passed the checks: whose site it is and which visitor sent it.
struct Report {
    origin: String,
    account: AccountId,
    domain: SiteDomain,
    suid: Suid,
    body: Value,
}

#[derive(Deserialize)]
struct Envelope {
    site: String,
    suid: String,
}

async fn report(
    request: &HttpRequest,
    payload: web::Payload,
    state: &AppState,
) -> Result<Report, HttpResponse> {
    let origin = origin(request).ok_or_else(|| refuse(StatusCode::FORBIDDEN, "no Origin"))?;
    let body = read_limited(request, payload, MAX_TRACKING_BODY)
        .await
        .map_err(|_| refuse(StatusCode::PAYLOAD_TOO_LARGE, "body too large"))?;
    let body: Value = serde_json::from_slice(&body)
        .map_err(|_| refuse(StatusCode::BAD_REQUEST, "malformed JSON"))?;
    let envelope: Envelope = Envelope::deserialize(&body)
        .map_err(|_| refuse(StatusCode::BAD_REQUEST, "site and suid are required"))?;
    let suid = Suid::parse(&envelope.suid)
        .ok_or_else(|| refuse(StatusCode::BAD_REQUEST, "suid is not a UUID"))?;
    let store = state.store.clone();
    let origin_for_check = origin.clone();
    let site =
        web::block(move || domain::site_for_origin(&store, &envelope.site, &origin_for_check))
            .await
            .map_err(|_| refuse(StatusCode::SERVICE_UNAVAILABLE, "busy"))?
            .map_err(|_| refuse(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"))?;
    let (account, domain) =
        site.ok_or_else(|| refuse(StatusCode::FORBIDDEN, "origin not registered for this site"))?;
    Ok(Report {
        origin,
        account,
        domain,
        suid,
        body,
    })
}

/// A string field; absent or null is empty, any other type is `None` (malformed).
fn text<'a>(body: &'a Value, field: &str) -> Option<&'a str> {
    match body.get(field) {
        None | Some(Value::Null) => Some(""),
        Some(Value::String(text)) => Some(text),
        Some(_) => None,
    }
}

/// Runs a write, flushes it, and answers 204 to the allowed origin.
async fn store_and_acknowledge<T: Send + 'static>(
    state: &AppState,
    origin: &str,
    write: impl FnOnce() -> domain::DomainResult<T> + Send + 'static,
) -> HttpResponse {
    match web::block(write).await {
        Ok(Ok(_)) if flush(&state.store).await.is_ok() => {
            with_cors(HttpResponse::NoContent().finish(), origin)
        }
        Ok(Err(domain::DomainError::Store(error))) => {
            tracing::error!(%error, "storage failure");
            refuse(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable")
        }
        Ok(Err(_)) => with_cors(refuse(StatusCode::BAD_REQUEST, "invalid field"), origin),
        _ => refuse(StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"),
    }
}

async fn page_view(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let report = match report(&request, payload, &state).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    let (url, title, referrer) = match (
        text(&report.body, "url"),
        text(&report.body, "title"),
        text(&report.body, "referrer"),
    ) {
        (Some(url), Some(title), Some(referrer)) => {
            (url.to_owned(), title.to_owned(), referrer.to_owned())
        }
        _ => return refuse(StatusCode::BAD_REQUEST, "fields must be strings"),
    };
    let store = state.store.clone();
    let (account, suid) = (report.account, report.suid);
    store_and_acknowledge(&state, &report.origin, move || {
        domain::record_page_view(&store, account, suid, &url, &title, &referrer)
    })
    .await
}

async fn event(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let report = match report(&request, payload, &state).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    let props = match report.body.get("props") {
        None | Some(Value::Null) => "{}".to_owned(),
        Some(props @ Value::Object(_)) => props.to_string(),
        Some(_) => return refuse(StatusCode::BAD_REQUEST, "props must be an object"),
    };
    let (name, url) = match (text(&report.body, "name"), text(&report.body, "url")) {
        (Some(name), Some(url)) => (name.to_owned(), url.to_owned()),
        _ => return refuse(StatusCode::BAD_REQUEST, "fields must be strings"),
    };
    let store = state.store.clone();
    let (account, suid) = (report.account, report.suid);
    store_and_acknowledge(&state, &report.origin, move || {
        domain::record_event(&store, account, suid, &name, &props, &url)
    })
    .await
}

/// trackUser. Every outcome the site may see is `200 {"success","suid","message"}`; a
/// refused origin gets no CORS header, so the page sees a network error.
async fn identify(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let report = match report(&request, payload, &state).await {
        Ok(report) => report,
        Err(response) => return response,
    };
    let value = match report.body.get("value") {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Number(number)) => number.to_string(),
        _ => String::new(),
    };
    let hash = report
        .body
        .get("hash")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let address = request
        .connection_info()
        .realip_remote_addr()
        .unwrap_or("unknown")
        .to_owned();
    let limited = state
        .identify_limiter
        .check_key(&(address, report.domain.site_key.clone()))
        .is_err();
    let store = state.store.clone();
    let (account, domain, suid) = (report.account, report.domain, report.suid);
    let answer = web::block(move || {
        if limited {
            // Rate-limited: the same answer as "not found", without looking.
            return domain::resolve_identity(&store, account, &domain, suid, "", None);
        }
        domain::resolve_identity(&store, account, &domain, suid, &value, hash.as_deref())
    })
    .await;
    let answer = match answer {
        Ok(Ok(answer)) => answer,
        _ => return with_cors(HttpResponse::Ok().json(json!({"success": false, "suid": report.suid.to_string(), "message": "Błąd serwera"})), &report.origin),
    };
    if answer.success && flush(&state.store).await.is_err() {
        return with_cors(HttpResponse::Ok().json(json!({"success": false, "suid": report.suid.to_string(), "message": "Błąd serwera"})), &report.origin);
    }
    let body = json!({ "success": answer.success, "suid": answer.suid.to_string(), "message": answer.message });
    with_cors(
        HttpResponse::Ok()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(body),
        &report.origin,
    )
}
