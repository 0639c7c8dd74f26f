//! Accounts and their credentials: users with argon2-hashed passwords, API tokens kept only as
//! SHA-256 digests, and registered website domains with their site keys.

use super::error::{DomainError, DomainResult, Entity};
use super::ids::AccountId;
use super::limits::{WindowCounter, DEFAULT_CAPACITY};
use super::model::{now_millis, Account, ApiToken, ApiUser, Language, Principal, SiteDomain};
use super::phone::Country;
use super::text::check_text;
use crate::store::Store;
use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// Why a credential was refused. Callers map each to their API's error; none says whether a
/// user name exists.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthFailure {
    #[error("wrong user name or password")]
    BadPassword,
    #[error("unknown or revoked token")]
    UnknownToken,
    #[error("expired token")]
    ExpiredToken,
    /// Too many wrong passwords for this user name from this address: refused without checking
    /// the password until the window ends.
    #[error("too many failed logins")]
    Throttled { retry_after: Duration },
}

/// The brute-force limit of password logins, the same for every API: after
/// [`LoginThrottle::LIMIT`] failed attempts for one user name from one client address within
/// [`LoginThrottle::WINDOW`], that pair's password attempts are refused — even with the right
/// password, and without spending argon2 time — until the window ends. Other addresses and
/// tokens are unaffected. Memory is bounded ([`WindowCounter`]).
#[derive(Debug)]
pub struct LoginThrottle {
    failures: WindowCounter<(IpAddr, String)>,
}

impl LoginThrottle {
    pub const LIMIT: u32 = 10;
    pub const WINDOW: Duration = Duration::from_secs(600);

    /// `limit` failures per (address, user name) in `window`.
    pub fn new(limit: u32, window: Duration) -> LoginThrottle {
        LoginThrottle {
            failures: WindowCounter::new(limit, window, DEFAULT_CAPACITY),
        }
    }
}

impl Default for LoginThrottle {
    fn default() -> LoginThrottle {
        LoginThrottle::new(LoginThrottle::LIMIT, LoginThrottle::WINDOW)
    }
}

/// Who is trying a password: the throttle and the client's address (`http::client_address`).
#[derive(Clone, Copy, Debug)]
pub struct LoginAttempt<'a> {
    pub throttle: &'a LoginThrottle,
    pub client: IpAddr,
}

const MILLIS_PER_DAY: i64 = 86_400_000;

/// Creates an account. `country` (ISO alpha-2, default PL) reads phone numbers typed without a
/// prefix.
pub fn create_account(store: &Store, name: &str, country: Option<&str>) -> DomainResult<Account> {
    create_account_with_language(store, name, country, Language::Pl)
}

/// [`create_account`] with the language of the messages its site visitors read (trackUser).
pub fn create_account_with_language(
    store: &Store,
    name: &str,
    country: Option<&str>,
    language: Language,
) -> DomainResult<Account> {
    let name = name.trim();
    if name.is_empty() {
        return Err(DomainError::MissingField { field: "name" });
    }
    check_text("name", name, 100)?;
    let country = match country {
        Some(code) => Country::parse(code).ok_or(DomainError::InvalidField {
            field: "country",
            reason: "not an ISO 3166-1 alpha-2 code",
        })?,
        None => Country::POLAND,
    };
    let account = Account {
        id: AccountId(store.next_id()?),
        name: name.to_owned(),
        country: country.code(),
        language,
        created_at: now_millis(),
    };
    store.insert_account(&account)?;
    Ok(account)
}

/// Finds an account by name.
pub fn account_named(store: &Store, name: &str) -> DomainResult<Account> {
    store
        .account_by_name(name.trim())?
        .ok_or(DomainError::NotFound(Entity::Account))
}

fn check_username(username: &str) -> DomainResult<()> {
    if username.is_empty() {
        return Err(DomainError::MissingField { field: "username" });
    }
    if username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._@-".contains(c))
    {
        return Err(DomainError::InvalidField {
            field: "username",
            reason: "use up to 64 letters, digits and . _ @ -",
        });
    }
    Ok(())
}

/// Adds an API user with an argon2id-hashed password (at least 8 characters).
pub fn add_user(
    store: &Store,
    account: AccountId,
    username: &str,
    password: &str,
) -> DomainResult<ApiUser> {
    check_username(username)?;
    if password.chars().count() < 8 {
        return Err(DomainError::InvalidField {
            field: "password",
            reason: "use at least 8 characters",
        });
    }
    let salt = SaltString::generate(&mut OsRng);
    let password_hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|_| DomainError::InvalidField {
            field: "password",
            reason: "cannot be hashed",
        })?
        .to_string();
    let user = ApiUser {
        username: username.to_owned(),
        password_hash,
        created_at: now_millis(),
    };
    store.insert_user(account, &user)?;
    Ok(user)
}

/// A hash of a password nobody knows, verified when the user name is unknown so that a wrong
/// name costs the same time as a wrong password.
static DECOY_HASH: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(b"decoy password never used", &salt)
        .map(|hash| hash.to_string())
        .unwrap_or_default()
});

fn password_matches(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Checks a login and password, under the brute-force limit ([`LoginThrottle`]). Slow on
/// purpose (argon2); run it off the async workers.
pub fn authenticate_password(
    store: &Store,
    attempt: LoginAttempt<'_>,
    username: &str,
    password: &str,
) -> DomainResult<Result<Principal, AuthFailure>> {
    // The name as typed, cut to a bounded key (longer names never exist: see check_username).
    let name: String = username.chars().take(128).collect();
    let key = (attempt.client, name);
    let attempts = &attempt.throttle.failures;
    // Counted before the check, so parallel guesses cannot slip past the limit; a success
    // clears the count, so what remains counted are the failures.
    if let Err(retry_after) = attempts.count(key.clone(), Instant::now()) {
        return Ok(Err(AuthFailure::Throttled { retry_after }));
    }
    let outcome = check_password(store, username, password)?;
    if outcome.is_ok() {
        attempts.forget(&key);
    }
    Ok(outcome)
}

fn check_password(
    store: &Store,
    username: &str,
    password: &str,
) -> DomainResult<Result<Principal, AuthFailure>> {
    match store.user_by_name(username)? {
        Some((account, user)) if password_matches(&user.password_hash, password) => {
            Ok(Ok(Principal {
                account,
                username: Some(user.username),
            }))
        }
        Some(_) => Ok(Err(AuthFailure::BadPassword)),
        None => {
            password_matches(&DECOY_HASH, password);
            Ok(Err(AuthFailure::BadPassword))
        }
    }
}

/// Checks a login with its password or, in place of the password, an API token of the same
/// account (TelefUM and Thulium send a login with either). The principal acts as that login.
/// Only the password form is throttled: a token is 192 random bits, and a valid one is never
/// refused.
pub fn authenticate_login(
    store: &Store,
    attempt: LoginAttempt<'_>,
    login: &str,
    secret: &str,
) -> DomainResult<Result<Principal, AuthFailure>> {
    if !secret.trim_start().starts_with(TOKEN_PREFIX) {
        return authenticate_password(store, attempt, login, secret);
    }
    let by_token = authenticate_token(store, secret)?;
    let owner = store.user_by_name(login)?.map(|(account, _)| account);
    Ok(by_token.and_then(|principal| {
        if owner == Some(principal.account) {
            Ok(Principal {
                account: principal.account,
                username: Some(login.to_owned()),
            })
        } else {
            Err(AuthFailure::BadPassword)
        }
    }))
}

fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Checks an API token. Tokens are 192 random bits, so a plain SHA-256 is the right digest:
/// nothing to slow down against guessing.
pub fn authenticate_token(
    store: &Store,
    token: &str,
) -> DomainResult<Result<Principal, AuthFailure>> {
    let token = token.trim();
    if !token.starts_with(TOKEN_PREFIX) || token.len() > 128 {
        return Ok(Err(AuthFailure::UnknownToken));
    }
    let Some((account, record)) = store.token_by_sha256(&sha256_hex(token))? else {
        return Ok(Err(AuthFailure::UnknownToken));
    };
    if record.revoked_at.is_some() {
        return Ok(Err(AuthFailure::UnknownToken));
    }
    if record.expires_at.is_some_and(|at| at <= now_millis()) {
        return Ok(Err(AuthFailure::ExpiredToken));
    }
    Ok(Ok(Principal {
        account,
        username: record.username,
    }))
}

const TOKEN_PREFIX: &str = "ssrm_";

/// A freshly created token: `secret` is shown once and never stored.
#[derive(Debug)]
pub struct NewToken {
    pub secret: String,
    pub record: ApiToken,
}

fn random_hex(bytes: usize) -> String {
    let mut buffer = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// Creates an API token, optionally acting as `username` and expiring after `expires_days`.
pub fn create_token(
    store: &Store,
    account: AccountId,
    username: Option<&str>,
    expires_days: Option<u32>,
) -> DomainResult<NewToken> {
    if let Some(username) = username {
        store
            .user(account, username)?
            .ok_or(DomainError::NotFound(Entity::User))?;
    }
    store
        .account(account)?
        .ok_or(DomainError::NotFound(Entity::Account))?;
    let random = random_hex(24);
    let secret = format!("{TOKEN_PREFIX}{random}");
    let now = now_millis();
    let record = ApiToken {
        prefix: random[..8].to_owned(),
        sha256: sha256_hex(&secret),
        username: username.map(str::to_owned),
        created_at: now,
        expires_at: expires_days.map(|days| now + i64::from(days) * MILLIS_PER_DAY),
        revoked_at: None,
    };
    store.insert_token(account, &record)?;
    Ok(NewToken { secret, record })
}

/// Revokes the token whose public prefix is `prefix` (the first characters after `ssrm_`; the
/// whole token is accepted too).
pub fn revoke_token(store: &Store, account: AccountId, prefix: &str) -> DomainResult<ApiToken> {
    let prefix = prefix.trim().trim_start_matches(TOKEN_PREFIX);
    let prefix = prefix.get(..8).unwrap_or(prefix);
    store.revoke_token(account, prefix, now_millis())
}

/// Reads a host name as a site owner types it (`https://Shop.Example.com/`, `sklep.pl`) into
/// lower-case IDNA ASCII without scheme, port or path.
pub fn normalise_domain(input: &str) -> DomainResult<String> {
    let invalid = || DomainError::InvalidField {
        field: "domain",
        reason: "not a host name",
    };
    let input = input.trim();
    if input.is_empty() {
        return Err(DomainError::MissingField { field: "domain" });
    }
    // Typed as a host or pasted as an address: read by the WHATWG URL parser (the one
    // browsers use for the `Origin` this is matched against), which lowercases the host,
    // writes an IDN host in punycode and drops port, path and query.
    let address = if input.contains("://") {
        input.to_owned()
    } else {
        format!("http://{input}")
    };
    let ascii = match url::Url::parse(&address) {
        Ok(url) => match url.host() {
            Some(url::Host::Domain(domain)) => domain.trim_end_matches('.').to_owned(),
            Some(url::Host::Ipv4(address)) => address.to_string(),
            Some(url::Host::Ipv6(_)) | None => return Err(invalid()),
        },
        Err(url::ParseError::EmptyHost) => {
            return Err(DomainError::MissingField { field: "domain" })
        }
        Err(_) => return Err(invalid()),
    };
    if ascii.is_empty()
        || ascii.len() > 253
        || !ascii
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(invalid());
    }
    Ok(ascii)
}

/// Registers a website domain for the account and gives it a public site key and a secret for
/// identity verification.
pub fn add_domain(store: &Store, account: AccountId, domain: &str) -> DomainResult<SiteDomain> {
    let name = normalise_domain(domain)?;
    let domain = SiteDomain {
        name,
        site_key: random_hex(12),
        secret: random_hex(32),
        require_hash: false,
        honour_browser_signals: false,
        created_at: now_millis(),
    };
    store.insert_domain(account, &domain)?;
    Ok(domain)
}

/// Switches identity verification on for a domain: trackUser then needs a valid HMAC.
pub fn require_hash(store: &Store, account: AccountId, domain: &str) -> DomainResult<SiteDomain> {
    set_require_hash(store, account, domain, true)
}

/// Switches identity verification on or off for a domain.
pub fn set_require_hash(
    store: &Store,
    account: AccountId,
    domain: &str,
    required: bool,
) -> DomainResult<SiteDomain> {
    let name = normalise_domain(domain)?;
    store.update_domain(account, &name, |domain| domain.require_hash = required)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> Store {
        Store::open_temporary().expect("temporary store")
    }

    #[test]
    fn a_domain_is_read_as_typed_or_pasted_and_stored_in_ascii() {
        for (typed, stored) in [
            ("shop.example.com", "shop.example.com"),
            (
                "  https://Sklep.Example.com/cennik?x=1 ",
                "sklep.example.com",
            ),
            ("shop.example.com:8443", "shop.example.com"),
            ("shop.example.com.", "shop.example.com"),
            ("127.0.0.1", "127.0.0.1"),
        ] {
            assert_eq!(normalise_domain(typed).expect(typed), stored, "{typed}");
        }
        let idn = normalise_domain("Sklep-Żółw.pl").expect("IDN");
        assert!(idn.starts_with("xn--") && idn.ends_with(".pl"), "{idn}");
        assert!(matches!(
            normalise_domain("  "),
            Err(DomainError::MissingField { field: "domain" })
        ));
        for refused in [
            "not a host!",
            "a b.example.com",
            "[::1]",
            "http://[::1]:80",
            "https://",
        ] {
            assert!(
                matches!(
                    normalise_domain(refused),
                    Err(DomainError::InvalidField { .. } | DomainError::MissingField { .. })
                ),
                "{refused}"
            );
        }
    }

    fn attempt(throttle: &LoginThrottle, last_octet: u8) -> LoginAttempt<'_> {
        LoginAttempt {
            throttle,
            client: IpAddr::from([192, 0, 2, last_octet]),
        }
    }

    #[test]
    fn password_login_finds_the_account_and_refuses_a_wrong_password() {
        let store = store();
        let throttle = LoginThrottle::default();
        let from = attempt(&throttle, 1);
        let account = create_account(&store, "shop", None).expect("account");
        add_user(&store, account.id, "jan", "correct horse").expect("user");
        let principal = authenticate_password(&store, from, "jan", "correct horse")
            .expect("store")
            .expect("login");
        assert_eq!(principal.account, account.id);
        assert_eq!(
            authenticate_password(&store, from, "jan", "wrong").expect("store"),
            Err(AuthFailure::BadPassword)
        );
        assert_eq!(
            authenticate_password(&store, from, "nobody", "x").expect("store"),
            Err(AuthFailure::BadPassword)
        );
    }

    #[test]
    fn ten_failures_refuse_the_pair_even_with_the_right_password_but_not_others() {
        let store = store();
        let throttle = LoginThrottle::default();
        let account = create_account(&store, "shop", None).expect("account");
        add_user(&store, account.id, "jan", "correct horse").expect("user");
        let token = create_token(&store, account.id, Some("jan"), None).expect("token");
        let from = attempt(&throttle, 1);
        for _ in 0..LoginThrottle::LIMIT {
            assert_eq!(
                authenticate_password(&store, from, "jan", "wrong").expect("store"),
                Err(AuthFailure::BadPassword)
            );
        }
        let refused = authenticate_password(&store, from, "jan", "correct horse").expect("store");
        assert!(
            matches!(refused, Err(AuthFailure::Throttled { retry_after }) if retry_after <= LoginThrottle::WINDOW),
            "{refused:?}"
        );
        assert!(matches!(
            authenticate_login(&store, from, "jan", "correct horse").expect("store"),
            Err(AuthFailure::Throttled { .. })
        ));
        // Another address, and a token from the same address, still get in.
        assert!(
            authenticate_password(&store, attempt(&throttle, 2), "jan", "correct horse")
                .expect("store")
                .is_ok()
        );
        assert!(authenticate_login(&store, from, "jan", &token.secret)
            .expect("store")
            .is_ok());
    }

    #[test]
    fn a_success_clears_earlier_failures() {
        let store = store();
        let throttle = LoginThrottle::new(2, LoginThrottle::WINDOW);
        let account = create_account(&store, "shop", None).expect("account");
        add_user(&store, account.id, "jan", "correct horse").expect("user");
        let from = attempt(&throttle, 1);
        let _ = authenticate_password(&store, from, "jan", "wrong").expect("store");
        assert!(authenticate_password(&store, from, "jan", "correct horse")
            .expect("store")
            .is_ok());
        let _ = authenticate_password(&store, from, "jan", "wrong").expect("store");
        assert!(authenticate_password(&store, from, "jan", "correct horse")
            .expect("store")
            .is_ok());
    }

    #[test]
    fn tokens_authenticate_until_revoked_and_only_their_digest_is_stored() {
        let store = store();
        let account = create_account(&store, "shop", None).expect("account");
        let token = create_token(&store, account.id, None, None).expect("token");
        assert!(!token.record.sha256.contains(&token.secret));
        assert_eq!(
            authenticate_token(&store, &token.secret)
                .expect("store")
                .map(|p| p.account),
            Ok(account.id)
        );
        revoke_token(&store, account.id, &token.record.prefix).expect("revoke");
        assert_eq!(
            authenticate_token(&store, &token.secret).expect("store"),
            Err(AuthFailure::UnknownToken)
        );
    }

    #[test]
    fn an_expired_token_is_refused_as_expired() {
        let store = store();
        let account = create_account(&store, "shop", None).expect("account");
        let token = create_token(&store, account.id, None, Some(0)).expect("token");
        assert_eq!(
            authenticate_token(&store, &token.secret).expect("store"),
            Err(AuthFailure::ExpiredToken)
        );
    }

    #[test]
    fn domains_are_normalised_and_found_by_site_key() {
        let store = store();
        let account = create_account(&store, "shop", None).expect("account");
        let domain = add_domain(&store, account.id, "https://Sklep.Example.COM:8443/koszyk")
            .expect("domain");
        assert_eq!(domain.name, "sklep.example.com");
        let (owner, found) = store
            .domain_by_site_key(&domain.site_key)
            .expect("store")
            .expect("found");
        assert_eq!((owner, found.name), (account.id, domain.name));
        assert!(add_domain(&store, account.id, "not a host!").is_err());
    }

    #[test]
    fn account_names_and_user_names_are_unique() {
        let store = store();
        let first = create_account(&store, "shop", None).expect("account");
        assert!(matches!(
            create_account(&store, "shop", None),
            Err(DomainError::AlreadyExists(Entity::Account))
        ));
        let second = create_account(&store, "other", Some("de")).expect("account");
        assert_eq!(second.country, "DE");
        add_user(&store, first.id, "jan", "password1").expect("user");
        assert!(matches!(
            add_user(&store, second.id, "jan", "password2"),
            Err(DomainError::AlreadyExists(Entity::User))
        ));
    }
}
