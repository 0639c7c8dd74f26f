//! Free-text fields: length limits and the characters a record may hold.

use super::error::{DomainError, DomainResult};
use std::borrow::Cow;

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
        .any(|c| !is_xml_char(c) || (c.is_control() && !matches!(c, '\t' | '\n' | '\r')))
    {
        return Err(DomainError::InvalidField {
            field,
            reason: "control characters are not allowed",
        });
    }
    Ok(())
}

/// Whether XML 1.0 allows `c` in a document: tab, line breaks and everything from U+0020 on,
/// except the non-characters U+FFFE and U+FFFF (a Rust `char` is never a surrogate).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
}

/// The one sanitiser of text written into XML: every character XML does not allow becomes
/// U+FFFD. Input is refused at the edge ([`check_text`]), but stored text may predate that rule
/// or come from a lenient path (the tracker drops what it can), so every XML writer passes text
/// through here; `http::xml` is the only way the server writes XML.
pub fn xml_safe(text: &str) -> Cow<'_, str> {
    if text.chars().all(is_xml_char) {
        Cow::Borrowed(text)
    } else {
        Cow::Owned(
            text.chars()
                .map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' })
                .collect(),
        )
    }
}

/// The one decision whether a stored URL (a page view's, typed by nobody we trust) may become a
/// link: only an absolute `http:` or `https:` URL, returned as the `url` crate serialises it
/// (so it holds no raw control or space characters). `javascript:`, `data:`, relative and
/// unparsable URLs get no link; show them as text.
pub fn link_target(stored: &str) -> Option<String> {
    let parsed = url::Url::parse(stored.trim()).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.into())
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
        assert!(check_text("description", "non-character\u{FFFE}", 255).is_err());
        assert!(check_text("description", "non-character\u{FFFF}", 255).is_err());
    }

    #[test]
    fn only_http_and_https_urls_become_links() {
        assert_eq!(
            link_target("https://shop.example/koszyk?x=1").as_deref(),
            Some("https://shop.example/koszyk?x=1")
        );
        assert!(link_target("HTTP://shop.example/").is_some());
        for refused in [
            "javascript:alert(1)",
            " JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:x",
            "//evil.example/",
            "/relative",
            "",
        ] {
            assert_eq!(link_target(refused), None, "{refused:?}");
        }
    }

    #[test]
    fn xml_safe_replaces_only_what_xml_forbids() {
        assert_eq!(xml_safe("zażółć\t\n"), "zażółć\t\n");
        assert!(matches!(xml_safe("plain"), Cow::Borrowed(_)));
        assert_eq!(
            xml_safe("a\u{0}b\u{1b}c\u{FFFE}\u{FFFF}"),
            "a\u{FFFD}b\u{FFFD}c\u{FFFD}\u{FFFD}"
        );
    }
}
