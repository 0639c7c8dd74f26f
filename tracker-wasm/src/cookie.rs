//! The first-party cookie `ssrm_user` (spec/tracker.md, "The cookie `ssrm_user`"): its name,
//! attributes, reading and writing. It never decides whether consent allows writing: callers do.

use crate::browser;
use crate::suid;
use alloc::string::String;

/// About 13 months (395 days), under the 400-day cap browsers put on cookie lifetimes.
const MAX_AGE_SECONDS: &str = "34128000";

/// Where and how the cookie is written.
pub struct Scope<'a> {
    /// `Domain=` to share the cookie across subdomains (`setCookieDomain`); host-only when `None`.
    pub domain: Option<&'a str>,
    /// The page is https, so the cookie gets `Secure`.
    pub secure: bool,
}

/// The valid suid in `ssrm_user`, if the page can read cookies and one is there.
pub fn read() -> Option<String> {
    browser::DOCUMENT
        .with(browser::Document::cookie)
        .ok()
        .and_then(|cookies| suid_in(&cookies))
}

/// Writes `suid` with a fresh `Max-Age`. With a domain, the
/// host-only copy is removed first so that one value is visible; a domain the browser refuses
/// falls back to a host-only cookie, so the visitor keeps one suid from page to page.
pub fn write(suid: &str, scope: &Scope) {
    if scope.domain.is_some() {
        set(&header(
            None,
            &Scope {
                domain: None,
                ..*scope
            },
        ));
        set(&header(Some(suid), scope));
        if read().as_deref() == Some(suid) {
            return;
        }
        browser::warn(
            "ssrm: the browser refused the cookie domain; using a host-only cookie",
            &scope.domain.into(),
        );
    }
    set(&header(
        Some(suid),
        &Scope {
            domain: None,
            ..*scope
        },
    ));
}

/// Deletes the cookie, host-only and (when `scope` has one) for the domain.
pub fn delete(scope: &Scope) {
    set(&header(
        None,
        &Scope {
            domain: None,
            ..*scope
        },
    ));
    if scope.domain.is_some() {
        set(&header(None, scope));
    }
}

fn set(header: &str) {
    // Setting can throw only in sandboxed documents without cookies; the memory suid covers that.
    let _ = browser::DOCUMENT.with(|document| document.set_cookie(header));
}

/// The first valid suid among the `ssrm_user` pairs of a `document.cookie` string.
fn suid_in(cookies: &str) -> Option<String> {
    // Bytes, not `str` patterns: the same result without the string-searching code in the bundle.
    cookies
        .as_bytes()
        .split(|byte| *byte == b';')
        .filter_map(|pair| pair.trim_ascii_start().strip_prefix(b"ssrm_user="))
        .find_map(suid::parse)
}

/// The `document.cookie` assignment for `value`; `None` expires the cookie.
fn header(value: Option<&str>, scope: &Scope) -> String {
    let mut header = String::with_capacity(112);
    header.push_str("ssrm_user=");
    header.push_str(value.unwrap_or(""));
    header.push_str("; Path=/; SameSite=Lax; Max-Age=");
    header.push_str(if value.is_some() {
        MAX_AGE_SECONDS
    } else {
        "0"
    });
    if scope.secure {
        header.push_str("; Secure");
    }
    if let Some(domain) = scope.domain {
        header.push_str("; Domain=");
        header.push_str(domain);
    }
    header
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUID: &str = "13557003-54df-49ed-8faf-c2df2e67edd3";

    #[test]
    fn the_first_valid_ssrm_user_is_found_among_other_cookies() {
        let cookies = "a=1; ssrm_user=guest; x_ssrm_user=00000000-0000-4000-8000-000000000001; ssrm_user=13557003-54DF-49ed-8faf-c2df2e67edd3; b=2";
        assert_eq!(suid_in(cookies).as_deref(), Some(SUID));
    }

    #[test]
    fn no_valid_ssrm_user_means_no_suid() {
        assert_eq!(suid_in(""), None);
        assert_eq!(suid_in("ssrm_user=; other=1"), None);
        assert_eq!(
            suid_in("ssrm_user_old=13557003-54df-49ed-8faf-c2df2e67edd3"),
            None
        );
    }

    #[test]
    fn a_host_only_cookie_on_http_has_no_domain_and_no_secure() {
        let scope = Scope {
            domain: None,
            secure: false,
        };
        assert_eq!(
            header(Some(SUID), &scope),
            "ssrm_user=13557003-54df-49ed-8faf-c2df2e67edd3; Path=/; SameSite=Lax; Max-Age=34128000"
        );
    }

    #[test]
    fn a_shared_cookie_on_https_is_secure_with_a_domain() {
        let scope = Scope {
            domain: Some(".example.com"),
            secure: true,
        };
        assert_eq!(
            header(Some(SUID), &scope),
            "ssrm_user=13557003-54df-49ed-8faf-c2df2e67edd3; Path=/; SameSite=Lax; Max-Age=34128000; Secure; Domain=.example.com"
        );
    }

    #[test]
    fn deleting_expires_the_cookie_at_once() {
        let scope = Scope {
            domain: Some(".example.com"),
            secure: false,
        };
        assert_eq!(
            header(None, &scope),
            "ssrm_user=; Path=/; SameSite=Lax; Max-Age=0; Domain=.example.com"
        );
    }
}
