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
    let (scheme, rest) = origin.trim().split_once("://")?;
    if !matches!(scheme, "http" | "https") || rest.contains('/') {
        return None;
    }
    let host = if let Some(stripped) = rest.strip_prefix('[') {
        stripped.split(']').next()?
    } else {
        rest.rsplit_once(':').map_or(rest, |(host, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                host
            } else {
                rest
            }
        })
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}
