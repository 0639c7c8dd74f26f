//! The tracker's side of the resolver: the script and module files (`/ssrm.js`,
//! `/ssrm_bg.wasm`) and the endpoints the tracker calls (`/t/pageview`, `/t/event`,
//! `/t/identify`). A report is accepted only when its site key names a registered domain *and*
//! the request's `Origin` is that domain or a subdomain of it; CORS answers name that origin
//! only, never with credentials. Bad bodies get 400 with a short reason and store nothing.
//! Handlers extract, call one domain function and render; the rules live in
//! [`crate::domain`].
//!
//! Durability: like every write the server acknowledges, a page view or event is flushed to
//! disk before its 204, and a trackUser link before its answer.
//!
//! Spec: `shared/spec/tracker.md`, sections trackUser and Resolver endpoints.

mod error;
mod wire;

use super::body::{read_limited, BodyError};
use super::{client_address, flush, AppState};
use crate::domain::{self, AccountId, IdentityAnswer, Language, SiteDomain, Suid};
use crate::telemetry::{self, TrackUserOutcome};
use actix_files::NamedFile;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use error::TrackerError;
use serde::Deserialize;
use wire::{EventReport, IdentifyAnswer, IdentifyRequest, PageViewReport};

/// Tracker bodies are a URL, a title and a few properties.
const MAX_TRACKING_BODY: usize = 16 * 1024;

/// Past this many (address, site) keys, the trackUser limiter forgets the ones at full quota.
const LIMITER_HOUSEKEEPING_KEYS: usize = 50_000;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/ssrm.js", web::get().to(script))
        .route("/ssrm_bg.wasm", web::get().to(module))
        .route("/t/pageview", web::post().to(page_view))
        .route("/t/event", web::post().to(event))
        .route("/t/identify", web::post().to(identify))
        .route("/t/{endpoint}", web::method(Method::OPTIONS).to(preflight));
}

// ----- the built tracker -----

/// Serves a file of the built tracker with its type, validators (ETag, Last-Modified; a
/// matching `If-None-Match` gets 304), a cache lifetime (a year for a versioned `?v=` URL, five
/// minutes otherwise) and `Access-Control-Allow-Origin: *` (the module is fetched from the
/// sites' pages). Compression is the app's `Compress` middleware.
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
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
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

// ----- origin, site and CORS -----

fn origin(request: &HttpRequest) -> Option<&HeaderValue> {
    request.headers().get(header::ORIGIN)
}

/// Names `origin` (the page's, exactly as it sent it) as the one allowed to read the answer.
fn with_cors(mut response: HttpResponse, origin: &HeaderValue) -> HttpResponse {
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    response
}

/// `OPTIONS /t/…`. The tracker's requests are simple (`text/plain`) and need no preflight; a
/// client that sends one anyway learns what may be sent. The site is checked on the request.
async fn preflight(request: HttpRequest) -> HttpResponse {
    let Some(origin) = origin(&request) else {
        return TrackerError::NoOrigin.response();
    };
    let response = HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "content-type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "86400"))
        .finish();
    with_cors(response, origin)
}

/// The site a report belongs to, recognised from its key and the request's `Origin`.
struct Site<'r> {
    origin: &'r HeaderValue,
    account: AccountId,
    domain: SiteDomain,
}

fn recognise<'r>(
    request: &'r HttpRequest,
    state: &AppState,
    site_key: &str,
) -> Result<Site<'r>, TrackerError> {
    let origin = origin(request).ok_or(TrackerError::NoOrigin)?;
    let origin_text = origin.to_str().map_err(|_| TrackerError::ForeignOrigin)?;
    // Two point reads: cheap enough to run on the async worker.
    let (account, domain) = domain::site_for_origin(&state.store, site_key, origin_text)?
        .ok_or(TrackerError::ForeignOrigin)?;
    Ok(Site {
        origin,
        account,
        domain,
    })
}

/// Reads a body of at most [`MAX_TRACKING_BODY`] bytes.
async fn body(request: &HttpRequest, payload: web::Payload) -> Result<web::Bytes, TrackerError> {
    read_limited(request, payload, MAX_TRACKING_BODY)
        .await
        .map_err(|error| match error {
            BodyError::TooLarge => TrackerError::TooLarge,
            BodyError::Broken => TrackerError::Unreadable,
        })
}

fn suid(text: &str) -> Result<Suid, TrackerError> {
    Suid::parse(text).ok_or(TrackerError::InvalidSuid)
}

fn parse<'b, T: Deserialize<'b>>(body: &'b [u8]) -> Result<T, TrackerError> {
    Ok(serde_json::from_slice(body)?)
}

/// 204 to the recognised origin, or the error's answer.
fn acknowledge(outcome: Result<&HeaderValue, TrackerError>) -> HttpResponse {
    match outcome {
        Ok(origin) => with_cors(HttpResponse::NoContent().finish(), origin),
        Err(error) => {
            telemetry::track_user(TrackUserOutcome::Refused);
            error.response()
        }
    }
}

// ----- reports -----

/// `POST /t/pageview` → 204. The visitor is created if never seen.
async fn page_view(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let outcome = async {
        let body = body(&request, payload).await?;
        let report: PageViewReport = parse(&body)?;
        let suid = suid(&report.suid)?;
        let site = recognise(&request, &state, &report.site)?;
        // One small transaction: fine inline (STYLE.md §11); flushed before the 204.
        domain::record_page_view(
            &state.store,
            site.account,
            suid,
            &report.url,
            &report.title,
            &report.referrer,
        )?;
        flush(&state.store)
            .await
            .map_err(|()| TrackerError::Unavailable)?;
        Ok(site.origin)
    };
    acknowledge(outcome.await)
}

/// `POST /t/event` → 204. An event may come from a visitor not seen yet.
async fn event(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let outcome = async {
        let body = body(&request, payload).await?;
        let report: EventReport = parse(&body)?;
        let suid = suid(&report.suid)?;
        let site = recognise(&request, &state, &report.site)?;
        let props = match &report.props {
            Some(props) => {
                serde_json::to_string(props).expect("a parsed JSON object always serialises")
            }
            None => "{}".to_owned(),
        };
        domain::record_event(
            &state.store,
            site.account,
            suid,
            &report.name,
            &props,
            &report.url,
        )?;
        flush(&state.store)
            .await
            .map_err(|()| TrackerError::Unavailable)?;
        Ok(site.origin)
    };
    acknowledge(outcome.await)
}

// ----- trackUser -----

/// Whether this client has used up its trackUser quota for this site. Checked in the handler
/// with `governor` directly (not actix-governor's middleware) because the refusal must be the
/// ordinary `200 {"success":false,…}` answer in the site's language, after the site is known.
fn rate_limited(request: &HttpRequest, state: &AppState, site_key: &str) -> bool {
    let limiter = &state.identify_limiter;
    if limiter.len() > LIMITER_HOUSEKEEPING_KEYS {
        limiter.retain_recent();
    }
    let key = (
        client_address(request, state.client_address),
        site_key.to_owned(),
    );
    limiter.check_key(&key).is_err()
}

/// `POST /t/identify` (trackUser). Every outcome — found, not found, not allowed, invalid
/// value, rate-limited, unrecognised site — is `200 {"success","suid","message"}` (CORS only
/// for a recognised site); only a malformed body (400/413) or a storage failure (503) is
/// anything else. A link is flushed before it is answered.
async fn identify(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let outcome = async {
        let body = body(&request, payload).await?;
        let call: IdentifyRequest = parse(&body)?;
        let current = suid(&call.suid)?;
        let site = match recognise(&request, &state, &call.site) {
            Ok(site) => site,
            Err(error) if error.is_foreign_site() => {
                // No account is known, so no language either: the default one. No CORS header:
                // only a registered origin is ever named (the tracker reads the blocked answer
                // as a failure, which is `success:false` too).
                let answer = IdentityAnswer::refused(current, Language::default());
                telemetry::track_user(TrackUserOutcome::Refused);
                return Ok((answer, None));
            }
            Err(error) => return Err(error),
        };
        let answer = if rate_limited(&request, &state, &site.domain.site_key) {
            telemetry::track_user(TrackUserOutcome::RateLimited);
            domain::refuse_identity(&state.store, site.account, current)?
        } else {
            let answer = domain::resolve_identity(
                &state.store,
                site.account,
                &site.domain,
                current,
                &call.value_text(),
                call.hash(),
            )?;
            telemetry::track_user(if answer.success {
                TrackUserOutcome::Found
            } else {
                TrackUserOutcome::NotFound
            });
            answer
        };
        if answer.success {
            flush(&state.store)
                .await
                .map_err(|()| TrackerError::Unavailable)?;
        }
        Ok((answer, Some(site.origin)))
    };
    match outcome.await {
        Ok((answer, origin)) => {
            let response = HttpResponse::Ok()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(IdentifyAnswer::from(answer));
            match origin {
                Some(origin) => with_cors(response, origin),
                None => response,
            }
        }
        Err(error) => {
            telemetry::track_user(TrackUserOutcome::Refused);
            error.response()
        }
    }
}
