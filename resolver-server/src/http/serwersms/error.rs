//! SerwerSMS errors: the one table of codes, types and messages, and the one mapping from
//! domain errors. Errors are answered with HTTP 200 (the official PHP, Symfony and C# clients
//! drop any other status unread); only transport failures use 4xx/5xx.
//!
//! Spec: `shared/spec/serwersms-api-v2.md`, section Errors.

use crate::domain::{DomainError, Entity};
use actix_web::http::StatusCode;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsError {
    pub code: u16,
    /// What exactly was wrong (a parameter name, a limit), appended to the message.
    pub detail: Option<String>,
    pub status: StatusCode,
}

impl SmsError {
    pub fn new(code: u16) -> SmsError {
        SmsError {
            code,
            detail: None,
            status: StatusCode::OK,
        }
    }

    pub fn with(code: u16, detail: impl Into<String>) -> SmsError {
        SmsError {
            code,
            detail: Some(detail.into()),
            status: StatusCode::OK,
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> SmsError {
        self.status = status;
        self
    }

    pub const INVALID_ACTION: u16 = 1000;
    pub const INVALID_USER: u16 = 1001;
    pub const INVALID_ID: u16 = 1004;
    pub const INVALID_DATA: u16 = 1006;
    pub const EXPIRED_TOKEN: u16 = 1011;
    pub const INVALID_TOKEN: u16 = 1012;
    pub const REQUIRED: u16 = 2000;
    pub const INVALID_PHONE: u16 = 2001;
    pub const UNKNOWN_CODE: u16 = 2002;
    pub const INTERNAL: u16 = 5000;

    /// The body too large for any call: transport level, so a real 413.
    pub fn too_large() -> SmsError {
        SmsError::with(SmsError::INVALID_DATA, "request body too large")
            .with_status(StatusCode::PAYLOAD_TOO_LARGE)
    }

    pub fn internal() -> SmsError {
        SmsError::new(SmsError::INTERNAL).with_status(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The code's type and its message in the wanted language.
    pub fn describe(&self, english: bool) -> (&'static str, String) {
        let (kind, polish, english_text) =
            describe(self.code).unwrap_or(("InternalError", "Błąd serwera", "Server error"));
        let base = if english { english_text } else { polish };
        let message = match &self.detail {
            Some(detail) => format!("{base}: {detail}"),
            None => base.to_owned(),
        };
        (kind, message)
    }
}

/// Every code this server answers: (type, Polish message, English message).
pub fn describe(code: u16) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match code {
        1000 => ("InvalidAction", "Nieprawidłowa akcja", "Invalid action"),
        1001 => (
            "InvalidUser",
            "Nieprawidłowy login lub hasło",
            "Invalid username or password",
        ),
        1004 => ("InvalidID", "Nieprawidłowy identyfikator", "Invalid ID"),
        1006 => ("InvalidData", "Nieprawidłowe dane", "Invalid data"),
        1011 => ("InvalidToken", "Token wygasł", "Token expired"),
        1012 => ("InvalidToken", "Nieprawidłowy token", "Invalid token"),
        2000 => (
            "ValidationRequiredError",
            "Brak wymaganego parametru",
            "Missing required parameter",
        ),
        2001 => (
            "ValidationPhoneError",
            "Nieprawidłowy numer telefonu",
            "Invalid phone number",
        ),
        2002 => (
            "ValidationCodeError",
            "Nieznany kod błędu",
            "Unknown error code",
        ),
        5000 => (
            "InternalError",
            "Błąd serwera, spróbuj ponownie",
            "Server error, try again",
        ),
        _ => return None,
    })
}

impl From<crate::http::Failure> for SmsError {
    fn from(failure: crate::http::Failure) -> SmsError {
        match failure {
            crate::http::Failure::Domain(error) => error.into(),
            crate::http::Failure::Internal => SmsError::internal(),
        }
    }
}

impl From<DomainError> for SmsError {
    fn from(error: DomainError) -> SmsError {
        match error {
            DomainError::NotFound(entity) => {
                SmsError::with(SmsError::INVALID_ID, entity_name(entity))
            }
            DomainError::AlreadyExists(entity) => SmsError::with(
                SmsError::INVALID_DATA,
                format!("{} already exists", entity_name(entity)),
            ),
            DomainError::MissingField { field } => SmsError::with(SmsError::REQUIRED, field),
            DomainError::InvalidPhone { field } => SmsError::with(SmsError::INVALID_PHONE, field),
            DomainError::InvalidEmail { field } => SmsError::with(SmsError::INVALID_DATA, field),
            DomainError::TooLong { field, max } => {
                SmsError::with(SmsError::INVALID_DATA, format!("{field} (max {max})"))
            }
            DomainError::InvalidField { field, reason } => {
                SmsError::with(SmsError::INVALID_DATA, format!("{field}: {reason}"))
            }
            DomainError::Store(error) => {
                tracing::error!(%error, "storage failure");
                SmsError::internal()
            }
        }
    }
}

fn entity_name(entity: Entity) -> &'static str {
    match entity {
        Entity::Contact => "id",
        Entity::Group => "group_id",
        Entity::BlacklistedPhone => "phone",
        other => other.name(),
    }
}
