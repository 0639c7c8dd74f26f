//! The traffic task: every few seconds, off the request path, adds each account's pending
//! tallies to the dashboard's aggregates (`domain::fold_traffic`), and once an hour removes
//! the seen marks that no longer count a visitor. The dashboard folds what is left before it
//! reads, so it never shows less than was stored.

use crate::domain;
use crate::store::Store;
use std::time::Duration;

/// How often pending tallies are folded.
pub const PERIOD: Duration = Duration::from_secs(2);

/// Folds between two sweeps of old seen marks (an hour).
const SWEEP_EVERY: u32 = 1800;

/// Runs forever (until the runtime stops).
pub async fn run(store: Store) {
    let mut ticks = tokio::time::interval(PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut round: u32 = 0;
    loop {
        ticks.tick().await;
        let sweep = round.is_multiple_of(SWEEP_EVERY);
        round = round.wrapping_add(1);
        let store = store.clone();
        let outcome = tokio::task::spawn_blocking(move || fold_all(&store, sweep)).await;
        if let Err(error) = outcome {
            tracing::warn!(%error, "the traffic task stopped unexpectedly");
        }
    }
}

fn fold_all(store: &Store, sweep: bool) {
    let accounts = match store.accounts() {
        Ok(accounts) => accounts,
        Err(error) => {
            tracing::warn!(%error, "traffic: cannot list accounts");
            return;
        }
    };
    let today = domain::day_of(domain::now_millis());
    for account in accounts {
        if let Err(error) = domain::fold_traffic(store, account.id) {
            tracing::warn!(account = account.id.0, %error, "traffic fold failed");
        }
        if sweep {
            if let Err(error) = store.sweep_seen_marks(account.id, today) {
                tracing::warn!(account = account.id.0, %error, "traffic: sweeping seen marks failed");
            }
        }
    }
}
