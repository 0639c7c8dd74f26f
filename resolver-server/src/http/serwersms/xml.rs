//! The `.xml` form of SerwerSMS answers: the JSON answer written as elements, with the same
//! structure. An object becomes child elements, an array repeated `<item>` elements; an error
//! answer's root is `<error>` with `<code>`, `<type>`, `<message>` as direct children.

use crate::http::xml::{is_element_name, XmlDocument, XmlError};
use serde_json::Value;

/// Writes `answer` as an XML document (UTF-8, with declaration).
pub fn to_xml(answer: &Value) -> Result<String, XmlError> {
    let mut document = XmlDocument::new(false);
    let (root, body) = match answer
        .as_object()
        .filter(|map| map.len() == 1)
        .and_then(|map| map.get("error"))
    {
        Some(error) => ("error", error),
        None => ("response", answer),
    };
    write_element(&mut document, root, body);
    document.finish()
}

/// Keys chosen by outsiders (a tracked event's properties) may not be element names; those are
/// written as `<field name="…">`.
fn write_element(document: &mut XmlDocument, name: &str, value: &Value) {
    let name = if is_element_name(name) {
        document.start(name, &[]);
        name
    } else {
        document.start("field", &[("name", name)]);
        "field"
    };
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                write_element(document, key, child);
            }
        }
        Value::Array(items) => {
            for item in items {
                write_element(document, "item", item);
            }
        }
        Value::Null => {}
        Value::String(text) => document.text(text),
        other => document.text(&other.to_string()),
    }
    document.end(name);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn errors_have_code_type_and_message_as_direct_children() {
        let xml = to_xml(
            &json!({"error": {"code": 1004, "type": "InvalidID", "message": "Nieprawidłowy"}}),
        )
        .expect("written");
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><error><code>1004</code><type>InvalidID</type><message>Nieprawidłowy</message></error>"
        );
    }

    #[test]
    fn keys_that_are_not_element_names_become_named_fields() {
        let xml = to_xml(&json!({"props": {"a b": 1, "x\"><y": 2, "ok": 3}})).expect("written");
        assert!(
            xml.contains(
                "<props><field name=\"a b\">1</field><field name=\"x&quot;&gt;&lt;y\">2</field><ok>3</ok></props>"
            ),
            "{xml}"
        );
    }

    #[test]
    fn lists_repeat_items_and_text_is_escaped() {
        let xml = to_xml(&json!({"paging": {"page": 1, "count": 1}, "items": [{"name": "<b>&"}]}))
            .expect("written");
        assert!(
            xml.contains("<items><item><name>&lt;b&gt;&amp;</name></item></items>"),
            "{xml}"
        );
        assert!(
            xml.contains("<paging><page>1</page><count>1</count></paging>"),
            "{xml}"
        );
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Whatever a stored record or an event's properties hold, the `.xml` answer parses.
        #[test]
        fn any_answer_is_well_formed_xml(answer in crate::any_json()) {
            let xml = to_xml(&answer).expect("written");
            prop_assert!(roxmltree::Document::parse(&xml).is_ok(), "{xml}");
        }
    }
}
