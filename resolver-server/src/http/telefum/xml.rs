//! TelefUM answers: `<response>` documents in the seed's shape, UTF-8 with a declaration, one
//! element per line, every value escaped.

use crate::http::xml::{XmlDocument, XmlError};

/// Builds one `<response>` document.
pub struct Response {
    document: XmlDocument,
}

impl Response {
    pub fn new() -> Response {
        let mut document = XmlDocument::new(true);
        document.start("response", &[]);
        Response { document }
    }

    /// Adds `<name>value</name>`.
    pub fn field(mut self, name: &str, value: &str) -> Response {
        self.document.element(name, value);
        self
    }

    /// Adds `<item>` holding `fields`.
    pub fn item(mut self, fields: &[(&str, &str)]) -> Response {
        self.document.start("item", &[]);
        for (name, value) in fields {
            self.document.element(name, value);
        }
        self.document.end("item");
        self
    }

    pub fn finish(mut self) -> Result<String, XmlError> {
        self.document.end("response");
        self.document.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_have_the_seed_shape_and_escape_values() {
        let xml = Response::new()
            .item(&[("id", "1"), ("name", "<b>&\"")])
            .field("total", "1")
            .finish()
            .expect("written");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<item>\n<id>1</id>\n<name>&lt;b&gt;&amp;&quot;</name>\n</item>\n<total>1</total>\n</response>"
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Whatever a stored contact holds, the `find` document parses.
        #[test]
        fn any_values_make_a_parsable_document(values in prop::collection::vec(any::<String>(), 0..8)) {
            let mut response = Response::new();
            for value in &values {
                response = response.item(&[("id", "1"), ("name", value), ("description", value)]);
            }
            let xml = response.field("total", &values.len().to_string()).finish().expect("written");
            let parsed = roxmltree::Document::parse(&xml);
            prop_assert!(parsed.is_ok(), "{}", xml);
        }
    }
}
