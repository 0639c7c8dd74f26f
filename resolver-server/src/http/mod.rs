//! The HTTP side: actix wiring and one module per wire protocol. Handlers decode a request
//! into one domain call and encode its result; rules live in [`crate::domain`].

mod admin;
mod body;
mod serwersms;
mod telefum;
mod thulium;
mod tracker;

use crate::store::Store;
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpRequest, HttpServer};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

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
    pub identify_limiter: Arc<DefaultKeyedRateLimiter<(IpAddr, String)>>,
    /// Which address a tracker request is counted against.
    pub client_address: ClientAddress,
    /// What the delivery worker (rule actions) may reach.
    pub delivery: crate::delivery::DeliveryOptions,
}

/// Where the client's address comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAddress {
    /// The TCP peer: right when clients connect directly.
    #[default]
    Peer,
    /// `Forwarded` / `X-Forwarded-For`: only behind a reverse proxy that sets them, since a
    /// client can send any value.
    Forwarded,
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
            client_address: ClientAddress::Peer,
            delivery: crate::delivery::DeliveryOptions::default(),
        }
    }

    /// trackUser allows `burst` calls per client address and site, then one every `period`
    /// (a zero period means one a second).
    pub fn with_identify_limit(mut self, burst: NonZeroU32, period: Duration) -> AppState {
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        self.identify_limiter = Arc::new(RateLimiter::keyed(quota));
        self
    }
}

/// The address a client is rate-limited by (trackUser, admin login): the TCP peer, or the first `X-Forwarded-For` /
/// `Forwarded` address when the server is configured to sit behind a proxy (otherwise anyone
/// could pick a fresh address per call and never be limited).
pub(crate) fn client_address(request: &HttpRequest, policy: ClientAddress) -> IpAddr {
    let peer = request
        .peer_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |address| address.ip());
    match policy {
        ClientAddress::Peer => peer,
        ClientAddress::Forwarded => request
            .connection_info()
            .realip_remote_addr()
            .and_then(|text| {
                text.parse::<IpAddr>()
                    .ok()
                    .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
            })
            .unwrap_or(peer),
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

/// Starts serving on an already-bound listener (so tests can bind `127.0.0.1:0`), and the
/// delivery worker of rule actions next to it. Call it from within a Tokio runtime.
pub fn run(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    tokio::spawn(crate::delivery::run(state.store.clone(), state.delivery));
    let state = web::Data::new(state);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            // The path only: query strings may carry credentials (TelefUM sends passwords there).
            .wrap(middleware::Logger::new("%a %U %s %b %Dms"))
            .wrap(middleware::NormalizePath::trim())
            .wrap(middleware::Compress::default())
            .configure(tracker::configure)
            .configure(thulium::configure)
            .configure(telefum::configure)
            .configure(admin::configure)
            .configure(serwersms::configure)
    })
    .listen(listener)?
    .run();
    Ok(server)
}
