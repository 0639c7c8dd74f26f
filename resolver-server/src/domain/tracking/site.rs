//! The site a tracker report belongs to: by site key and the page's origin, or by the origin
//! alone when one account owns the longest matching registered domain.

use super::*;

/// The site a tracker report belongs to: the domain named by `site_key`, provided the page's
/// `origin` (`https://shop.example.com:8443`) is that domain or one of its subdomains; with an
/// empty `site_key`, the domain the origin alone decides (see `site_of_host`).
pub fn site_for_origin(
    store: &Store,
    site_key: &str,
    origin: &str,
) -> DomainResult<Option<(AccountId, SiteDomain)>> {
    let Some(host) = origin_host(origin) else {
        return Ok(None);
    };
    if site_key.is_empty() {
        return site_of_host(store, &host);
    }
    if site_key.len() > 64 {
        return Ok(None);
    }
    let Some((account, domain)) = store.domain_by_site_key(site_key)? else {
        return Ok(None);
    };
    let matches = host == domain.name
        || host
            .strip_suffix(&domain.name)
            .is_some_and(|rest| rest.ends_with('.'));
    Ok(matches.then_some((account, domain)))
}

/// The site of a page whose report names no site key: the longest registered domain that is
/// `host` or a parent of it, when exactly one account registered it. A domain two accounts
/// share (stores from before domains were unique) decides nothing: such pages need `setSite`.
fn site_of_host(store: &Store, host: &str) -> DomainResult<Option<(AccountId, SiteDomain)>> {
    let mut candidate = host;
    loop {
        let owners = store.domain_owners(candidate)?;
        match owners[..] {
            [account] => return Ok(store.domain(account, candidate)?.map(|d| (account, d))),
            [] => {}
            [_, _, ..] => return Ok(None),
        }
        match candidate.split_once('.') {
            Some((_, parent)) if !parent.is_empty() => candidate = parent,
            _ => return Ok(None),
        }
    }
}

/// The domain names two or more accounts registered (possible only in stores from before
/// domains were unique), after bringing the domain → owner index up to date. The server warns
/// about each at start: pages of such a domain are recognised only by their site key.
pub fn shared_domains(store: &Store) -> DomainResult<Vec<String>> {
    Ok(store
        .rebuild_domain_owners()?
        .into_iter()
        .filter(|(_, owners)| owners.len() > 1)
        .map(|(name, _)| name)
        .collect())
}

/// The lower-case host of an `Origin` header value; `None` for `null` or anything malformed.
fn origin_host(origin: &str) -> Option<String> {
    // An origin is scheme, host and port only (RFC 6454): parsed with the WHATWG URL parser
    // browsers use, which also lowercases the host and writes IDN hosts in punycode.
    let url = url::Url::parse(origin.trim()).ok()?;
    let bare = url.path() == "/"
        && !origin.trim().ends_with('/')
        && url.query().is_none()
        && url.fragment().is_none()
        && url.username().is_empty()
        && url.password().is_none();
    if !matches!(url.scheme(), "http" | "https") || !bare {
        return None;
    }
    match url.host()? {
        url::Host::Domain(domain) => Some(domain.to_owned()),
        url::Host::Ipv4(address) => Some(address.to_string()),
        url::Host::Ipv6(address) => Some(address.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::origin_host;

    #[test]
    fn origin_hosts_are_read_as_browsers_read_them() {
        let host = |origin: &str| origin_host(origin);
        assert_eq!(
            host("https://shop.example.com").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(
            host("https://Shop.Example.COM:8443").as_deref(),
            Some("shop.example.com")
        );
        assert_eq!(
            host("http://shop.example.com.").as_deref(),
            Some("shop.example.com.")
        );
        // The same ASCII form a domain registered in Unicode is stored in.
        let registered = crate::domain::normalise_domain("sklep-żółw.pl").expect("IDN");
        assert!(registered.starts_with("xn--"), "{registered}");
        assert_eq!(host("https://sklep-żółw.pl"), Some(registered));
        assert_eq!(host("http://127.0.0.1:8080").as_deref(), Some("127.0.0.1"));
        assert_eq!(host("http://[::1]:8080").as_deref(), Some("::1"));
        for refused in [
            "null",
            "",
            "shop.example.com",
            "ftp://shop.example.com",
            "https://shop.example.com/path",
            "https://shop.example.com/",
            "https://user:pass@shop.example.com",
            "https://shop.example.com?x=1",
            "javascript:alert(1)",
            "https://",
        ] {
            assert_eq!(host(refused), None, "{refused:?}");
        }
    }
}
