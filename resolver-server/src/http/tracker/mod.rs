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
mod files;
mod wire;

use super::auth::retry_after_seconds;
use super::body::{read_limited, BodyError};
use super::limiter::rate_key;
use super::{client_address, AppState};
use crate::domain::{self, AccountId, IdentityAnswer, Language, SiteDomain, Suid};
use crate::telemetry::{self, TrackUserOutcome};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::Method;
use actix_web::{web, HttpRequest, HttpResponse};
use error::TrackerError;
use serde::Deserialize;
use wire::{EventReport, IdentifyAnswer, IdentifyRequest, PageViewReport};

/// Tracker bodies are a URL, a title and a few properties.
const MAX_TRACKING_BODY: usize = 16 * 1024;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/ssrm.js", web::get().to(files::script))
        .route("/ssrm_bg.wasm", web::get().to(files::module))
        .route("/t/pageview", web::post().to(page_view))
        .route("/t/event", web::post().to(event))
        .route("/t/identify", web::post().to(identify))
        .route("/t/{endpoint}", web::method(Method::OPTIONS).to(preflight));
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

/// Counts a page view or event against the ingest quota of this client address and site;
/// over it, nothing is stored and the answer is 429 with `Retry-After`.
fn within_quota(
    request: &HttpRequest,
    state: &AppState,
    site: &Site<'_>,
) -> Result<(), TrackerError> {
    state
        .ingest_quota
        .admit(
            client_address(request, state.client_address),
            // The site key: unique across accounts, unlike a domain name.
            &site.domain.site_key,
        )
        .map_err(|over| TrackerError::OverQuota {
            retry_after_seconds: retry_after_seconds(over.retry_after),
        })
}

/// The privacy signals of the request (`Sec-GPC: 1`, `DNT: 1`), sent by the browser itself.
fn browser_signals(request: &HttpRequest) -> domain::BrowserSignals {
    let on = |name: &str| {
        request
            .headers()
            .get(name)
            .is_some_and(|value| value.as_bytes().trim_ascii() == b"1")
    };
    domain::BrowserSignals {
        global_privacy_control: on("sec-gpc"),
        do_not_track: on("dnt"),
    }
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

/// Stores one report of visitor `suid` from the site `site_key` with `record`, flushed before
/// the origin to acknowledge is returned. A privacy signal the site honours gets the same answer
/// with nothing stored; a client over its ingest quota gets 429 and nothing is stored either.
async fn store_report<'r, T>(
    request: &'r HttpRequest,
    state: &AppState,
    (site_key, suid_text): (&str, &str),
    record: impl FnOnce(AccountId, Suid) -> domain::DomainResult<T>,
) -> Result<&'r HeaderValue, TrackerError> {
    let suid = suid(suid_text)?;
    let site = recognise(request, state, site_key)?;
    if browser_signals(request).refuse(&site.domain) {
        return Ok(site.origin); // as if consent was refused: nothing stored
    }
    within_quota(request, state, &site)?;
    // One small transaction: fine inline (STYLE.md §11); flushed before the 204.
    record(site.account, suid)?;
    super::flushed(&state.store).await?;
    Ok(site.origin)
}

/// `POST /t/pageview` → 204. The visitor is created if never seen.
async fn page_view(
    request: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let outcome = async {
        let body = body(&request, payload).await?;
        let report: PageViewReport = parse(&body)?;
        let sender = (report.site.as_ref(), report.suid.as_ref());
        store_report(&request, &state, sender, |account, suid| {
            let (url, title) = (&report.url, &report.title);
            domain::record_page_view(&state.store, account, suid, url, title, &report.referrer)
        })
        .await
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
        let sender = (report.site.as_ref(), report.suid.as_ref());
        store_report(&request, &state, sender, |account, suid| {
            let props = match &report.props {
                Some(props) => {
                    serde_json::to_string(props).expect("a parsed JSON object always serialises")
                }
                None => "{}".to_owned(),
            };
            domain::record_event(
                &state.store,
                account,
                suid,
                &report.name,
                &props,
                &report.url,
            )
        })
        .await
    };
    acknowledge(outcome.await)
}

// ----- trackUser -----

/// Whether this client (IPv6: its /64) has used up its trackUser quota for this site. Checked
/// in the handler (not actix-governor's middleware) because the refusal must be the ordinary
/// `200 {"success":false,…}` answer in the site's language, after the site is known. The
/// limiter's memory is bounded and an answer costs O(1) (`http/limiter.rs`).
fn rate_limited(request: &HttpRequest, state: &AppState, site_key: &str) -> bool {
    let key = (
        rate_key(client_address(request, state.client_address)),
        site_key.to_owned(),
    );
    state.identify_limiter.check_key(&key).is_err()
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
        let answer = if browser_signals(&request).refuse(&site.domain) {
            // As if consent was refused: no link, no visitor, the ordinary "not found".
            telemetry::track_user(TrackUserOutcome::Refused);
            domain::refuse_identity(&state.store, site.account, current)?
        } else if rate_limited(&request, &state, &site.domain.site_key) {
            telemetry::track_user(TrackUserOutcome::RateLimited);
            domain::refuse_identity_over_quota(&state.store, site.account, &site.domain, current)?
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
            super::flushed(&state.store).await?;
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
