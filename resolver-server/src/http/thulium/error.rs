//! Thulium errors: whole-request failures as `{"request_id","errors":[{"message","code"}]}`
//! with a 4xx status, and the per-record messages of batch answers. English by default, Polish
//! when `Accept-Language` prefers it. The one mapping from domain errors is here.
//!
//! Spec: `shared/spec/thulium-batch-api.md`.

use crate::domain::{DomainError, Entity, RecordRefusal, MAX_BATCH_RECORDS};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use serde_json::json;

/// A failure of the whole request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestError {
    Unauthorized,
    /// Too many failed logins for this login from this address: the bad-login error, with 429
    /// and `Retry-After`.
    TooManyAttempts {
        retry_after_seconds: u64,
    },
    CampaignNotFound,
    RecordNotFound,
    MalformedJson,
    WrongContentType,
    TooManyRecords,
    MissingRecords,
    MissingCustomers,
    /// A single-record call whose record was refused.
    Refused(RecordRefusal),
    AlreadyExists,
    BadRecordField(&'static str),
    /// A value the domain refused (too long, not allowed characters, not a phone number).
    InvalidValue(&'static str),
    BodyTooLarge,
    Internal,
}

impl RequestError {
    pub fn status(self) -> StatusCode {
        match self {
            RequestError::Unauthorized => StatusCode::UNAUTHORIZED,
            RequestError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            RequestError::CampaignNotFound | RequestError::RecordNotFound => StatusCode::NOT_FOUND,
            RequestError::WrongContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            RequestError::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            RequestError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn code(self) -> u32 {
        match self {
            RequestError::Unauthorized | RequestError::TooManyAttempts { .. } => 1001,
            RequestError::CampaignNotFound => 1004,
            RequestError::RecordNotFound => 1005,
            RequestError::MalformedJson => 1006,
            RequestError::WrongContentType => 1007,
            RequestError::TooManyRecords => 1008,
            RequestError::MissingRecords | RequestError::MissingCustomers => 1009,
            RequestError::Refused(_)
            | RequestError::BadRecordField(_)
            | RequestError::InvalidValue(_) => 1010,
            RequestError::AlreadyExists => 1011,
            RequestError::BodyTooLarge => 1012,
            RequestError::Internal => 1500,
        }
    }

    pub fn message(self, polish: bool) -> String {
        let (english, polski) = match self {
            RequestError::Unauthorized => ("Authentication failed.", "Nieudane uwierzytelnienie."),
            RequestError::TooManyAttempts { .. } => (
                "Authentication failed: too many failed attempts, try again later.",
                "Nieudane uwierzytelnienie: za dużo nieudanych prób, spróbuj później.",
            ),
            RequestError::CampaignNotFound => ("Campaign not found.", "Nie znaleziono kampanii."),
            RequestError::RecordNotFound => ("Record not found.", "Nie znaleziono rekordu."),
            RequestError::MalformedJson => (
                "Malformed JSON body.",
                "Nieprawidłowy JSON w treści żądania.",
            ),
            RequestError::WrongContentType => (
                "Content-Type must be application/json.",
                "Content-Type musi być application/json.",
            ),
            RequestError::TooManyRecords => {
                return if polish {
                    format!("Za dużo rekordów: najwyżej {MAX_BATCH_RECORDS} w jednym żądaniu.")
                } else {
                    format!("Too many records: at most {MAX_BATCH_RECORDS} in one request.")
                }
            }
            RequestError::MissingRecords => (
                "records is required and must be a list.",
                "Pole records jest wymagane i musi być listą.",
            ),
            RequestError::MissingCustomers => (
                "customer_id[] is required.",
                "Parametr customer_id[] jest wymagany.",
            ),
            RequestError::Refused(refusal) => return refusal_message(refusal, polish),
            RequestError::AlreadyExists => (
                "Customer is already in the campaign.",
                "Klient jest już w kampanii.",
            ),
            RequestError::BadRecordField(field) => return field_message(field, polish),
            RequestError::InvalidValue(field) => {
                return if polish {
                    format!("Nieprawidłowa wartość pola {field}.")
                } else {
                    format!("Invalid value of {field}.")
                }
            }
            RequestError::BodyTooLarge => ("Request body too large.", "Zbyt duża treść żądania."),
            RequestError::Internal => (
                "Server error, try again.",
                "Błąd serwera, spróbuj ponownie.",
            ),
        };
        (if polish { polski } else { english }).to_owned()
    }

    pub fn respond(self, request_id: &str, polish: bool) -> HttpResponse {
        let mut response = HttpResponse::build(self.status());
        match self {
            RequestError::Unauthorized => {
                response.insert_header(("WWW-Authenticate", "Basic realm=\"ssrm\""));
            }
            RequestError::TooManyAttempts {
                retry_after_seconds,
            } => {
                response.insert_header(("Retry-After", retry_after_seconds.to_string()));
            }
            _ => {}
        }
        response.json(json!({
            "request_id": request_id,
            "errors": [{ "message": self.message(polish), "code": self.code() }],
        }))
    }
}

/// The message of a refused record.
pub fn refusal_message(refusal: RecordRefusal, polish: bool) -> String {
    let (english, polski) = match refusal {
        RecordRefusal::CustomerNotFound => ("Customer not found.", "Nie znaleziono klienta."),
        RecordRefusal::UnknownStatus => (
            "Status not found in this campaign.",
            "Nie ma takiego statusu w kampanii.",
        ),
        RecordRefusal::AgentRequired => (
            "agent_login is required for status MY_RECORD.",
            "agent_login jest wymagany dla statusu MY_RECORD.",
        ),
        RecordRefusal::NextCallDateRequired => (
            "next_call_date is required for statuses MY_RECORD and CALL_NO_SOONER_THAN.",
            "next_call_date jest wymagana dla statusów MY_RECORD i CALL_NO_SOONER_THAN.",
        ),
        RecordRefusal::MalformedNextCallDate => (
            "next_call_date must have the format YYYY-MM-DD hh:mm.",
            "next_call_date musi mieć format YYYY-MM-DD hh:mm.",
        ),
        RecordRefusal::UnknownAgent => ("Agent not found.", "Nie znaleziono agenta."),
    };
    (if polish { polski } else { english }).to_owned()
}

/// The message of a record field that is missing or of the wrong type.
pub fn field_message(field: &str, polish: bool) -> String {
    if polish {
        format!("Pole {field} jest wymagane i musi być liczbą całkowitą.")
    } else {
        format!("{field} is required and must be an integer.")
    }
}

impl From<crate::http::Failure> for RequestError {
    fn from(failure: crate::http::Failure) -> RequestError {
        match failure {
            crate::http::Failure::Domain(error) => error.into(),
            crate::http::Failure::Internal => RequestError::Internal,
        }
    }
}

impl From<DomainError> for RequestError {
    fn from(error: DomainError) -> RequestError {
        match error {
            DomainError::NotFound(Entity::Campaign) => RequestError::CampaignNotFound,
            DomainError::NotFound(_) => RequestError::RecordNotFound,
            DomainError::InvalidField {
                field: "records", ..
            } => RequestError::TooManyRecords,
            DomainError::AlreadyExists(_) => RequestError::AlreadyExists,
            DomainError::MissingField { field }
            | DomainError::InvalidPhone { field }
            | DomainError::InvalidEmail { field }
            | DomainError::TooLong { field, .. }
            | DomainError::InvalidField { field, .. } => RequestError::InvalidValue(field),
            DomainError::Store(error) => {
                tracing::error!(%error, "storage failure");
                RequestError::Internal
            }
        }
    }
}
