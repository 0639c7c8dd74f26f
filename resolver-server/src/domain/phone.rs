//! Phone numbers: parsed once at the edge into E.164 with libphonenumber's metadata (the
//! `phonenumber` crate). Inside the domain a [`Phone`] is always valid: either a valid number
//! (strict, [`Phone::parse`]) or, from telephony software, any dialable string
//! ([`Phone::dialable`]) kept as typed next to its E.164 form when it has one.

use phonenumber::country::Id as CountryId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::str::FromStr;

/// Longest input we hand to the parser. Real numbers with formatting fit easily; anything longer
/// is refused before parsing so hostile input costs nothing.
const MAX_INPUT_LEN: usize = 40;

/// How many trailing digits identify a number across national and international spellings.
pub const TAIL_DIGITS: usize = 9;

/// Fewest and most digits of a dialable string (an internal extension up to the longest
/// international number with a trunk prefix).
pub const DIALABLE_DIGITS: std::ops::RangeInclusive<usize> = 3..=20;

/// Longest dialable input, separators included.
const MAX_DIALABLE_LEN: usize = 64;

/// A phone number. Only constructible by parsing: [`Phone::parse`] gives a valid number in
/// E.164 form (`+48500600700`); [`Phone::dialable`] also accepts what a PBX dials (`0123456789`,
/// an extension `101`) and keeps those digits as typed next to the E.164 form when there is
/// one. Shown ([`Phone::as_str`], `Display`) as E.164 when it has that form, else as typed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "StoredPhone", into = "StoredPhone")]
pub struct Phone {
    /// The E.164 form, when the number is a valid one.
    e164: Option<String>,
    /// The digits as typed, with a leading `+` if one was typed; separators dropped. Equal to
    /// the E.164 form for numbers read strictly.
    dialed: String,
}

/// How a phone is kept in a record: old records (and numbers read strictly) hold the E.164
/// string alone; a number typed in another form holds both.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum StoredPhone {
    E164(String),
    Dialed {
        e164: Option<String>,
        dialed: String,
    },
}

impl From<Phone> for StoredPhone {
    fn from(phone: Phone) -> StoredPhone {
        match phone.e164 {
            Some(e164) if e164 == phone.dialed => StoredPhone::E164(e164),
            e164 => StoredPhone::Dialed {
                e164,
                dialed: phone.dialed,
            },
        }
    }
}

impl TryFrom<StoredPhone> for Phone {
    type Error = String;

    fn try_from(stored: StoredPhone) -> Result<Phone, String> {
        match stored {
            StoredPhone::E164(e164) => Phone::try_from(e164),
            StoredPhone::Dialed { e164, dialed } => {
                let e164 = e164.map(Phone::try_from).transpose()?.and_then(|p| p.e164);
                if dialable_form(&dialed).as_deref() != Some(dialed.as_str()) {
                    return Err(format!("not a dialable number: {dialed:?}"));
                }
                Ok(Phone { e164, dialed })
            }
        }
    }
}

/// `+` (if typed first) and the digits of a dialable string, or `None` if it is not one.
fn dialable_form(input: &str) -> Option<String> {
    let input = input.trim();
    if input.len() > MAX_DIALABLE_LEN {
        return None;
    }
    let (plus, rest) = match input.strip_prefix('+') {
        Some(rest) => ("+", rest),
        None => ("", input),
    };
    if !rest
        .chars()
        .all(|c| c.is_ascii_digit() || " -./()".contains(c))
    {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    DIALABLE_DIGITS
        .contains(&digits.len())
        .then(|| format!("{plus}{digits}"))
}

/// A country whose numbering plan reads numbers given without a `+` prefix (`PL`, `DE`, …).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Country(CountryId);

impl Country {
    pub const POLAND: Country = Country(CountryId::PL);

    /// Parses an ISO 3166-1 alpha-2 code, case-insensitively.
    pub fn parse(code: &str) -> Option<Country> {
        CountryId::from_str(&code.trim().to_ascii_uppercase())
            .ok()
            .map(Country)
    }

    /// The ISO 3166-1 alpha-2 code.
    pub fn code(self) -> String {
        format!("{:?}", self.0)
    }
}

impl Phone {
    /// Reads a phone number as a person or a PBX types it: `500 600 700`, `+48 500-600-700`,
    /// `0048500600700`, or `48500600700` (a country code without `+`). A number without a
    /// prefix is read in `country`'s plan. Returns `None` for anything that is not a valid
    /// number; never panics, whatever the input.
    pub fn parse(input: &str, country: Country) -> Option<Phone> {
        let input = input.trim();
        if input.is_empty()
            || input.len() > MAX_INPUT_LEN
            || !input
                .chars()
                .all(|c| c.is_ascii_digit() || " +-./()".contains(c))
        {
            return None;
        }
        let digits = input.chars().filter(char::is_ascii_digit).count();
        if digits < 6 {
            return None;
        }
        parse_valid(input, Some(country.0)).or_else(|| {
            // `48500600700`: the country code typed without its `+`.
            if input.starts_with(|c: char| c.is_ascii_digit()) {
                parse_valid(&format!("+{input}"), None)
            } else {
                None
            }
        })
    }

    /// Reads any dialable string as a PBX sends it: an optional `+`, then 3 to 20 digits,
    /// separators (` -./()`) ignored. Keeps those digits as typed, with the E.164 form when
    /// [`Phone::parse`] reads the same input as a valid number. `None` for anything else;
    /// never panics.
    pub fn dialable(input: &str, country: Country) -> Option<Phone> {
        let dialed = dialable_form(input)?;
        let e164 = Phone::parse(input, country).and_then(|phone| phone.e164);
        Some(Phone { e164, dialed })
    }

    /// The E.164 form when it has one, else the digits as typed: how the number is shown.
    pub fn as_str(&self) -> &str {
        self.e164.as_deref().unwrap_or(&self.dialed)
    }

    /// The E.164 form, `+` and digits, when the number is a valid one.
    pub fn e164(&self) -> Option<&str> {
        self.e164.as_deref()
    }

    /// The digits as typed (with a leading `+` if one was typed).
    pub fn dialed(&self) -> &str {
        &self.dialed
    }

    /// The last nine digits (fewer for shorter numbers): what stays the same however a PBX
    /// writes the number (`0123456789`, `8 012 345 67 89`, `+7 012 345-67-89`).
    pub fn tail(&self) -> &str {
        let shown = self.as_str();
        let digits = shown.strip_prefix('+').unwrap_or(shown);
        &digits[digits.len().saturating_sub(TAIL_DIGITS)..]
    }

    /// For logs: the number with its middle digits hidden (`+48500***700`).
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.as_str().chars().collect();
        if chars.len() <= 7 {
            return "***".to_owned();
        }
        let head: String = chars[..chars.len() - 6].iter().collect();
        let tail: String = chars[chars.len() - 3..].iter().collect();
        format!("{head}***{tail}")
    }
}

fn parse_valid(input: &str, country: Option<CountryId>) -> Option<Phone> {
    // The parser has panicked on odd inputs in past releases; a panic here must only ever mean
    // "not a phone number", never a dead worker.
    catch_unwind(AssertUnwindSafe(|| {
        let number = phonenumber::parse(country, input).ok()?;
        if !phonenumber::is_valid(&number) {
            return None;
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        Some(Phone {
            e164: Some(e164.clone()),
            dialed: e164,
        })
    }))
    .ok()
    .flatten()
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.as_str().to_owned()
    }
}

impl TryFrom<String> for Phone {
    type Error = String;

    /// Re-reads a stored E.164 value.
    fn try_from(stored: String) -> Result<Phone, String> {
        if stored.starts_with('+')
            && stored.len() > 1
            && stored[1..].bytes().all(|b| b.is_ascii_digit())
        {
            Ok(Phone {
                e164: Some(stored.clone()),
                dialed: stored,
            })
        } else {
            Err(format!("not an E.164 number: {stored:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pl(input: &str) -> Option<String> {
        Phone::parse(input, Country::POLAND).map(String::from)
    }

    #[test]
    fn polish_number_is_read_in_every_usual_form() {
        for input in [
            "500600700",
            "500 600 700",
            "500-600-700",
            "48500600700",
            "+48500600700",
            "+48 500 600 700",
            "0048500600700",
            "(+48) 500.600.700",
        ] {
            assert_eq!(
                pl(input).as_deref(),
                Some("+48500600700"),
                "input {input:?}"
            );
        }
    }

    #[test]
    fn foreign_numbers_keep_their_country() {
        assert_eq!(pl("+79012222222").as_deref(), Some("+79012222222"));
        assert_eq!(pl("+4930123456").as_deref(), Some("+4930123456"));
        let russia = Country::parse("ru").expect("RU is a country");
        assert_eq!(
            Phone::parse("89012222222", russia)
                .map(String::from)
                .as_deref(),
            Some("+79012222222")
        );
    }

    #[test]
    fn placeholders_and_garbage_are_not_numbers() {
        for input in [
            "",
            "0",
            "123",
            "null",
            "guest",
            "+",
            "5006007001234567890123",
            "abc500600700",
        ] {
            assert_eq!(pl(input), None, "input {input:?}");
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        // A small deterministic fuzz: every string over the accepted alphabet up to a length,
        // sampled with a fixed-seed generator, must parse or be refused without panicking.
        let alphabet: Vec<char> = "0123456789 +-./()".chars().collect();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = (state % 41) as usize;
            let input: String = (0..len)
                .map(|i| alphabet[((state >> (i % 60)) as usize + i * 7) % alphabet.len()])
                .collect();
            let _ = Phone::parse(&input, Country::POLAND);
            let _ = Phone::dialable(&input, Country::POLAND);
        }
        let long = "9".repeat(10_000);
        assert_eq!(pl(&long), None);
    }

    #[test]
    fn the_tail_is_the_last_nine_digits() {
        let phone = Phone::parse("+48500600700", Country::POLAND).expect("valid");
        assert_eq!(phone.tail(), "500600700");
        let russian = Phone::parse("+79012222222", Country::POLAND).expect("valid");
        assert_eq!(russian.tail(), "012222222");
    }

    #[test]
    fn masking_hides_the_middle() {
        let phone = Phone::parse("+48500600700", Country::POLAND).expect("valid");
        assert_eq!(phone.masked(), "+48500***700");
    }

    #[test]
    fn dialable_numbers_keep_their_digits_next_to_e164() {
        let typed = Phone::dialable("0123456789", Country::POLAND).expect("dialable");
        assert_eq!(
            (typed.e164(), typed.dialed(), typed.as_str()),
            (None, "0123456789", "0123456789")
        );
        assert_eq!(typed.tail(), "123456789");
        let russia = Country::parse("RU").expect("RU");
        let trunk = Phone::dialable("8 (901) 222-22-22", russia).expect("dialable");
        assert_eq!(
            (trunk.e164(), trunk.dialed(), trunk.as_str()),
            (Some("+79012222222"), "89012222222", "+79012222222")
        );
        let extension = Phone::dialable("101", Country::POLAND).expect("extension");
        assert_eq!((extension.e164(), extension.as_str()), (None, "101"));
        for refused in [
            "12",
            "+",
            "1+2345",
            "abc123",
            "123456789012345678901",
            "+48 500 x",
        ] {
            assert_eq!(
                Phone::dialable(refused, Country::POLAND),
                None,
                "{refused:?}"
            );
        }
        assert_eq!(
            Phone::parse("0123456789", Country::POLAND),
            None,
            "strict parsing is unchanged"
        );
    }

    #[test]
    fn stored_phones_round_trip_and_old_records_stay_readable() {
        let old: Phone = serde_json::from_str("\"+48500600700\"").expect("old record");
        assert_eq!(old, pl_phone("500600700"));
        assert_eq!(
            serde_json::to_string(&old).expect("json"),
            "\"+48500600700\""
        );
        let russia = Country::parse("RU").expect("RU");
        for phone in [
            Phone::dialable("0123456789", Country::POLAND).expect("dialable"),
            Phone::dialable("89012222222", russia).expect("dialable"),
            Phone::dialable("+48 500 600 700", Country::POLAND).expect("dialable"),
        ] {
            let json = serde_json::to_string(&phone).expect("json");
            let back: Phone = serde_json::from_str(&json).expect("read back");
            assert_eq!(back, phone, "{json}");
        }
        assert!(serde_json::from_str::<Phone>("\"500600700\"").is_err());
        assert!(serde_json::from_str::<Phone>(r#"{"e164":null,"dialed":"x1"}"#).is_err());
    }

    fn pl_phone(input: &str) -> Phone {
        Phone::parse(input, Country::POLAND).expect("valid")
    }

    #[test]
    fn country_codes_round_trip() {
        assert_eq!(
            Country::parse("pl").map(Country::code).as_deref(),
            Some("PL")
        );
        assert_eq!(Country::parse("XX"), None);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Any text, in any country: a valid E.164 number or none, never a panic; a number read
        /// once reads the same again (normalisation is idempotent).
        #[test]
        fn any_text_is_a_phone_or_not(
            input in prop_oneof![any::<String>(), "[+0-9 ()./-]{0,24}", "\\+?[0-9]{5,17}"],
            country in prop_oneof![Just("PL"), Just("RU"), Just("DE"), Just("US"), Just("GB")],
        ) {
            let country = Country::parse(country).expect("country");
            if let Some(phone) = Phone::parse(&input, country) {
                prop_assert!(phone.as_str().starts_with('+'));
                prop_assert!(phone.as_str()[1..].bytes().all(|b| b.is_ascii_digit()));
                let again = Phone::parse(phone.as_str(), country);
                prop_assert_eq!(again.as_ref().map(Phone::as_str), Some(phone.as_str()));
                let _ = (phone.tail(), phone.masked());
            }
        }
    }
}
