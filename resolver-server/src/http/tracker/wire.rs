//! The tracker's request and answer bodies: small JSON objects the tracker sends as
//! `text/plain` (no preflight). Strings are borrowed from the body where JSON allows (no
//! allocation on the page-view path); unknown fields are ignored so a newer tracker can add
//! some. Nothing here decides anything: the domain does.
//!
//! Spec: `shared/spec/tracker.md`, section Resolver endpoints.

use crate::domain::{IdentityAnswer, Suid};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::fmt;

/// `POST /t/pageview`: `{"site"?,"suid","url","title","referrer"}`.
#[derive(Debug, Deserialize)]
pub struct PageViewReport<'a> {
    /// Missing, `null` or `""`: the page's origin decides the site alone.
    #[serde(borrow, default, deserialize_with = "text")]
    pub site: Cow<'a, str>,
    #[serde(borrow)]
    pub suid: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "text")]
    pub url: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "text")]
    pub title: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "text")]
    pub referrer: Cow<'a, str>,
}

/// `POST /t/event`: `{"site"?,"suid","name","props":{…},"url"}`; `props` missing or null is `{}`.
#[derive(Debug, Deserialize)]
pub struct EventReport<'a> {
    /// Missing, `null` or `""`: the page's origin decides the site alone.
    #[serde(borrow, default, deserialize_with = "text")]
    pub site: Cow<'a, str>,
    #[serde(borrow)]
    pub suid: Cow<'a, str>,
    #[serde(borrow, default, deserialize_with = "text")]
    pub name: Cow<'a, str>,
    #[serde(default)]
    pub props: Option<Map<String, Value>>,
    #[serde(borrow, default, deserialize_with = "text")]
    pub url: Cow<'a, str>,
}

/// `POST /t/identify`: `{"site"?,"suid","value","hash":null|"<hex>"}`.
#[derive(Debug, Deserialize)]
pub struct IdentifyRequest<'a> {
    /// Missing, `null` or `""`: the page's origin decides the site alone.
    #[serde(borrow, default, deserialize_with = "text")]
    pub site: Cow<'a, str>,
    #[serde(borrow)]
    pub suid: Cow<'a, str>,
    /// A string, or a number (a phone a page passed as one); anything else is no value.
    #[serde(default)]
    pub value: Value,
    #[serde(borrow, default, deserialize_with = "text")]
    pub hash: Cow<'a, str>,
}

impl IdentifyRequest<'_> {
    /// The value as text; a value of any other type reads as empty (a refused placeholder).
    pub fn value_text(&self) -> Cow<'_, str> {
        match &self.value {
            Value::String(text) => Cow::Borrowed(text),
            Value::Number(number) => Cow::Owned(number.to_string()),
            _ => Cow::Borrowed(""),
        }
    }

    /// The verification hash, if one was sent.
    pub fn hash(&self) -> Option<&str> {
        Some(self.hash.as_ref()).filter(|hash| !hash.is_empty())
    }
}

/// The answer to `t/identify`, handed by the tracker to the site's callback as `this`:
/// `{"success":true,"suid":"…","message":"Kontakt pobrany"}`.
#[derive(Debug, Serialize)]
pub struct IdentifyAnswer {
    pub success: bool,
    pub suid: Suid,
    pub message: &'static str,
}

impl From<IdentityAnswer> for IdentifyAnswer {
    fn from(answer: IdentityAnswer) -> IdentifyAnswer {
        IdentifyAnswer {
            success: answer.success,
            suid: answer.suid,
            message: answer.message,
        }
    }
}

/// A string field where `null` (or absence, with `default`) means empty; other types are
/// malformed.
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Cow<'de, str>, D::Error> {
    struct Text;
    impl<'de> Visitor<'de> for Text {
        type Value = Cow<'de, str>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a string or null")
        }

        fn visit_borrowed_str<E: de::Error>(self, text: &'de str) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(text))
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            Ok(Cow::Owned(text.to_owned()))
        }

        fn visit_string<E: de::Error>(self, text: String) -> Result<Self::Value, E> {
            Ok(Cow::Owned(text))
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(""))
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Cow::Borrowed(""))
        }
    }
    deserializer.deserialize_any(Text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_strings_are_borrowed_and_null_reads_as_empty() {
        let body = br#"{"site":"k","suid":"s","url":"https://a/","title":"Say \"hi\"","referrer":null,"extra":1}"#;
        let report: PageViewReport = serde_json::from_slice(body).expect("report");
        assert!(matches!(report.url, Cow::Borrowed("https://a/")));
        assert_eq!(report.title, "Say \"hi\"");
        assert_eq!(report.referrer, "");
    }

    #[test]
    fn a_field_of_the_wrong_type_is_malformed() {
        for body in [
            r#"{"site":"k","suid":"s","url":["x"]}"#,
            r#"{"site":5,"suid":"s","url":"x"}"#,
            r#"{"site":"k","suid":"s","title":5}"#,
        ] {
            assert!(
                serde_json::from_str::<PageViewReport>(body).is_err(),
                "{body}"
            );
        }
        // No site is not malformed: the origin decides.
        for body in [r#"{"suid":"s","url":"x"}"#, r#"{"site":null,"suid":"s"}"#] {
            let report: PageViewReport = serde_json::from_str(body).expect(body);
            assert_eq!(report.site, "");
        }
        let props = r#"{"site":"k","suid":"s","name":"n","props":"x"}"#;
        assert!(serde_json::from_str::<EventReport>(props).is_err());
    }

    #[test]
    fn identify_values_may_be_numbers_and_hashes_may_be_null() {
        let request: IdentifyRequest =
            serde_json::from_str(r#"{"site":"k","suid":"s","value":500600700,"hash":null}"#)
                .expect("request");
        assert_eq!(request.value_text(), "500600700");
        assert_eq!(request.hash(), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn read_all(body: &[u8]) {
        let _ = serde_json::from_slice::<PageViewReport<'_>>(body);
        let _ = serde_json::from_slice::<EventReport<'_>>(body);
        if let Ok(call) = serde_json::from_slice::<IdentifyRequest<'_>>(body) {
            let _ = call.value_text();
            let _ = call.hash();
        }
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Any bytes as a tracker body: a report or a refusal, never a panic.
        #[test]
        fn any_bytes_are_a_report_or_refused(body in prop::collection::vec(any::<u8>(), 0..256)) {
            read_all(&body);
        }

        /// Objects with the tracker's field names and values of any JSON type.
        #[test]
        fn reports_with_any_field_values_are_read_or_refused(
            values in prop::collection::vec(crate::any_json(), 8)
        ) {
            let names = ["site", "suid", "url", "title", "referrer", "name", "props", "value"];
            let report: Map<String, Value> = names.iter().map(|n| (*n).to_owned()).zip(values).collect();
            read_all(Value::Object(report).to_string().as_bytes());
        }
    }
}
