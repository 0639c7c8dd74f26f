//! The HTTP side: actix wiring and one module per wire protocol. Handlers decode a request
//! into one domain call and encode its result; rules live in [`crate::domain`].

mod admin;
mod body;
mod serwersms;
mod telefum;
mod thulium;
mod tracking;

use crate::store::Store;
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpServer};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::TcpListener;
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;

pub use body::MAX_BODY_BYTES;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Where the built tracker (`ssrm.js`, `ssrm_bg.wasm`) is served from.
    pub tracker_dir: PathBuf,
    /// Admin login attempts per client address.
    pub login_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    /// trackUser calls per client address and site key.
    pub identify_limiter: Arc<DefaultKeyedRateLimiter<(String, String)>>,
}

impl AppState {
    /// Default limits: 10 login attempts a minute per address; trackUser a burst of 10, then one
    /// every 6 seconds, per address and site. The tracker is served from `www/tracker`.
    pub fn new(store: Store) -> AppState {
        let ten = NonZeroU32::new(10).expect("10 is not zero");
        AppState {
            store,
            tracker_dir: PathBuf::from("www/tracker"),
            login_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(ten))),
            identify_limiter: Arc::new(RateLimiter::keyed(Quota::per_minute(ten).allow_burst(ten))),
        }
    }
}

/// Makes every acknowledged write durable before the answer goes out. sled's own
/// `flush_async` hangs under concurrent callers, so the blocking flush runs on the blocking pool.
async fn flush(store: &Store) -> Result<(), ()> {
    let store = store.clone();
    match web::block(move || store.flush()).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(error)) => {
            tracing::error!(%error, "flush failed");
            Err(())
        }
        Err(_) => Err(()),
    }
}

/// Starts serving on an already-bound listener (so tests can bind `127.0.0.1:0`).
pub fn run(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            // The path only: query strings may carry credentials (TelefUM sends passwords there).
            .wrap(middleware::Logger::new("%a %U %s %b %Dms"))
            .wrap(middleware::NormalizePath::trim())
            .wrap(middleware::Compress::default())
            .configure(tracking::configure)
            .configure(thulium::configure)
            .configure(telefum::configure)
            .configure(admin::configure)
            .configure(serwersms::configure)
    })
    .listen(listener)?
    .run();
    Ok(server)
}
