//! What the admin pages answer when a call fails, in one place: a refused input as a Polish
//! sentence, a missing record naming what was looked for, a server failure logged with its
//! cause (never shown: the page says only that the server failed).

use super::{html, pages, Admin};
use crate::domain::{DomainError, DomainResult, Entity};
use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use std::fmt::Display;

/// A server failure: logged with its cause, answered with a page that gives none away.
pub(super) fn internal(cause: &dyn Display) -> HttpResponse {
    tracing::error!(%cause, "admin page failed");
    html(
        StatusCode::INTERNAL_SERVER_ERROR,
        pages::message(None, "Błąd serwera", "Spróbuj ponownie za chwilę."),
    )
}

/// "Not found", naming what was looked for.
pub(super) fn not_found(admin: &Admin, what: Entity) -> HttpResponse {
    html(
        StatusCode::NOT_FOUND,
        pages::message(Some(&admin.chrome()), "Nie znaleziono", missing(what)),
    )
}

/// A form refused because its CSRF token is missing or stale.
pub(super) fn forbidden(admin: Option<&Admin>) -> HttpResponse {
    let chrome = admin.map(Admin::chrome);
    html(
        StatusCode::FORBIDDEN,
        pages::message(chrome.as_ref(), "Formularz odrzucony", "Formularz wygasł albo nie pochodzi z tej strony (brak tokenu CSRF). Wróć, odśwież stronę i spróbuj ponownie."),
    )
}

/// A refused form shown again with the reason in Polish (`again` renders the page around it);
/// a storage failure is the server's, and is logged instead.
pub(super) fn refused(
    error: &DomainError,
    again: impl FnOnce(&str) -> DomainResult<maud::Markup>,
) -> HttpResponse {
    let Some(reason) = polish(error) else {
        return internal(error);
    };
    match again(&reason) {
        Ok(markup) => html(StatusCode::UNPROCESSABLE_ENTITY, markup),
        Err(error) => internal(&error),
    }
}

/// What a refused input is told, in Polish; `None` for a storage failure, which is the
/// server's and must be logged instead ([`internal`]).
pub(super) fn polish(error: &DomainError) -> Option<String> {
    Some(match error {
        DomainError::NotFound(what) => missing(*what).to_owned(),
        DomainError::AlreadyExists(what) => exists(*what).to_owned(),
        DomainError::MissingField { field } => format!("Brak wymaganego pola „{field}”."),
        DomainError::InvalidPhone { field } => {
            format!("Pole „{field}” nie zawiera poprawnego numeru telefonu.")
        }
        DomainError::InvalidEmail { field } => {
            format!("Pole „{field}” nie zawiera poprawnego adresu e-mail.")
        }
        DomainError::TooLong { field, max } => {
            format!("Pole „{field}” może mieć najwyżej {max} znaków.")
        }
        DomainError::InvalidField { field, reason } => match reason_in_polish(reason) {
            Some(reason) => format!("Pole „{field}”: {reason}."),
            None => format!("Pole „{field}” ma niepoprawną wartość."),
        },
        DomainError::Store(_) => return None,
    })
}

fn missing(what: Entity) -> &'static str {
    match what {
        Entity::Account => "Nie ma takiego konta.",
        Entity::User => "Nie ma takiego użytkownika.",
        Entity::Token => "Nie ma takiego tokenu.",
        Entity::Domain => "Nie ma takiej domeny.",
        Entity::Contact => "Nie ma takiego kontaktu.",
        Entity::Group => "Nie ma takiej grupy.",
        Entity::Campaign => "Nie ma takiej kampanii.",
        Entity::BlacklistedPhone => "Tego numeru nie ma na czarnej liście.",
    }
}

fn exists(what: Entity) -> &'static str {
    match what {
        Entity::Account => "Takie konto już istnieje.",
        Entity::User => "Taki użytkownik już istnieje.",
        Entity::Token => "Taki token już istnieje.",
        Entity::Domain => "Ta domena jest już zarejestrowana.",
        Entity::Contact => "Taki kontakt już istnieje.",
        Entity::Group => "Taka grupa już istnieje.",
        Entity::Campaign => "Taka kampania już istnieje.",
        Entity::BlacklistedPhone => "Ten numer jest już na czarnej liście.",
    }
}

/// The domain's reasons for an invalid field, in Polish (`None` for one not translated yet:
/// the page then says only that the value is wrong, never the English text).
fn reason_in_polish(reason: &str) -> Option<&'static str> {
    Some(match reason {
        "another account has registered this domain (a domain belongs to one account; a \
         subdomain of it can be registered separately)" => {
            "tę domenę zarejestrowało inne konto (domena należy do jednego konta; jej subdomenę \
             można zarejestrować osobno)"
        }
        "cannot be hashed" => "nie da się go zapisać",
        "control characters are not allowed" => "znaki sterujące są niedozwolone",
        "does not match the contact's type" => "nie pasuje do typu kontaktu",
        "must be a UUID" => "musi być identyfikatorem UUID",
        "must be between 1 and 3650 days" => "podaj od 1 do 3650 dni",
        "no free campaign id left" => "nie ma już wolnego numeru kampanii",
        "not a host name" => "to nie jest nazwa hosta",
        "not an ISO 3166-1 alpha-2 code" => "podaj dwuliterowy kod kraju (ISO 3166-1)",
        "the action panicked" | "the check panicked" => "błąd serwera",
        "too many records in one batch" => "za dużo rekordów naraz",
        "use at least 8 characters" => "użyj co najmniej 8 znaków",
        "use up to 64 letters, digits and . _ @ -" => "najwyżej 64 litery, cyfry i znaki . _ @ -",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_invalid_field_reason_of_the_domain_has_a_polish_text() {
        // The reasons the domain gives, read from its sources: a new one must be translated.
        let sources = [
            include_str!("../../domain/accounts.rs"),
            include_str!("../../domain/activities.rs"),
            include_str!("../../domain/campaigns.rs"),
            include_str!("../../domain/contacts.rs"),
            include_str!("../../domain/privacy.rs"),
            include_str!("../../domain/text.rs"),
            include_str!("../../domain/tracking/mod.rs"),
            include_str!("../../domain/tracking/identity.rs"),
            include_str!("../../domain/tracking/site.rs"),
            include_str!("../../store/accounts.rs"),
            include_str!("../../store/campaigns.rs"),
            include_str!("../../store/contacts.rs"),
            include_str!("../../store/groups.rs"),
            include_str!("../../store/mod.rs"),
            include_str!("../../delivery/mod.rs"),
            include_str!("privacy.rs"),
        ];
        let mut checked = 0;
        for source in sources {
            for (at, _) in source.match_indices("reason: \"") {
                let rest = &source[at + "reason: \"".len()..];
                let literal = &rest[..rest.find('"').expect("closing quote")];
                // A `\` line continuation drops the newline and the next line's indent.
                let reason = literal
                    .split("\\\n")
                    .map(str::trim_start)
                    .collect::<Vec<_>>()
                    .join("");
                let reason = reason.as_str();
                assert!(
                    reason_in_polish(reason).is_some(),
                    "no Polish text for {reason:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 0, "found no reasons to check");
    }

    #[test]
    fn a_storage_failure_is_never_shown_as_a_reason() {
        let error = DomainError::Store(crate::store::StoreError::Corrupt("x".into()));
        assert_eq!(polish(&error), None);
        assert_eq!(
            polish(&DomainError::NotFound(Entity::Domain)).as_deref(),
            Some("Nie ma takiej domeny.")
        );
    }
}
