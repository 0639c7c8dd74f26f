//! TelefUM answers: `<response>` documents in the seed's shape, UTF-8 with a declaration, one
//! element per line, every value escaped.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;

/// Builds one `<response>` document.
pub struct Response {
    writer: Writer<Vec<u8>>,
}

impl Response {
    pub fn new() -> Response {
        let mut writer = Writer::new_with_indent(Vec::new(), b' ', 0);
        let started = writer
            .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
            .and_then(|()| writer.write_event(Event::Start(BytesStart::new("response"))));
        debug_assert!(started.is_ok(), "writing to a Vec cannot fail");
        Response { writer }
    }

    /// Adds `<name>value</name>`.
    pub fn field(mut self, name: &str, value: &str) -> Response {
        let written = self
            .writer
            .create_element(name)
            .write_text_content(BytesText::new(value));
        debug_assert!(written.is_ok(), "writing to a Vec cannot fail");
        self
    }

    /// Adds `<item>` holding `fields`.
    pub fn item(mut self, fields: &[(&str, &str)]) -> Response {
        let written = self
            .writer
            .create_element("item")
            .write_inner_content(|writer| {
                for (name, value) in fields {
                    writer
                        .create_element(*name)
                        .write_text_content(BytesText::new(value))?;
                }
                Ok(())
            });
        debug_assert!(written.is_ok(), "writing to a Vec cannot fail");
        self
    }

    pub fn finish(mut self) -> String {
        let ended = self
            .writer
            .write_event(Event::End(BytesEnd::new("response")));
        debug_assert!(ended.is_ok(), "writing to a Vec cannot fail");
        String::from_utf8(self.writer.into_inner()).unwrap_or_default()
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
            .finish();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<response>\n<item>\n<id>1</id>\n<name>&lt;b&gt;&amp;&quot;</name>\n</item>\n<total>1</total>\n</response>"
        );
    }
}
