//! The retention task: once an hour, off the request path, each account's page views and
//! events older than its retention period are deleted (`domain::purge_expired`), in batches
//! that let requests and backups interleave. `resolver-server purge <account>` runs the same
//! purge at once.

use crate::domain;
use crate::store::{Job, Store};
use std::time::Duration;

/// How often the task runs; the first run is one period after the server starts.
pub const PERIOD: Duration = Duration::from_secs(3600);

/// Runs forever (until the runtime stops).
pub async fn run(store: Store) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + PERIOD, PERIOD);
    loop {
        ticks.tick().await;
        let store = store.clone();
        let outcome = tokio::task::spawn_blocking(move || purge_all(&store)).await;
        if let Err(error) = outcome {
            tracing::warn!(%error, "the retention task stopped unexpectedly");
        }
    }
}

/// Purges every account once, logging (counts only) what it deleted.
fn purge_all(store: &Store) {
    // With several nodes on one database, one of them purges each hour.
    let _exclusive = match store.exclusive_job(Job::Retention) {
        Ok(Some(lock)) => lock,
        Ok(None) => {
            tracing::info!("retention: another node is purging");
            return;
        }
        Err(error) => {
            tracing::warn!(%error, "retention: cannot take the retention lock");
            return;
        }
    };
    let accounts = match store.accounts() {
        Ok(accounts) => accounts,
        Err(error) => {
            tracing::warn!(%error, "retention: cannot list accounts");
            return;
        }
    };
    for account in accounts {
        match domain::purge_expired(store, account.id, domain::now_millis()) {
            Ok(purged) => tracing::info!(
                account = account.id.0,
                page_views = purged.page_views,
                events = purged.events,
                visitors = purged.visitors,
                "retention purge"
            ),
            Err(error) => tracing::warn!(account = account.id.0, %error, "retention purge failed"),
        }
    }
}
