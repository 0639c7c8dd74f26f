//! The built tracker's two files, `/ssrm.js` and `/ssrm_bg.wasm`, served from the tracker
//! directory exactly as `scripts/build-tracker.sh` wrote them: the brotli (`.br`) or gzip (`.gz`)
//! file beside each one when the request's `Accept-Encoding` takes it, else the plain file. Nothing
//! here is compressed per request: the precompressed bytes are smaller (brotli 11, zopfli) than
//! what a per-request level gives, and cost no CPU. Every answer carries `Content-Encoding`
//! (`identity` for the plain file, actix's documented way to opt out), which is what makes the
//! app's `Compress` middleware leave it alone.

use super::super::AppState;
use actix_files::NamedFile;
use actix_web::http::header::{self, AcceptEncoding, ContentEncoding, Encoding, HeaderValue};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};

/// The encodings served, best first.
const ENCODINGS: [(Encoding, ContentEncoding, &str); 3] = [
    (Encoding::brotli(), ContentEncoding::Brotli, ".br"),
    (Encoding::gzip(), ContentEncoding::Gzip, ".gz"),
    (Encoding::identity(), ContentEncoding::Identity, ""),
];

pub async fn script(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    tracker_file(
        &request,
        &state,
        "ssrm.js",
        "text/javascript; charset=utf-8",
    )
    .await
}

pub async fn module(request: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    tracker_file(&request, &state, "ssrm_bg.wasm", "application/wasm").await
}

/// The encoding to send: the client's preference among [`ENCODINGS`] (brotli first on a tie),
/// identity when the header is missing or names none of them (e.g. only `deflate`).
fn negotiate(request: &HttpRequest) -> ContentEncoding {
    let chosen = match request.get_header::<AcceptEncoding>() {
        Some(accepted) => accepted.negotiate(ENCODINGS.iter().map(|(encoding, _, _)| encoding)),
        None => None,
    };
    ENCODINGS
        .iter()
        .find(|(encoding, _, _)| Some(encoding) == chosen.as_ref())
        .map_or(ContentEncoding::Identity, |(_, content, _)| *content)
}

/// Serves a file of the built tracker, precompressed by negotiation, with its type, validators
/// (ETag and Last-Modified of the file actually sent, so each encoding has its own ETag; a
/// matching `If-None-Match` gets 304), `Vary: Accept-Encoding`, a cache lifetime (a year for a
/// versioned `?v=` URL, five minutes otherwise) and `Access-Control-Allow-Origin: *` (the module
/// is fetched from the sites' pages). A missing precompressed file falls back to the plain one.
async fn tracker_file(
    request: &HttpRequest,
    state: &AppState,
    name: &str,
    mime: &str,
) -> HttpResponse {
    let encoding = negotiate(request);
    let suffix = ENCODINGS
        .iter()
        .find(|(_, content, _)| *content == encoding)
        .map_or("", |(_, _, suffix)| *suffix);
    let plain = state.tracker_dir.join(name);
    let file = match NamedFile::open_async(state.tracker_dir.join(format!("{name}{suffix}"))).await
    {
        Ok(file) => Ok(file.set_content_encoding(encoding)),
        Err(_) if encoding != ContentEncoding::Identity => {
            tracing::warn!(
                file = name,
                suffix,
                "precompressed tracker file missing: run scripts/build-tracker.sh"
            );
            NamedFile::open_async(&plain)
                .await
                .map(|file| file.set_content_encoding(ContentEncoding::Identity))
        }
        Err(error) => Err(error),
    };
    let Ok(file) = file else {
        tracing::warn!(path = %plain.display(), "tracker file missing: run scripts/build-tracker.sh");
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
    headers.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
