//! Phone numbers: parsed once at the edge into E.164 with libphonenumber's metadata (the
//! `phonenumber` crate). Inside the domain a [`Phone`] is always valid.

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

/// A phone number in E.164 form (`+48500600700`). Only constructible by parsing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

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

    /// The E.164 form, `+` and digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last nine digits (fewer for shorter numbers): what stays the same however a PBX
    /// writes the number (`0123456789`, `8 012 345 67 89`, `+7 012 345-67-89`).
    pub fn tail(&self) -> &str {
        let digits = &self.0[1..];
        &digits[digits.len().saturating_sub(TAIL_DIGITS)..]
    }

    /// For logs: the number with its middle digits hidden (`+48500***700`).
    pub fn masked(&self) -> String {
        let chars: Vec<char> = self.0.chars().collect();
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
        Some(Phone(
            number.format().mode(phonenumber::Mode::E164).to_string(),
        ))
    }))
    .ok()
    .flatten()
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<Phone> for String {
    fn from(phone: Phone) -> String {
        phone.0
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
            Ok(Phone(stored))
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
