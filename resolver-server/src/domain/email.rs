//! E-mail addresses: trimmed, lower-cased, the domain in IDNA ASCII form, then validated.
//! Matching is on this normalised form only.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest address accepted (the SerwerSMS field limit).
pub const MAX_EMAIL_LEN: usize = 255;

/// A normalised, valid e-mail address. Only constructible by parsing.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// Normalises and validates `input`: `  Jan@Bücher.Example ` becomes
    /// `jan@xn--bcher-kva.example`. Returns `None` when the result is not a valid address or is
    /// longer than [`MAX_EMAIL_LEN`].
    pub fn parse(input: &str) -> Option<Email> {
        let input = input.trim();
        if input.is_empty() || input.len() > MAX_EMAIL_LEN * 4 {
            return None;
        }
        let (local, domain) = input.rsplit_once('@')?;
        if local.is_empty() || domain.is_empty() {
            return None;
        }
        let domain = idna::domain_to_ascii(domain).ok()?;
        let normalised = format!("{}@{}", local.to_lowercase(), domain);
        if normalised.len() > MAX_EMAIL_LEN || !email_address::EmailAddress::is_valid(&normalised) {
            return None;
        }
        // A dotless domain (`jan@localhost`) is valid per RFC 5322 but never a customer's address.
        if !domain.contains('.') {
            return None;
        }
        Some(Email(normalised))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// For logs: `j***@example.com`.
    pub fn masked(&self) -> String {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".to_owned(),
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(input: &str) -> Option<String> {
        Email::parse(input).map(|e| e.as_str().to_owned())
    }

    #[test]
    fn addresses_are_trimmed_lowercased_and_punycoded() {
        assert_eq!(
            parse("  Jan.Kowalski@Example.COM ").as_deref(),
            Some("jan.kowalski@example.com")
        );
        assert_eq!(
            parse("jan@Bücher.example").as_deref(),
            Some("jan@xn--bcher-kva.example")
        );
        assert_eq!(
            parse("biuro@serwersms.pl").as_deref(),
            Some("biuro@serwersms.pl")
        );
    }

    #[test]
    fn invalid_addresses_are_refused() {
        for input in [
            "",
            "guest",
            "null",
            "@example.com",
            "jan@",
            "jan@@example.com",
            "jan@localhost",
            "jan doe@example.com",
        ] {
            assert_eq!(parse(input), None, "input {input:?}");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(parse(&long), None);
    }

    #[test]
    fn masking_keeps_only_the_first_letter() {
        assert_eq!(
            Email::parse("jan@example.com")
                .map(|e| e.masked())
                .as_deref(),
            Some("j***@example.com")
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(crate::proptest_config())]

        /// Any text: a normalised address or none, never a panic; normalising twice changes
        /// nothing.
        #[test]
        fn any_text_is_an_address_or_not(
            input in prop_oneof![any::<String>(), "[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9.-]{1,20}", " ?.{0,10}@.{0,10} ?"],
        ) {
            if let Some(email) = Email::parse(&input) {
                let again = Email::parse(email.as_str());
                prop_assert_eq!(again.as_ref().map(Email::as_str), Some(email.as_str()));
                let _ = email.masked();
            }
        }
    }
}
