//! The tracker endpoints' errors and their one mapping to an HTTP answer: a status and a short
//! plain-text reason, without CORS headers (beacons do not read answers; a page whose report
//! was refused learns nothing from it). trackUser's *domain* refusals are not errors: they are
//! `200 {"success":false,…}` answers built by the domain.
//!
//! Spec: `shared/spec/tracker.md`, section Resolver endpoints ("never 500 to bad input").

use crate::domain::DomainError;
use actix_web::http::{header, StatusCode};
use actix_web::HttpResponse;
use std::borrow::Cow;

#[derive(Debug)]
pub enum TrackerError {
    /// No `Origin` header: not a request from a page.
    NoOrigin,
    /// The site key names no domain, or the `Origin` is not that domain or a subdomain of it.
    ForeignOrigin,
    /// Larger than the tracker ever sends.
    TooLarge,
    /// The body could not be read to its end.
    Unreadable,
    MalformedJson,
    /// Valid JSON, but a required field is missing or a field has the wrong type.
    MalformedReport,
    InvalidSuid,
    /// The domain refused a value (too long, missing); the reason names the field.
    Invalid(String),
    /// Storage failed; the report may be retried.
    Unavailable,
    /// This address has sent its site more reports this minute than the ingest quota allows.
    OverQuota {
        retry_after_seconds: u64,
    },
}

impl TrackerError {
    /// The one table: status and reason of every error.
    fn status_and_reason(&self) -> (StatusCode, Cow<'_, str>) {
        let (status, reason) = match self {
            TrackerError::NoOrigin => (StatusCode::FORBIDDEN, "no Origin"),
            TrackerError::ForeignOrigin => {
                (StatusCode::FORBIDDEN, "origin not registered for this site")
            }
            TrackerError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "body too large"),
            TrackerError::Unreadable => (StatusCode::BAD_REQUEST, "unreadable body"),
            TrackerError::MalformedJson => (StatusCode::BAD_REQUEST, "malformed JSON"),
            TrackerError::MalformedReport => (
                StatusCode::BAD_REQUEST,
                "site and suid are required; fields must be strings, props an object",
            ),
            TrackerError::InvalidSuid => (StatusCode::BAD_REQUEST, "suid is not a UUID"),
            TrackerError::Invalid(reason) => {
                return (StatusCode::BAD_REQUEST, Cow::Borrowed(reason));
            }
            TrackerError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable"),
            TrackerError::OverQuota { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too many reports from this address; try again later",
            ),
        };
        (status, Cow::Borrowed(reason))
    }

    pub fn response(&self) -> HttpResponse {
        let (status, reason) = self.status_and_reason();
        let mut response = HttpResponse::build(status);
        if let TrackerError::OverQuota {
            retry_after_seconds,
        } = self
        {
            response.insert_header((header::RETRY_AFTER, retry_after_seconds.to_string()));
        }
        response
            .content_type("text/plain; charset=utf-8")
            .body(reason.into_owned())
    }

    /// A refusal of the site (trackUser answers these with `success:false`, not a status).
    pub fn is_foreign_site(&self) -> bool {
        matches!(self, TrackerError::NoOrigin | TrackerError::ForeignOrigin)
    }
}

impl From<serde_json::Error> for TrackerError {
    fn from(error: serde_json::Error) -> TrackerError {
        match error.classify() {
            serde_json::error::Category::Data => TrackerError::MalformedReport,
            _ => TrackerError::MalformedJson,
        }
    }
}

impl From<crate::http::Failure> for TrackerError {
    fn from(failure: crate::http::Failure) -> TrackerError {
        match failure {
            crate::http::Failure::Domain(error) => error.into(),
            crate::http::Failure::Internal => TrackerError::Unavailable,
        }
    }
}

impl From<DomainError> for TrackerError {
    fn from(error: DomainError) -> TrackerError {
        match error {
            DomainError::Store(error) => {
                tracing::error!(%error, "storage failure");
                TrackerError::Unavailable
            }
            // The domain's message names the field and the limit, never the value.
            other => TrackerError::Invalid(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_a_4xx_and_only_storage_is_a_5xx() {
        let bad_json = serde_json::from_str::<serde_json::Value>("{").expect_err("bad");
        let wrong_type = serde_json::from_str::<u8>("\"x\"").expect_err("bad");
        for (error, status) in [
            (TrackerError::from(bad_json), StatusCode::BAD_REQUEST),
            (TrackerError::from(wrong_type), StatusCode::BAD_REQUEST),
            (
                TrackerError::from(DomainError::TooLong {
                    field: "url",
                    max: 2048,
                }),
                StatusCode::BAD_REQUEST,
            ),
            (TrackerError::ForeignOrigin, StatusCode::FORBIDDEN),
            (TrackerError::TooLarge, StatusCode::PAYLOAD_TOO_LARGE),
            (TrackerError::Unavailable, StatusCode::SERVICE_UNAVAILABLE),
        ] {
            assert_eq!(error.response().status(), status, "{error:?}");
        }
    }
}
