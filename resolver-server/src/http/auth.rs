//! Credentials as the APIs carry them: the `Authorization` header's scheme (matched without
//! regard to case, as RFC 9110 says) and the password attempt every API makes through the
//! domain's one brute-force throttle ([`domain::LoginThrottle`]).

use super::{client_address, AppState};
use crate::domain::{self, LoginThrottle};
use actix_web::http::header;
use actix_web::HttpRequest;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

/// The credentials of `Authorization: <scheme> <credentials>` when the scheme is `scheme` in any
/// case (`Bearer`, `bearer`, `BEARER`).
pub fn authorization<'r>(request: &'r HttpRequest, scheme: &str) -> Option<&'r str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (given, credentials) = value.split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then(|| credentials.trim())
}

/// A password attempt from this request's client, owned so it can move to the blocking pool
/// with the argon2 check.
pub struct Attempt {
    throttle: Arc<LoginThrottle>,
    client: IpAddr,
}

impl Attempt {
    pub fn of(request: &HttpRequest, state: &AppState) -> Attempt {
        Attempt {
            throttle: Arc::clone(&state.login_throttle),
            client: client_address(request, state.client_address),
        }
    }

    pub fn get(&self) -> domain::LoginAttempt<'_> {
        domain::LoginAttempt {
            throttle: &self.throttle,
            client: self.client,
        }
    }
}

/// `Retry-After` in whole seconds, rounded up (never 0: "now" would invite an immediate retry).
pub fn retry_after_seconds(wait: Duration) -> u64 {
    (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn scheme_of(value: &str, scheme: &str) -> Option<String> {
        let request = TestRequest::default()
            .insert_header((header::AUTHORIZATION, value))
            .to_http_request();
        authorization(&request, scheme).map(str::to_owned)
    }

    #[test]
    fn schemes_match_in_any_case() {
        for value in ["Bearer abc", "bearer abc", "BEARER  abc", "BeArEr abc "] {
            assert_eq!(
                scheme_of(value, "Bearer").as_deref(),
                Some("abc"),
                "{value}"
            );
        }
        assert_eq!(scheme_of("Basic abc", "Bearer"), None);
        assert_eq!(scheme_of("Bearerabc", "Bearer"), None);
        assert_eq!(
            scheme_of("basic dXNlcjpwYXNz", "Basic").as_deref(),
            Some("dXNlcjpwYXNz")
        );
    }

    #[test]
    fn retry_after_rounds_up_and_is_never_zero() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::ZERO), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(600)), 600);
        assert_eq!(retry_after_seconds(Duration::from_millis(1500)), 2);
    }
}
