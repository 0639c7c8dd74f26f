//! Request parameters as SerwerSMS clients send them: JSON bodies or form bodies with PHP-style
//! arrays (`group_id[]=1`, `group_id[0]=1`, `contact[0][phone]=…`), scalars as numbers or
//! strings, and null, empty and absent meaning the same.
//!
//! Spec: `shared/spec/serwersms-api-v2.md`, section Request bodies.

use super::error::SmsError;
use serde_json::{Map, Value};

/// The parameters of one call, whatever encoding they came in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Params(Map<String, Value>);

fn invalid(name: &str, what: &str) -> SmsError {
    SmsError::with(SmsError::INVALID_DATA, format!("{name} {what}"))
}

impl Params {
    /// Decodes a body by its Content-Type (sniffing when there is none) and adds the query
    /// string's parameters under it (the body wins).
    pub fn parse(content_type: Option<&str>, body: &[u8], query: &str) -> Result<Params, SmsError> {
        let body = std::str::from_utf8(body)
            .map_err(|_| SmsError::with(SmsError::INVALID_DATA, "body is not UTF-8"))?;
        let mime = content_type.unwrap_or_default().to_ascii_lowercase();
        let json = mime.contains("json") || (mime.is_empty() && body.trim_start().starts_with('{'));
        let mut params = if body.trim().is_empty() {
            Map::new()
        } else if json {
            match serde_json::from_str::<Value>(body) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Err(SmsError::with(
                        SmsError::INVALID_DATA,
                        "JSON body must be an object",
                    ))
                }
                Err(_) => return Err(SmsError::with(SmsError::INVALID_DATA, "malformed JSON")),
            }
        } else {
            parse_form(body)?
        };
        if !query.is_empty() {
            for (name, value) in parse_form(query)? {
                params.entry(name).or_insert(value);
            }
        }
        Ok(Params(params))
    }

    fn get(&self, name: &str) -> Option<&Value> {
        match self.0.get(name)? {
            Value::Null => None,
            Value::String(text) if text.trim().is_empty() => None,
            value => Some(value),
        }
    }

    /// A text parameter; numbers and booleans are accepted as their text.
    pub fn text(&self, name: &str) -> Result<Option<String>, SmsError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text.clone())),
            Some(Value::Number(number)) => Ok(Some(number.to_string())),
            Some(Value::Bool(flag)) => Ok(Some(flag.to_string())),
            Some(_) => Err(invalid(name, "must be text")),
        }
    }

    /// An integer parameter given as a JSON number or a numeric string.
    pub fn int(&self, name: &str) -> Result<Option<i64>, SmsError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => scalar_int(value)
                .map(Some)
                .ok_or_else(|| invalid(name, "must be an integer")),
        }
    }

    /// One id or a list of ids: `5`, `"5"`, `[5, "6"]`, `"5,6"`, or a PHP form array.
    pub fn ids(&self, name: &str) -> Result<Option<Vec<u64>>, SmsError> {
        let Some(value) = self.get(name) else {
            return Ok(None);
        };
        let error = || invalid(name, "must be an id or a list of ids");
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            Value::Object(map) => map.values().collect(),
            Value::String(text) if text.contains(',') => {
                return text
                    .split(',')
                    .map(|part| part.trim().parse::<u64>().map_err(|_| error()))
                    .collect::<Result<Vec<_>, _>>()
                    .map(Some);
            }
            scalar => vec![scalar],
        };
        items
            .into_iter()
            .filter(|item| {
                !matches!(item, Value::Null) && item.as_str().is_none_or(|s| !s.trim().is_empty())
            })
            .map(|item| {
                scalar_int(item)
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(error)
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }

    /// A boolean: `true`, `"true"`, `1`, `"1"` (and the false forms); absent is false.
    pub fn flag(&self, name: &str) -> Result<bool, SmsError> {
        match self.get(name) {
            None => Ok(false),
            Some(Value::Bool(flag)) => Ok(*flag),
            Some(value) => match scalar_text(value)
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("true" | "1" | "yes" | "on") => Ok(true),
                Some("false" | "0" | "no" | "off") => Ok(false),
                _ => Err(invalid(name, "must be true or false")),
            },
        }
    }

    /// A list of objects: a JSON array, a string holding a JSON array (Java and C# clients), or
    /// a PHP form array (`contact[0][phone]=…`).
    pub fn objects(&self, name: &str) -> Result<Option<Vec<Params>>, SmsError> {
        let error = || invalid(name, "must be a list of objects");
        let parsed;
        let value = match self.get(name) {
            None => return Ok(None),
            Some(Value::String(text)) => {
                parsed = serde_json::from_str::<Value>(text).map_err(|_| error())?;
                &parsed
            }
            Some(value) => value,
        };
        let items: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            Value::Object(map) => map.values().collect(),
            _ => return Err(error()),
        };
        items
            .into_iter()
            .map(|item| match item {
                Value::Object(map) => Ok(Params(map.clone())),
                _ => Err(error()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
    }
}

fn scalar_int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            number
                .as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Decodes `application/x-www-form-urlencoded` with PHP's bracket syntax (brackets may be
/// percent-encoded, as PHP's `http_build_query` sends them).
fn parse_form(body: &str) -> Result<Map<String, Value>, SmsError> {
    // serde_qs decodes bytes that are not UTF-8 into U+FFFD; refuse them instead of storing
    // replacement characters.
    if body.split('&').any(|pair| {
        percent_encoding::percent_decode_str(pair)
            .decode_utf8()
            .is_err()
    }) {
        return Err(SmsError::with(
            SmsError::INVALID_DATA,
            "form value is not UTF-8",
        ));
    }
    let config = serde_qs::Config::new(6, false);
    config
        .deserialize_str::<Map<String, Value>>(body)
        .map_err(|_| SmsError::with(SmsError::INVALID_DATA, "malformed form body"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(body: &str) -> Params {
        Params::parse(
            Some("application/x-www-form-urlencoded"),
            body.as_bytes(),
            "",
        )
        .expect("form")
    }

    fn json(body: &str) -> Params {
        Params::parse(Some("application/json; charset=utf-8"), body.as_bytes(), "").expect("json")
    }

    #[test]
    fn php_arrays_in_every_spelling_give_the_same_ids() {
        for body in [
            "group_id[]=1&group_id[]=2",
            "group_id[0]=1&group_id[1]=2",
            "group_id%5B0%5D=1&group_id%5B1%5D=2",
            "group_id=1,2",
        ] {
            assert_eq!(
                form(body).ids("group_id").expect("ids"),
                Some(vec![1, 2]),
                "body {body}"
            );
        }
        assert_eq!(
            json(r#"{"group_id":[1,"2"]}"#)
                .ids("group_id")
                .expect("ids"),
            Some(vec![1, 2])
        );
        assert_eq!(
            json(r#"{"group_id":7}"#).ids("group_id").expect("ids"),
            Some(vec![7])
        );
        assert_eq!(
            json(r#"{"group_id":null}"#).ids("group_id").expect("ids"),
            None
        );
        assert!(json(r#"{"group_id":"x"}"#).ids("group_id").is_err());
    }

    #[test]
    fn null_empty_and_absent_are_the_same() {
        let params = json(r#"{"a":null,"b":"","c":"  "}"#);
        for name in ["a", "b", "c", "d"] {
            assert_eq!(params.text(name).expect("text"), None);
            assert_eq!(params.int(name).expect("int"), None);
        }
    }

    #[test]
    fn numbers_may_be_strings_and_booleans_may_be_words() {
        let params = json(r#"{"id":"12","page":3,"flag":"true","other":1,"off":"0"}"#);
        assert_eq!(params.int("id").expect("int"), Some(12));
        assert_eq!(params.int("page").expect("int"), Some(3));
        assert!(params.flag("flag").expect("flag") && params.flag("other").expect("flag"));
        assert!(!params.flag("off").expect("flag"));
        assert!(json(r#"{"id":"12a"}"#).int("id").is_err());
    }

    #[test]
    fn nested_form_objects_and_json_strings_are_lists_of_objects() {
        let from_form = form(
            "contact[0][phone]=500600700&contact[1][phone]=600700800&contact[1][email]=a%40b.pl",
        );
        let from_string = json(
            r#"{"contact":"[{\"phone\":\"500600700\"},{\"phone\":\"600700800\",\"email\":\"a@b.pl\"}]"}"#,
        );
        for params in [from_form, from_string] {
            let items = params
                .objects("contact")
                .expect("objects")
                .expect("present");
            assert_eq!(items.len(), 2);
            assert_eq!(
                items[1].text("email").expect("text").as_deref(),
                Some("a@b.pl")
            );
        }
    }

    #[test]
    fn malformed_bodies_are_invalid_data() {
        for (content_type, body) in [
            ("application/json", "{\"a\":"),
            ("application/json", "[1,2]"),
        ] {
            let error =
                Params::parse(Some(content_type), body.as_bytes(), "").expect_err("malformed");
            assert_eq!(error.code, SmsError::INVALID_DATA);
        }
        assert!(Params::parse(None, b"\xff\xfe", "").is_err());
        for (body, query) in [
            ("first_name=%ff%fe", ""),
            ("", "first_name=%c3"),
            ("a%ff=1", ""),
        ] {
            let error = Params::parse(
                Some("application/x-www-form-urlencoded"),
                body.as_bytes(),
                query,
            )
            .expect_err("not UTF-8");
            assert_eq!(error.code, SmsError::INVALID_DATA, "{body} {query}");
        }
        assert_eq!(
            form("first_name=%C5%BCaneta")
                .text("first_name")
                .expect("text")
                .as_deref(),
            Some("żaneta")
        );
        assert_eq!(
            Params::parse(None, br#"{"id":1}"#, "")
                .expect("sniffed")
                .int("id")
                .expect("int"),
            Some(1)
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Every accessor a call uses, on every parameter name: none may panic.
    fn read_everything(params: &Params) {
        for name in params.0.keys() {
            let _ = params.text(name);
            let _ = params.int(name);
            let _ = params.ids(name);
            let _ = params.flag(name);
            if let Ok(Some(items)) = params.objects(name) {
                for item in &items {
                    for inner in item.0.keys() {
                        let _ = item.text(inner);
                        let _ = item.ids(inner);
                    }
                }
            }
        }
    }

    fn form_encode(text: &str) -> String {
        percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
    }

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Any bytes, under any content type, with any query string: an answer, never a panic.
        #[test]
        fn any_body_parses_or_is_refused(
            body in prop::collection::vec(any::<u8>(), 0..256),
            content_type in prop_oneof![
                Just(None),
                Just(Some("application/json")),
                Just(Some("application/x-www-form-urlencoded")),
                Just(Some("text/plain")),
            ],
            query in "[a-z\\[\\]%0-9=&+]{0,40}",
        ) {
            if let Ok(params) = Params::parse(content_type, &body, &query) {
                read_everything(&params);
            }
        }

        /// PHP-style form arrays of any shape and depth.
        #[test]
        fn any_php_form_parses_or_is_refused(
            pairs in prop::collection::vec(("[a-z]{1,6}(\\[[0-9a-z]{0,3}\\]){0,8}", ".{0,12}"), 0..12)
        ) {
            let body: Vec<String> = pairs
                .iter()
                .map(|(name, value)| format!("{name}={}", form_encode(value)))
                .collect();
            if let Ok(params) = Params::parse(Some("application/x-www-form-urlencoded"), body.join("&").as_bytes(), "") {
                read_everything(&params);
            }
        }

        /// Any JSON object is read without panicking; any JSON at all is parsed or refused.
        #[test]
        fn any_json_parses_or_is_refused(value in crate::any_json()) {
            let body = value.to_string();
            if let Ok(params) = Params::parse(Some("application/json"), body.as_bytes(), "") {
                read_everything(&params);
            }
        }

        /// A UTF-8 value sent as a form field comes back as sent (blank reads as absent).
        #[test]
        fn form_text_round_trips(value in any::<String>()) {
            let body = format!("first_name={}", form_encode(&value));
            let params = Params::parse(Some("application/x-www-form-urlencoded"), body.as_bytes(), "")
                .expect("UTF-8 form");
            let expected = (!value.trim().is_empty()).then_some(value);
            prop_assert_eq!(params.text("first_name").expect("text"), expected);
        }
    }
}
