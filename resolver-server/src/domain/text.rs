//! Free-text fields: length limits and the characters a record may hold.

use super::error::{DomainError, DomainResult};

/// Longest value of a contact's text fields, in characters.
pub const MAX_FIELD_LEN: usize = 255;
/// Longest group name, in characters.
pub const MAX_GROUP_NAME_LEN: usize = 100;

/// Checks a free-text value: at most `max` characters, and no control characters other than
/// tab and line breaks (they cannot be written in XML answers and are never meant).
pub fn check_text(field: &'static str, value: &str, max: usize) -> DomainResult<()> {
    if value.chars().count() > max {
        return Err(DomainError::TooLong { field, max });
    }
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(DomainError::InvalidField {
            field,
            reason: "control characters are not allowed",
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_characters_not_bytes() {
        assert!(check_text("name", &"ż".repeat(100), 100).is_ok());
        assert!(matches!(
            check_text("name", &"ż".repeat(101), 100),
            Err(DomainError::TooLong {
                field: "name",
                max: 100
            })
        ));
    }

    #[test]
    fn control_characters_are_refused_but_line_breaks_are_fine() {
        assert!(check_text("description", "line one\nline two\ttab", 255).is_ok());
        assert!(check_text("description", "bell\u{7}", 255).is_err());
        assert!(check_text("description", "nul\u{0}", 255).is_err());
    }
}
