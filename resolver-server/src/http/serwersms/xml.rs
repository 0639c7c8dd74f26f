//! The `.xml` form of SerwerSMS answers: the JSON answer written as elements, with the same
//! structure. An object becomes child elements, an array repeated `<item>` elements; an error
//! answer's root is `<error>` with `<code>`, `<type>`, `<message>` as direct children.

use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use quick_xml::Writer;
use serde_json::Value;

/// Writes `answer` as an XML document (UTF-8, with declaration).
pub fn to_xml(answer: &Value) -> String {
    let mut writer = Writer::new(Vec::new());
    let (root, body) = match answer
        .as_object()
        .filter(|map| map.len() == 1)
        .and_then(|map| map.get("error"))
    {
        Some(error) => ("error", error),
        None => ("response", answer),
    };
    let written = writer
        .write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))
        .and_then(|()| write_element(&mut writer, root, body));
    debug_assert!(written.is_ok(), "writing to a Vec cannot fail");
    String::from_utf8(writer.into_inner()).unwrap_or_default()
}

/// Whether `name` can be an element name as it is. Keys chosen by outsiders (a tracked event's
/// properties) may not be; those are written as `<field name="…">`.
fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn write_element(writer: &mut Writer<Vec<u8>>, name: &str, value: &Value) -> std::io::Result<()> {
    let (start, name) = if is_plain_name(name) {
        (BytesStart::new(name), name)
    } else {
        (
            BytesStart::new("field").with_attributes([("name", name)]),
            "field",
        )
    };
    writer.write_event(Event::Start(start))?;
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                write_element(writer, key, child)?;
            }
        }
        Value::Array(items) => {
            for item in items {
                write_element(writer, "item", item)?;
            }
        }
        Value::Null => {}
        Value::String(text) => writer.write_event(Event::Text(BytesText::new(text)))?,
        other => writer.write_event(Event::Text(BytesText::new(&other.to_string())))?,
    }
    writer.write_event(Event::End(BytesEnd::new(name)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn errors_have_code_type_and_message_as_direct_children() {
        let xml = to_xml(
            &json!({"error": {"code": 1004, "type": "InvalidID", "message": "Nieprawidłowy"}}),
        );
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><error><code>1004</code><type>InvalidID</type><message>Nieprawidłowy</message></error>"
        );
    }

    #[test]
    fn keys_that_are_not_element_names_become_named_fields() {
        let xml = to_xml(&json!({"props": {"a b": 1, "x\"><y": 2, "ok": 3}}));
        assert!(
            xml.contains(
                "<props><field name=\"a b\">1</field><field name=\"x&quot;&gt;&lt;y\">2</field><ok>3</ok></props>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn lists_repeat_items_and_text_is_escaped() {
        let xml = to_xml(&json!({"paging": {"page": 1, "count": 1}, "items": [{"name": "<b>&"}]}));
        assert!(
            xml.contains("<items><item><name>&lt;b&gt;&amp;</name></item></items>"),
            "{xml}"
        );
        assert!(
            xml.contains("<paging><page>1</page><count>1</count></paging>"),
            "{xml}"
        );
    }
}
