//! The suid, the visitor id kept in the `ssrm_user` cookie: parsing and formatting only.
//! Plain Rust with no browser calls, so it is tested on the host; randomness comes from the caller.

use alloc::string::String;

/// The canonical form of `text` (bytes of a JS string) if it is a hyphenated UUID (8-4-4-4-12 hex digits, any case, not
/// the nil UUID): the same digits in lower case. Anything else is not a suid and gets replaced.
pub fn parse(text: &[u8]) -> Option<String> {
    let bytes = text;
    if bytes.len() != 36 {
        return None;
    }
    let mut any_nonzero = false;
    for (index, byte) in bytes.iter().enumerate() {
        let fits = match index {
            8 | 13 | 18 | 23 => *byte == b'-',
            _ => byte.is_ascii_hexdigit(),
        };
        if !fits {
            return None;
        }
        any_nonzero |= byte.is_ascii_alphanumeric() && *byte != b'0';
    }
    // Only ASCII hex digits and hyphens got here, so each byte is one char.
    any_nonzero.then(|| {
        bytes
            .iter()
            .map(|byte| char::from(byte.to_ascii_lowercase()))
            .collect()
    })
}

/// A version-4 (random), RFC 9562 variant UUID in lower case, built from 16 random bytes.
pub fn from_random_bytes(mut bytes: [u8; 16]) -> String {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let mut text = String::with_capacity(36);
    for (index, byte) in bytes.iter().enumerate() {
        if matches!(index, 4 | 6 | 8 | 10) {
            text.push('-');
        }
        text.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lowercase_uuid_is_kept_as_it_is() {
        let suid = "13557003-54df-49ed-8faf-c2df2e67edd3";
        assert_eq!(parse(suid.as_bytes()).as_deref(), Some(suid));
    }

    #[test]
    fn an_uppercase_uuid_is_lowercased() {
        assert_eq!(
            parse(b"13557003-54DF-49ED-8FAF-C2DF2E67EDD3").as_deref(),
            Some("13557003-54df-49ed-8faf-c2df2e67edd3")
        );
    }

    #[test]
    fn placeholders_and_malformed_values_are_not_suids() {
        for text in [
            "",
            "null",
            "undefined",
            "00000000-0000-0000-0000-000000000000",
            "13557003-54df-49ed-8faf-c2df2e67edd",
            "13557003-54df-49ed-8faf-c2df2e67edd3a",
            "13557003_54df-49ed-8faf-c2df2e67edd3",
            "1355700354df-49ed-8faf-c2df2e67edd3a",
            "g3557003-54df-49ed-8faf-c2df2e67edd3",
            "13557003-54df-49ed-8faf-c2df2e67édd",
        ] {
            assert_eq!(parse(text.as_bytes()), None, "{text:?}");
        }
    }

    #[test]
    fn random_bytes_become_a_version_4_uuid() {
        let suid = from_random_bytes([0xff; 16]);
        assert_eq!(suid, "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert_eq!(
            from_random_bytes([0; 16]),
            "00000000-0000-4000-8000-000000000000"
        );
        assert_eq!(parse(suid.as_bytes()).as_deref(), Some(suid.as_str()));
    }
}
