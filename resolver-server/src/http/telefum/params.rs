//! TelefUM request parameters: query string and form body, percent-decoded to bytes, each value
//! read as UTF-8 or, when it is not valid UTF-8, as windows-1251 (Russian telephony software
//! still sends it).
//!
//! Spec: `shared/spec/telefum-crm-api.md`, section Wire format.

use std::borrow::Cow;

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

fn decode_text(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => encoding_rs::WINDOWS_1251
            .decode_without_bom_handling(bytes)
            .0
            .into_owned(),
    }
}

fn decode_component(raw: &[u8]) -> String {
    let spaced: Cow<[u8]> = if raw.contains(&b'+') {
        Cow::Owned(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        )
    } else {
        Cow::Borrowed(raw)
    };
    let bytes: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
    decode_text(&bytes)
}

impl Params {
    /// Reads `name=value&…` pairs from each source in turn; the first value of a name wins.
    pub fn parse(sources: &[&[u8]]) -> Params {
        let mut pairs = Vec::new();
        for source in sources {
            for pair in source.split(|&b| b == b'&').filter(|pair| !pair.is_empty()) {
                let (name, value) = match pair.iter().position(|&b| b == b'=') {
                    Some(at) => (&pair[..at], &pair[at + 1..]),
                    None => (pair, &b""[..]),
                };
                pairs.push((decode_component(name), decode_component(value)));
            }
        }
        Params(pairs)
    }

    /// The trimmed value of `name`, if given and not blank.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.trim())
            .filter(|value| !value.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_and_windows_1251_values_decode_to_the_same_text() {
        let utf8 =
            Params::parse(&[b"name=%D0%98%D0%B2%D0%B0%D0%BD+%D0%9F%D0%B5%D1%82%D1%80%D0%BE%D0%B2"]);
        let cp1251 = Params::parse(&[b"name=%C8%E2%E0%ED+%CF%E5%F2%F0%EE%E2"]);
        assert_eq!(utf8.get("name"), Some("Иван Петров"));
        assert_eq!(cp1251.get("name"), Some("Иван Петров"));
    }

    #[test]
    fn the_first_source_wins_and_blank_is_absent() {
        let params = Params::parse(&[
            b"typereq=find&phone=",
            b"typereq=addcont&phone=123&x_pstn=%2B79012222222",
        ]);
        assert_eq!(params.get("typereq"), Some("find"));
        assert_eq!(params.get("phone"), None);
        assert_eq!(params.get("x_pstn"), Some("+79012222222"));
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Any bytes in the query and the body (UTF-8 or not, broken escapes): parameters,
        /// never a panic.
        #[test]
        fn any_bytes_give_parameters(
            query in prop::collection::vec(any::<u8>(), 0..200),
            body in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let params = Params::parse(&[&query, &body]);
            for name in ["typereq", "login", "password", "phone", "name"] {
                let _ = params.get(name);
            }
        }

        /// UTF-8 text percent-encoded reads back as sent (trimmed, blank as absent).
        #[test]
        fn utf8_values_round_trip(value in any::<String>()) {
            let encoded = percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC);
            let query = format!("name={encoded}");
            let params = Params::parse(&[query.as_bytes()]);
            let expected = Some(value.trim()).filter(|v| !v.is_empty());
            prop_assert_eq!(params.get("name"), expected);
        }
    }
}
