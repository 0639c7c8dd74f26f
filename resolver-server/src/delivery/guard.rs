//! Where deliveries may go: by default only to public internet addresses (no loopback, private,
//! link-local or similar networks: a rule must not become a way into the server's own
//! network). The check runs on the resolved addresses, before the attempt and again inside the
//! HTTP client's resolver, so a name that changes its answer in between still cannot reach a
//! private address.

use super::ATTEMPT_TIMEOUT;
use crate::domain::is_public_address;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

/// Which targets the worker delivers to.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TargetPolicy {
    /// Public addresses only (the default).
    #[default]
    PublicOnly,
    /// Any address, private networks included (`serve --allow-private-targets`; tests).
    AllowPrivate,
}

/// The reason a target is refused, as the delivery's log shows it.
pub const REFUSED: &str = "adres docelowy w sieci prywatnej lub lokalnej (SSRF): nie wysłano";

/// Resolves names to their public addresses only.
struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0))
                .await?
                .filter(|address| is_public_address(address.ip()))
                .collect();
            if found.is_empty() {
                return Err(REFUSED.into());
            }
            let addresses: Addrs = Box::new(found.into_iter());
            Ok(addresses)
        })
    }
}

/// The HTTP client of every delivery: 10 s per attempt, no redirects (a redirect could lead
/// anywhere), rustls.
pub fn client(policy: TargetPolicy) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .timeout(ATTEMPT_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("ssrm/", env!("CARGO_PKG_VERSION")));
    let builder = match policy {
        TargetPolicy::PublicOnly => builder.dns_resolver(Arc::new(PublicOnly)),
        TargetPolicy::AllowPrivate => builder,
    };
    builder
        .build()
        .expect("a client with a timeout and rustls always builds")
}

/// Whether `url` may be delivered to: `Err` with the reason if it is malformed or, under
/// [`TargetPolicy::PublicOnly`], resolves only to non-public addresses.
pub async fn check(url: &str, policy: TargetPolicy) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(url).map_err(|_| "nieprawidłowy adres URL".to_owned())?;
    if policy == TargetPolicy::AllowPrivate {
        return Ok(url);
    }
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let port = url.port_or_known_default().unwrap_or(443);
    let public = match host.parse::<IpAddr>() {
        Ok(address) => is_public_address(address),
        Err(_) => match tokio::net::lookup_host((host, port)).await {
            Ok(mut addresses) => addresses.any(|address| is_public_address(address.ip())),
            // Not resolvable now: the attempt fails and is retried; the client's resolver
            // checks again then.
            Err(_) => true,
        },
    };
    if public {
        Ok(url)
    } else {
        Err(REFUSED.to_owned())
    }
}
