//! Reading request bodies with a size limit, and the caller's preferred language. Shared by the
//! wire modules; each turns a [`BodyError`] into its own error format.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use futures_util::StreamExt;

/// Largest request body any endpoint reads (a SerwerSMS import of tens of thousands of
/// contacts fits); larger bodies are answered 413 without being read.
pub const MAX_BODY_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Broken,
}

/// Reads the whole body, refusing more than `limit` bytes.
pub async fn read_limited(
    request: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, BodyError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<usize>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Whether the request's `Accept-Language` prefers English over Polish (Polish is the default).
pub fn prefers_english(request: &HttpRequest) -> bool {
    english_over_polish(request) == Some(true)
}

/// Whether the request's `Accept-Language` prefers Polish over English (English is the default).
pub fn prefers_polish(request: &HttpRequest) -> bool {
    english_over_polish(request) == Some(false)
}

/// `Some(true)` when English ranks above Polish, `Some(false)` when Polish does, `None` when
/// the header names neither.
fn english_over_polish(request: &HttpRequest) -> Option<bool> {
    let value = request
        .headers()
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())?;
    let mut best: Option<(f32, bool)> = None;
    for range in value.split(',') {
        let mut parts = range.split(';');
        let tag = parts.next().unwrap_or_default().trim().to_ascii_lowercase();
        let quality = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .and_then(|q| q.parse::<f32>().ok())
            .unwrap_or(1.0);
        let english = tag == "en" || tag.starts_with("en-");
        let polish = tag == "pl" || tag.starts_with("pl-");
        if (english || polish) && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, english));
        }
    }
    best.map(|(_, english)| english)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn english(value: &str) -> bool {
        prefers_english(
            &TestRequest::default()
                .insert_header((header::ACCEPT_LANGUAGE, value))
                .to_http_request(),
        )
    }

    #[test]
    fn english_only_when_preferred_over_polish() {
        assert!(english("en-US,en;q=0.9"));
        assert!(english("de, en;q=0.5"));
        assert!(!english("pl-PL,pl;q=0.9,en;q=0.8"));
        assert!(!english("de"));
        assert!(!prefers_english(&TestRequest::default().to_http_request()));
        assert!(!prefers_polish(&TestRequest::default().to_http_request()));
        assert!(prefers_polish(
            &TestRequest::default()
                .insert_header((header::ACCEPT_LANGUAGE, "pl"))
                .to_http_request()
        ));
    }
}
