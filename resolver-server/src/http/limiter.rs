//! Rate limiters with bounded memory and O(1) answers (trackUser, admin login).
//!
//! governor's keyed limiters keep one state per key in a map that only shrinks when
//! `retain_recent()` scans all of it. Called on the request path, that scan made every request
//! cost O(keys) once many addresses had been seen, and the map itself grew without a bound:
//! an attacker rotating addresses (one IPv6 /64 holds 2^64) both escaped the limit and slowed
//! every request. Here the same GCRA (governor's own, keyed by the same states) keeps its
//! states in a fixed-capacity `quick_cache` instead: a lookup is a hash probe, and once the
//! cache is full the least useful key is evicted as part of that same O(1) insertion, so no
//! housekeeping task or scan exists. Eviction favours keys seen once (S3-FIFO-like), so a flood
//! of fresh addresses evicts each other before it evicts clients that keep coming back; an
//! evicted client starts again with a full burst, which is the price of the bound.
//!
//! IPv6 clients are counted per /64 ([`rate_key`]): a host usually owns a whole /64.

use governor::clock::DefaultClock;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed, StateStore};
use governor::{Quota, RateLimiter};
use std::convert::Infallible;
use std::hash::Hash;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;

/// How many keys (client and site, or client) a limiter remembers by default: about 100 bytes
/// each, so some 10 MB per limiter at most (`serve --limiter-keys`).
pub const DEFAULT_LIMITER_KEYS: usize = 100_000;

/// GCRA states in a bounded cache; the `StateStore` governor's limiter runs on.
pub struct BoundedStateStore<K> {
    states: quick_cache::sync::Cache<K, Arc<InMemoryState>>,
}

impl<K: Eq + Hash + Clone> BoundedStateStore<K> {
    pub fn new(capacity: usize) -> Self {
        BoundedStateStore {
            states: quick_cache::sync::Cache::new(capacity.max(1)),
        }
    }

    /// Keys remembered now; never more than the capacity.
    pub fn len(&self) -> usize {
        self.states.len()
    }

    pub fn is_empty(&self) -> bool {
        self.states.is_empty()
    }

    /// The most keys this store holds.
    pub fn capacity(&self) -> u64 {
        self.states.capacity()
    }
}

impl<K: Eq + Hash + Clone> StateStore for BoundedStateStore<K> {
    type Key = K;

    fn measure_and_replace<T, F, E>(&self, key: &K, f: F) -> Result<T, E>
    where
        F: Fn(Option<Nanos>) -> Result<(T, Nanos), E>,
    {
        let state = self
            .states
            .get_or_insert_with(key, || Ok::<_, Infallible>(Arc::default()))
            .unwrap_or_else(|never| match never {});
        // The per-key state is governor's own atomic GCRA cell.
        state.measure_and_replace(&NotKeyed::NonKey, f)
    }
}

/// A keyed GCRA limiter whose memory is bounded by its capacity.
pub type BoundedLimiter<K> = RateLimiter<K, BoundedStateStore<K>, DefaultClock>;

/// A limiter allowing `quota` per key, remembering at most `capacity` keys.
pub fn bounded<K: Eq + Hash + Clone>(quota: Quota, capacity: usize) -> BoundedLimiter<K> {
    RateLimiter::new(
        quota,
        BoundedStateStore::new(capacity),
        DefaultClock::default(),
    )
}

/// The address a client is counted as: IPv4 as is, IPv6 by its /64 network (an IPv4-mapped
/// IPv6 address counts as the IPv4 address).
pub fn rate_key(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(
                u128::from(v6) & 0xffff_ffff_ffff_ffff_0000_0000_0000_0000,
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;
    use std::num::NonZeroU32;

    fn quota() -> Quota {
        let ten = NonZeroU32::new(10).expect("not zero");
        Quota::per_minute(ten).allow_burst(ten)
    }

    fn address(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn a_key_gets_its_burst_then_is_refused() {
        let limiter = bounded::<IpAddr>(quota(), 1_000);
        let client = address(1);
        for call in 0..10 {
            assert!(
                limiter.check_key(&client).is_ok(),
                "call {call} is in the burst"
            );
        }
        assert!(
            limiter.check_key(&client).is_err(),
            "the 11th call is refused"
        );
        assert!(
            limiter.check_key(&address(2)).is_ok(),
            "another client is not"
        );
    }

    #[test]
    fn a_million_distinct_addresses_stay_within_the_bound() {
        const BOUND: usize = 10_000;
        let limiter = bounded::<(IpAddr, String)>(quota(), BOUND);
        let site = "site-key".to_owned();
        for n in 0..1_000_000u32 {
            assert!(limiter.check_key(&(address(n), site.clone())).is_ok());
        }
        let store = limiter.into_state_store();
        // The memory is the keys held: never more than the configured bound, whatever the
        // number of addresses seen (the cost of an answer is one hash probe and, when full, one
        // O(1) eviction; its time is measured by scripts/load.sh, not asserted here).
        assert!(store.len() <= BOUND, "{} keys held", store.len());
        assert!(
            store.len() >= BOUND / 2,
            "the cache is used: {} keys",
            store.len()
        );
        assert!(store.capacity() <= BOUND as u64);
    }

    #[test]
    fn a_client_that_keeps_coming_back_survives_a_flood_of_new_addresses() {
        const BOUND: usize = 1_000;
        let limiter = bounded::<IpAddr>(quota(), BOUND);
        let regular = address(u32::MAX);
        for _ in 0..10 {
            assert!(limiter.check_key(&regular).is_ok());
        }
        for n in 0..100_000u32 {
            let _ = limiter.check_key(&address(n));
            if n % 100 == 0 {
                assert!(
                    limiter.check_key(&regular).is_err(),
                    "the regular client is still limited after {n} new addresses"
                );
            }
        }
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        let one: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("address");
        let same_net: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().expect("address");
        let other_net: IpAddr = "2001:db8:1:3::1".parse().expect("address");
        assert_eq!(rate_key(one), rate_key(same_net));
        assert_ne!(rate_key(one), rate_key(other_net));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("address");
        assert_eq!(rate_key(mapped), "192.0.2.7".parse::<IpAddr>().expect("v4"));

        let limiter = bounded::<IpAddr>(quota(), 100);
        for n in 0..10u16 {
            let host = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, n, n, n, n));
            assert!(limiter.check_key(&rate_key(host)).is_ok());
        }
        assert!(
            limiter.check_key(&rate_key(same_net)).is_err(),
            "an 11th host of the same /64 shares the quota"
        );
        assert!(limiter.check_key(&rate_key(other_net)).is_ok());
    }
}
