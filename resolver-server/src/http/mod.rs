//! The HTTP side: actix wiring and one module per wire protocol. Handlers decode a request
//! into one domain call and encode its result; rules live in [`crate::domain`].

mod admin;
mod auth;
mod body;
mod health;
pub mod limiter;
mod serwersms;
mod telefum;
mod thulium;
mod tracker;
mod xml;

use crate::domain::{IngestLimits, IngestQuota, LoginThrottle};
use crate::store::Store;
use actix_web::dev::Server;
use actix_web::{middleware, web, App, HttpRequest, HttpServer};
use governor::Quota;
use limiter::BoundedLimiter;
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::num::NonZeroU32;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use body::{DEFAULT_BODY_TIMEOUT, MAX_BODY_BYTES};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    /// Where the built tracker (`ssrm.js`, `ssrm_bg.wasm`) is served from.
    pub tracker_dir: PathBuf,
    /// Admin login attempts per client address (bounded memory, see `limiter.rs`).
    pub login_limiter: Arc<BoundedLimiter<String>>,
    /// trackUser calls per client address (IPv6: per /64) and site key.
    pub identify_limiter: Arc<BoundedLimiter<(IpAddr, String)>>,
    /// Which address a tracker request is counted against.
    pub client_address: ClientAddress,
    /// Failed password logins per (client address, user name), for every API.
    pub login_throttle: Arc<LoginThrottle>,
    /// Page views and events per client address and site (and optionally per site).
    pub ingest_quota: Arc<IngestQuota>,
    /// How long a request's body may take to arrive once its headers have; slower is 408.
    pub body_timeout: Duration,
    /// Whether each request is logged (path, status, time).
    pub access_log: bool,
    /// How many keys each limiter remembers.
    pub limiter_keys: usize,
    /// How long `/readyz` waits for the store's read and write.
    pub ready_timeout: Duration,
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
    /// Default limits: 10 admin login attempts a minute per address, 10 failed password logins
    /// per address and user name in 10 minutes (every API); trackUser a burst of 10, then one
    /// every 6 seconds, per address and site (each limiter remembers
    /// [`limiter::DEFAULT_LIMITER_KEYS`] keys); 120 tracker reports a minute per address and
    /// site; 30 s for a request body. The tracker is served from `www/tracker`; requests are
    /// logged.
    pub fn new(store: Store) -> AppState {
        AppState {
            store,
            tracker_dir: PathBuf::from("www/tracker"),
            login_limiter: Arc::new(limiter::bounded(
                login_quota(),
                limiter::DEFAULT_LIMITER_KEYS,
            )),
            identify_limiter: Arc::new(limiter::bounded(
                identify_quota(),
                limiter::DEFAULT_LIMITER_KEYS,
            )),
            client_address: ClientAddress::Peer,
            login_throttle: Arc::new(LoginThrottle::default()),
            ingest_quota: Arc::new(IngestQuota::default()),
            body_timeout: DEFAULT_BODY_TIMEOUT,
            access_log: true,
            limiter_keys: limiter::DEFAULT_LIMITER_KEYS,
            ready_timeout: Duration::from_secs(2),
            delivery: crate::delivery::DeliveryOptions::default(),
        }
    }

    /// Tracker reports allowed per minute (see [`IngestLimits`]).
    pub fn with_ingest_limits(mut self, limits: IngestLimits) -> AppState {
        self.ingest_quota = Arc::new(IngestQuota::new(limits));
        self
    }

    /// `limit` failed password logins per (client address, user name) within `window`.
    pub fn with_login_throttle(mut self, limit: u32, window: Duration) -> AppState {
        self.login_throttle = Arc::new(LoginThrottle::new(limit, window));
        self
    }

    /// trackUser allows `burst` calls per client address and site, then one every `period`
    /// (a zero period means one a second).
    pub fn with_identify_limit(mut self, burst: NonZeroU32, period: Duration) -> AppState {
        let quota = Quota::with_period(period)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
            .allow_burst(burst);
        self.identify_limiter = Arc::new(limiter::bounded(quota, self.limiter_keys));
        self
    }

    /// Both limiters (with their default quotas) remember at most `keys` keys each. Call it
    /// before [`AppState::with_identify_limit`].
    pub fn with_limiter_keys(mut self, keys: usize) -> AppState {
        self.limiter_keys = keys;
        self.login_limiter = Arc::new(limiter::bounded(login_quota(), keys));
        self.identify_limiter = Arc::new(limiter::bounded(identify_quota(), keys));
        self
    }
}

fn login_quota() -> Quota {
    Quota::per_minute(NonZeroU32::new(10).expect("10 is not zero"))
}

fn identify_quota() -> Quota {
    let ten = NonZeroU32::new(10).expect("10 is not zero");
    Quota::per_minute(ten).allow_burst(ten)
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

/// Makes every acknowledged write durable before the answer goes out. Concurrent callers share
/// flushes (group commit, `store/commit.rs`): each waits for the next flush that starts after
/// its write, so no thread is held while waiting.
async fn flush(store: &Store) -> Result<(), ()> {
    store.flush_shared().await.map_err(|error| {
        tracing::error!(%error, "flush failed");
    })
}

/// Why domain work run from a handler gave no answer: the domain refused it (each API maps that
/// to its wire format), or the server failed (logged here; each API answers its internal error).
#[derive(Debug)]
pub(crate) enum Failure {
    Domain(crate::domain::DomainError),
    Internal,
}

impl From<crate::domain::DomainError> for Failure {
    fn from(error: crate::domain::DomainError) -> Failure {
        Failure::Domain(error)
    }
}

/// Runs domain work off the async workers (store calls block; argon2 is slow by design).
pub(crate) async fn blocking<T: Send + 'static>(
    store: &Store,
    work: impl FnOnce(&Store) -> crate::domain::DomainResult<T> + Send + 'static,
) -> Result<T, Failure> {
    let store = store.clone();
    match web::block(move || work(&store)).await {
        Ok(outcome) => outcome.map_err(Failure::Domain),
        Err(error) => {
            tracing::error!(%error, "blocking work did not finish");
            Err(Failure::Internal)
        }
    }
}

/// [`blocking`] for work that writes: answers only once its writes are durable.
pub(crate) async fn durable<T: Send + 'static>(
    store: &Store,
    work: impl FnOnce(&Store) -> crate::domain::DomainResult<T> + Send + 'static,
) -> Result<T, Failure> {
    let answer = blocking(store, work).await?;
    flushed(store).await?;
    Ok(answer)
}

/// Waits until every write made so far is durable (for handlers that flush only when they wrote).
pub(crate) async fn flushed(store: &Store) -> Result<(), Failure> {
    flush(store).await.map_err(|()| Failure::Internal)
}

/// A bound listener, and the TLS configuration if it serves HTTPS.
pub struct Endpoint {
    pub listener: TcpListener,
    pub tls: Option<rustls::ServerConfig>,
}

/// Starts serving on an already-bound listener (so tests can bind `127.0.0.1:0`), and the
/// delivery worker of rule actions next to it. Call it from within a Tokio runtime.
pub fn run(listener: TcpListener, state: AppState) -> std::io::Result<Server> {
    let server = run_endpoints(
        vec![Endpoint {
            listener,
            tls: None,
        }],
        state,
        10,
    )?;
    Ok(server)
}

/// Starts serving on every endpoint, plain or HTTPS, and the delivery worker of rule actions
/// and the retention and traffic tasks next to it (call it from within a Tokio runtime). The caller stops the server (signals are
/// not handled here); a graceful stop waits at most `shutdown_timeout` seconds for requests in
/// flight.
pub fn run_endpoints(
    endpoints: Vec<Endpoint>,
    state: AppState,
    shutdown_timeout: u64,
) -> std::io::Result<Server> {
    tokio::spawn(crate::delivery::run(state.store.clone(), state.delivery));
    tokio::spawn(crate::retention::run(state.store.clone()));
    tokio::spawn(crate::traffic::run(state.store.clone()));
    let body_timeout = state.body_timeout;
    let access_log = state.access_log;
    let state = web::Data::new(state);
    let mut server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            // Innermost: every handler's body (extractors and `read_limited` alike) arrives
            // within the deadline or the request is answered 408.
            .wrap_fn(move |request, service| body::deadline(request, service, body_timeout))
            // The path only: query strings may carry credentials (TelefUM sends passwords there).
            // Written through the non-blocking writer main.rs installs; off with
            // `SSRM_ACCESS_LOG=off`.
            .wrap(middleware::Condition::new(
                access_log,
                middleware::Logger::new("%a %U %s %b %Dms"),
            ))
            .wrap(middleware::NormalizePath::trim())
            .wrap(middleware::Compress::default())
            .wrap(middleware::from_fn(crate::telemetry::observe_requests))
            .configure(health::configure)
            .configure(tracker::configure)
            .configure(thulium::configure)
            .configure(telefum::configure)
            .configure(admin::configure)
            .configure(serwersms::configure)
    })
    .disable_signals()
    .shutdown_timeout(shutdown_timeout);
    for endpoint in endpoints {
        server = match endpoint.tls {
            Some(config) => server.listen_rustls_0_23(endpoint.listener, config)?,
            None => server.listen(endpoint.listener)?,
        };
    }
    Ok(server.run())
}
