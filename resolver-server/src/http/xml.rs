//! The one way the server writes XML (SerwerSMS `.xml` answers, TelefUM documents): every text
//! and attribute value goes through [`domain::xml_safe`] and is escaped, element names are
//! checked, and a failed write is an error the caller answers, never an empty 200. Whatever a
//! record holds, the output parses (property-tested below).

use crate::domain;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// Writing failed (an element name XML cannot hold, or the writer refused).
#[derive(Debug, thiserror::Error)]
#[error("cannot write XML: {0}")]
pub struct XmlError(String);

/// Whether `name` can be an element name as it is (ASCII letters, digits, `_ - .`, not starting
/// with a digit, `-` or `.`). Names chosen by outsiders that are not get written another way.
pub fn is_element_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A document being written: UTF-8 with a declaration. The first failure is kept and
/// returned by [`XmlDocument::finish`]; later writes are skipped.
pub struct XmlDocument {
    writer: Writer<Vec<u8>>,
    failure: Option<XmlError>,
}

impl XmlDocument {
    /// A document on one line, or with `one_per_line` each element on its own line (TelefUM's
    /// seed shape).
    pub fn new(one_per_line: bool) -> XmlDocument {
        let writer = if one_per_line {
            Writer::new_with_indent(Vec::new(), b' ', 0)
        } else {
            Writer::new(Vec::new())
        };
        let mut document = XmlDocument {
            writer,
            failure: None,
        };
        document.write(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)));
        document
    }

    fn write(&mut self, event: Event<'_>) {
        if self.failure.is_none() {
            if let Err(error) = self.writer.write_event(event) {
                self.failure = Some(XmlError(error.to_string()));
            }
        }
    }

    fn checked_name(&mut self, name: &str) -> bool {
        if !is_element_name(name) && self.failure.is_none() {
            self.failure = Some(XmlError(format!("{name:?} is not an element name")));
        }
        self.failure.is_none()
    }

    /// `<name attribute="value"…>`; values are sanitised and escaped.
    pub fn start(&mut self, name: &str, attributes: &[(&str, &str)]) {
        if !self.checked_name(name) || !attributes.iter().all(|(key, _)| is_element_name(key)) {
            self.failure
                .get_or_insert_with(|| XmlError("attribute name".to_owned()));
            return;
        }
        let values: Vec<_> = attributes
            .iter()
            .map(|(key, value)| (*key, domain::xml_safe(value)))
            .collect();
        let start = BytesStart::new(name)
            .with_attributes(values.iter().map(|(key, value)| (*key, value.as_ref())));
        self.write(Event::Start(start));
    }

    /// Text content, sanitised and escaped.
    pub fn text(&mut self, text: &str) {
        let safe = domain::xml_safe(text);
        self.write(Event::Text(BytesText::new(&safe)));
    }

    /// `</name>`.
    pub fn end(&mut self, name: &str) {
        if self.checked_name(name) {
            self.write(Event::End(BytesEnd::new(name)));
        }
    }

    /// `<name>text</name>`.
    pub fn element(&mut self, name: &str, text: &str) {
        self.start(name, &[]);
        self.text(text);
        self.end(name);
    }

    pub fn finish(self) -> Result<String, XmlError> {
        if let Some(failure) = self.failure {
            return Err(failure);
        }
        String::from_utf8(self.writer.into_inner()).map_err(|error| XmlError(error.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn characters_xml_forbids_become_replacement_characters() {
        let mut document = XmlDocument::new(false);
        document.start("r", &[("name", "a\u{0}b")]);
        document.text("nul\u{0} esc\u{1b} fffe\u{FFFE} ffff\u{FFFF} <&>");
        document.end("r");
        let xml = document.finish().expect("written");
        let parsed = roxmltree::Document::parse(&xml).expect("parses");
        let root = parsed.root_element();
        assert_eq!(root.attribute("name"), Some("a\u{FFFD}b"));
        assert_eq!(
            root.text(),
            Some("nul\u{FFFD} esc\u{FFFD} fffe\u{FFFD} ffff\u{FFFD} <&>")
        );
    }

    #[test]
    fn a_bad_element_name_is_an_error_not_a_broken_document() {
        let mut document = XmlDocument::new(false);
        document.element("a b", "x");
        assert!(document.finish().is_err());
        let mut document = XmlDocument::new(false);
        document.start("ok", &[("bad name", "x")]);
        assert!(document.finish().is_err());
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Whatever text and attribute values hold, the document parses and reads back as the
        /// sanitised text.
        #[test]
        fn any_text_makes_a_parsable_document(
            text in any::<String>(),
            attribute in any::<String>(),
            one_per_line in any::<bool>(),
        ) {
            let mut document = XmlDocument::new(one_per_line);
            document.start("response", &[("name", &attribute)]);
            document.element("item", &text);
            document.end("response");
            let xml = document.finish().expect("written");
            let parsed = roxmltree::Document::parse(&xml).expect("output parses");
            let item = parsed.root_element().first_element_child().expect("item");
            let expected_attribute = domain::xml_safe(&attribute).replace(['\t', '\n', '\r'], " ");
            prop_assert_eq!(parsed.root_element().attribute("name"), Some(expected_attribute.as_str()));
            let expected_text = domain::xml_safe(&text).replace("\r\n", "\n").replace('\r', "\n");
            prop_assert_eq!(item.text().unwrap_or_default(), expected_text.as_str());
        }
    }
}
