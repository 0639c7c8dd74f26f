//! TelefUM errors: `<response><result>error</result><description>…</description></response>`
//! with HTTP 200, in Russian as the seed writes them. The one mapping from domain errors.
//!
//! Spec: `shared/spec/telefum-crm-api.md`.

use crate::domain::{DomainError, Entity};
use crate::http::xml::XmlError;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TelefumError {
    BadCredentials,
    UnknownRequest,
    MissingPhone,
    InvalidPhone,
    MissingContactId,
    ContactNotFound,
    UnknownContactType,
    ContactTypeMismatch,
    AddEventNeedsPost,
    InvalidData,
    Internal,
}

impl TelefumError {
    pub fn description(self) -> &'static str {
        match self {
            TelefumError::BadCredentials => "Неправильный логин или пароль",
            TelefumError::UnknownRequest => "Неизвестный тип запроса",
            TelefumError::MissingPhone => "Не указан номер телефона",
            TelefumError::InvalidPhone => "Неправильный номер телефона",
            TelefumError::MissingContactId => "Не указано id-контакта",
            TelefumError::ContactNotFound => "Контакт не найден",
            TelefumError::UnknownContactType => "Неизвестный тип контакта",
            TelefumError::ContactTypeMismatch => {
                "Тип контакта (typecont) не совпадает с типом контакта с этим id"
            }
            TelefumError::AddEventNeedsPost => "Событие добавляется запросом POST",
            TelefumError::InvalidData => "Неправильные данные",
            TelefumError::Internal => "Ошибка сервера, попробуйте ещё раз",
        }
    }
}

impl From<XmlError> for TelefumError {
    fn from(failure: XmlError) -> TelefumError {
        tracing::error!(%failure, "TelefUM answer");
        TelefumError::Internal
    }
}

impl From<crate::http::Failure> for TelefumError {
    fn from(failure: crate::http::Failure) -> TelefumError {
        match failure {
            crate::http::Failure::Domain(error) => error.into(),
            crate::http::Failure::Internal => TelefumError::Internal,
        }
    }
}

impl From<DomainError> for TelefumError {
    fn from(error: DomainError) -> TelefumError {
        match error {
            DomainError::NotFound(Entity::Contact) => TelefumError::ContactNotFound,
            DomainError::MissingField { field: "phone" } => TelefumError::MissingPhone,
            DomainError::InvalidPhone { .. } => TelefumError::InvalidPhone,
            DomainError::InvalidField {
                field: "typecont", ..
            } => TelefumError::ContactTypeMismatch,
            DomainError::NotFound(_)
            | DomainError::AlreadyExists(_)
            | DomainError::MissingField { .. }
            | DomainError::InvalidEmail { .. }
            | DomainError::TooLong { .. }
            | DomainError::InvalidField { .. } => TelefumError::InvalidData,
            DomainError::Store(error) => {
                tracing::error!(%error, "storage failure");
                TelefumError::Internal
            }
        }
    }
}
