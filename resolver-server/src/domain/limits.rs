//! Counting in fixed time windows with bounded memory: the brute-force throttle of password
//! logins ([`super::accounts::LoginThrottle`]) and the tracker's ingest quota
//! ([`IngestQuota`]). Each counter keeps at most `capacity` keys in an LRU map (`lru`), so a
//! flood of fresh keys evicts the least recently seen ones instead of growing memory; every
//! operation is O(1) under one short mutex, and nothing needs cleaning up later.

use lru::LruCache;
use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroUsize;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Keys a counter remembers by default: ~100k (address, name) pairs is a few MB.
pub const DEFAULT_CAPACITY: usize = 100_000;

#[derive(Clone, Copy, Debug)]
struct Window {
    started: Instant,
    count: u32,
}

/// Up to `limit` events per key in a window of `window` that starts at the key's first event.
#[derive(Debug)]
pub struct WindowCounter<K: Hash + Eq> {
    limit: u32,
    window: Duration,
    entries: Mutex<LruCache<K, Window>>,
}

impl<K: Hash + Eq> WindowCounter<K> {
    pub fn new(limit: u32, window: Duration, capacity: usize) -> WindowCounter<K> {
        WindowCounter {
            limit,
            window,
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<K, Window>> {
        // A panic elsewhere cannot leave a counter half-updated: every update is one assignment.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts one event of `key`; `Err(retry after)` when that goes past the limit (the event
    /// is still counted, so hammering does not help).
    pub fn count(&self, key: K, now: Instant) -> Result<(), Duration> {
        let mut entries = self.lock();
        let window = match entries.get_mut(&key) {
            Some(window) if now < window.started + self.window => {
                window.count = window.count.saturating_add(1);
                *window
            }
            _ => {
                let window = Window {
                    started: now,
                    count: 1,
                };
                entries.put(key, window);
                window
            }
        };
        if window.count > self.limit {
            Err(window.started + self.window - now)
        } else {
            Ok(())
        }
    }

    /// Forgets `key` (a successful login clears its failures).
    pub fn forget(&self, key: &K) {
        self.lock().pop(key);
    }

    /// Keys remembered now (at most the capacity).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Refused: over quota, try again after this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OverQuota {
    pub retry_after: Duration,
}

/// How many tracker reports (page views and events together) the resolver takes per minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IngestLimits {
    /// Per client address and site.
    pub per_client: u32,
    /// Per site, whatever the address; `None`: no cap.
    pub per_site: Option<u32>,
}

impl Default for IngestLimits {
    /// 120 a minute per address and site (two a second: far above a person reading pages), no
    /// cap per site.
    fn default() -> IngestLimits {
        IngestLimits {
            per_client: 120,
            per_site: None,
        }
    }
}

/// The tracker's ingest quota: without it anyone holding a (public) site key and sending its
/// `Origin` could fill the disk.
#[derive(Debug)]
pub struct IngestQuota {
    per_client: WindowCounter<(IpAddr, String)>,
    per_site: Option<WindowCounter<String>>,
}

const MINUTE: Duration = Duration::from_secs(60);

impl IngestQuota {
    pub fn new(limits: IngestLimits) -> IngestQuota {
        IngestQuota {
            per_client: WindowCounter::new(limits.per_client, MINUTE, DEFAULT_CAPACITY),
            per_site: limits
                .per_site
                .map(|limit| WindowCounter::new(limit, MINUTE, DEFAULT_CAPACITY)),
        }
    }

    /// Counts one report from `client` for the site `site` (its site key); refused when
    /// the address or the site is over its quota. Call it only for a recognised site, so keys
    /// are real sites, and before storing anything.
    pub fn admit(&self, client: IpAddr, site: &str) -> Result<(), OverQuota> {
        let now = Instant::now();
        let refused = |retry_after| OverQuota { retry_after };
        self.per_client
            .count((client, site.to_owned()), now)
            .map_err(refused)?;
        match &self.per_site {
            Some(counter) => counter.count(site.to_owned(), now).map_err(refused),
            None => Ok(()),
        }
    }
}

impl Default for IngestQuota {
    fn default() -> IngestQuota {
        IngestQuota::new(IngestLimits::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_refused_past_its_limit_until_its_window_ends() {
        let counter = WindowCounter::new(3, Duration::from_secs(600), 10);
        let start = Instant::now();
        for _ in 0..3 {
            assert_eq!(counter.count("jan", start), Ok(()));
        }
        assert_eq!(counter.count("jan", start), Err(Duration::from_secs(600)));
        let later = start + Duration::from_secs(599);
        assert_eq!(counter.count("jan", later), Err(Duration::from_secs(1)));
        assert_eq!(counter.count("other", later), Ok(()));
        let after = start + Duration::from_secs(600);
        assert_eq!(counter.count("jan", after), Ok(()));
    }

    #[test]
    fn memory_is_bounded_by_the_capacity() {
        let counter = WindowCounter::new(1, Duration::from_secs(60), 100);
        let now = Instant::now();
        for key in 0..10_000u32 {
            let _ = counter.count(key, now);
        }
        assert_eq!(counter.len(), 100);
        // The most recent keys are the ones remembered.
        assert!(counter.count(9_999, now).is_err());
        assert!(counter.count(0, now).is_ok());
    }

    #[test]
    fn the_ingest_quota_counts_per_address_and_site_and_optionally_per_site() {
        let quota = IngestQuota::new(IngestLimits {
            per_client: 2,
            per_site: Some(3),
        });
        let one: IpAddr = [192, 0, 2, 1].into();
        let two: IpAddr = [192, 0, 2, 2].into();
        assert!(quota.admit(one, "shop.example").is_ok());
        assert!(quota.admit(one, "shop.example").is_ok());
        assert!(quota.admit(one, "shop.example").is_err());
        assert!(quota.admit(one, "other.example").is_ok());
        // A report refused for its address does not count for the site: two so far.
        assert!(quota.admit(two, "shop.example").is_ok());
        assert!(quota.admit(two, "shop.example").is_err());
        let unlimited = IngestQuota::default();
        for _ in 0..120 {
            assert!(unlimited.admit(one, "shop.example").is_ok());
        }
        assert!(unlimited.admit(one, "shop.example").is_err());
    }
}
