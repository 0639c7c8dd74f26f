//! `serve`: the listeners (plain HTTP, HTTPS, metrics), the control socket for administration
//! commands, signals (SIGTERM/SIGINT: graceful stop; SIGHUP: re-read the TLS certificate), and
//! the final flush.

use crate::control;
use crate::domain;
use crate::http::{self, AppState, ClientAddress, Endpoint};
use crate::store::Store;
use crate::telemetry;
use crate::tls::ReloadableCert;
use anyhow::Context;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `serve`'s options. Every one can also come from the environment.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on; repeat (or comma-separate in SSRM_LISTEN) for several. With
    /// `--tls-cert`, every address serves HTTPS except one written `http://ADDR`.
    #[arg(
        long,
        env = "SSRM_LISTEN",
        default_value = "127.0.0.1:8080",
        value_delimiter = ','
    )]
    pub listen: Vec<String>,
    /// PEM certificate chain for HTTPS (re-read on SIGHUP).
    #[arg(long, env = "SSRM_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS (re-read on SIGHUP).
    #[arg(long, env = "SSRM_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Serve Prometheus metrics at `/metrics` on this address (plain HTTP; keep it private).
    /// No metrics endpoint without it.
    #[arg(long, env = "SSRM_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Seconds that SIGTERM waits for requests in flight before stopping anyway.
    #[arg(long, env = "SSRM_SHUTDOWN_TIMEOUT", default_value_t = 10)]
    pub shutdown_timeout: u64,
    /// Milliseconds `/readyz` gives the store to answer a read and a write.
    #[arg(long, env = "SSRM_READY_TIMEOUT_MS", default_value_t = 2000)]
    pub ready_timeout_ms: u64,
    /// Directory holding the built tracker (scripts/build-tracker.sh writes www/tracker).
    #[arg(long, env = "SSRM_TRACKER_DIR", default_value = "www/tracker")]
    pub tracker_dir: PathBuf,
    /// Count tracker and login requests against the address in `Forwarded` / `X-Forwarded-For`,
    /// and take the scheme from `X-Forwarded-Proto` (set this only behind a reverse proxy that
    /// writes those headers).
    #[arg(long, env = "SSRM_BEHIND_PROXY")]
    pub behind_proxy: bool,
    /// Create (first time) a demo account with a user, a token and the domains `localhost`
    /// and `127.0.0.1`, and print their credentials.
    #[arg(long)]
    pub demo: bool,
    /// Let rule webhooks and SMS gateways reach loopback and private-network addresses
    /// (refused by default: a rule must not become a way into the server's network).
    #[arg(long, env = "SSRM_ALLOW_PRIVATE_TARGETS")]
    pub allow_private_targets: bool,
    #[command(flatten)]
    pub limits: ServeLimits,
    /// Megabytes of sled's page cache, most of the server's memory (sled's own default is
    /// 1024).
    #[arg(long, env = "SSRM_CACHE_MB", default_value_t = crate::store::DEFAULT_CACHE_MB)]
    pub cache_mb: u64,
    /// Log every request (path, status, time) to stderr.
    #[arg(long, env = "SSRM_ACCESS_LOG", value_enum, default_value_t = Switch::On)]
    pub access_log: Switch,
    /// How many clients each rate limiter (trackUser, admin login) remembers; past that the
    /// least recently useful are forgotten, so memory stays bounded.
    #[arg(long, env = "SSRM_LIMITER_KEYS", default_value_t = http::limiter::DEFAULT_LIMITER_KEYS)]
    pub limiter_keys: usize,
}

/// An on/off setting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

/// Limits of `serve` against abusive clients (README, section Security).
#[derive(Debug, clap::Args)]
pub struct ServeLimits {
    /// Seconds a request body may take to arrive once its headers have; slower is answered 408.
    #[arg(long, env = "SSRM_BODY_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub body_timeout_secs: u64,
    /// Page views and events accepted per minute from one client address for one site; over it
    /// `/t/pageview` and `/t/event` answer 429 and store nothing.
    #[arg(long, env = "SSRM_INGEST_PER_MINUTE", default_value_t = 120, value_parser = clap::value_parser!(u32).range(1..))]
    pub ingest_per_minute: u32,
    /// Page views and events accepted per minute for one site from all addresses together
    /// (no cap unless set).
    #[arg(long, env = "SSRM_INGEST_SITE_PER_MINUTE", value_parser = clap::value_parser!(u32).range(1..))]
    pub ingest_site_per_minute: Option<u32>,
}

impl ServeLimits {
    pub(crate) fn apply(&self, state: AppState) -> AppState {
        AppState {
            body_timeout: std::time::Duration::from_secs(self.body_timeout_secs),
            ..state
        }
        .with_ingest_limits(domain::IngestLimits {
            per_client: self.ingest_per_minute,
            per_site: self.ingest_site_per_minute,
        })
    }
}

/// One `--listen` value: an address and whether it is forced to plain HTTP.
fn parse_listen(value: &str) -> (&str, bool) {
    match value.strip_prefix("http://") {
        Some(address) => (address.trim_end_matches('/'), true),
        None => (value.strip_prefix("https://").unwrap_or(value), false),
    }
}

/// Runs the server until SIGTERM or SIGINT, then finishes requests in flight (at most
/// `--shutdown-timeout`), flushes the store and returns.
pub fn serve(store: Store, data_dir: &Path, args: ServeArgs) -> anyhow::Result<()> {
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(Arc::new(ReloadableCert::load(cert, key)?)),
        _ => None,
    };
    let mut endpoints = Vec::new();
    for value in &args.listen {
        let (address, plain) = parse_listen(value);
        let listener =
            TcpListener::bind(address).with_context(|| format!("cannot listen on {address}"))?;
        let tls = tls.as_ref().filter(|_| !plain);
        tracing::info!(
            address = %listener.local_addr()?,
            scheme = if tls.is_some() { "https" } else { "http" },
            "serving"
        );
        endpoints.push(Endpoint {
            listener,
            tls: tls.map(|cert| cert.server_config()),
        });
    }
    let metrics = match &args.metrics_listen {
        Some(address) => {
            telemetry::recorder();
            let listener = TcpListener::bind(address)
                .with_context(|| format!("cannot listen on {address} for metrics"))?;
            tracing::info!(address = %listener.local_addr()?, "serving metrics");
            Some(listener)
        }
        None => None,
    };
    // On PostgreSQL nothing locks a directory: the CLI talks to the database itself.
    let _control = if store.is_shared() {
        None
    } else {
        let control_store = store.clone();
        Some(
            control::listen(
                data_dir,
                Arc::new(move |request, stdin, out, err| {
                    crate::cli::run_remote(&control_store, request, stdin, out, err)
                }),
            )
            .context("cannot open the administration socket in the data directory")?,
        )
    };

    if store.is_shared() {
        // A database written before sorted lists had order entries gets them now, off the
        // request path; its lists read the account until then.
        let builder = store.clone();
        std::thread::Builder::new()
            .name("ssrm-contact-orders".into())
            .spawn(move || match builder.build_contact_orders() {
                Ok(Some(0)) => {}
                Ok(Some(contacts)) => {
                    tracing::info!(contacts, "sorted lists: order entries built");
                }
                Ok(None) => tracing::info!("sorted lists: another node builds the order entries"),
                Err(error) => {
                    tracing::warn!(%error, "sorted lists: building the order entries failed; lists read the account until the next start");
                }
            })
            .context("cannot start the order-entry builder")?;
    }

    // Also brings the domain → owner index up to date for stores written before it existed.
    for name in domain::shared_domains(&store)? {
        tracing::warn!(
            domain = %name,
            "domain registered by several accounts: its pages are recognised only by their \
             site key (setSite), never by their origin alone"
        );
    }
    let state = args.limits.apply(AppState {
        tracker_dir: args.tracker_dir,
        client_address: if args.behind_proxy {
            ClientAddress::Forwarded
        } else {
            ClientAddress::Peer
        },
        ready_timeout: Duration::from_millis(args.ready_timeout_ms),
        access_log: args.access_log == Switch::On,
        delivery: crate::delivery::DeliveryOptions {
            targets: if args.allow_private_targets {
                crate::delivery::TargetPolicy::AllowPrivate
            } else {
                crate::delivery::TargetPolicy::PublicOnly
            },
        },
        ..AppState::new(store.clone()).with_limiter_keys(args.limiter_keys)
    });
    let shutdown_timeout = args.shutdown_timeout;
    let metrics_store = store.clone();
    actix_web::rt::System::new().block_on(async move {
        let server = http::run_endpoints(endpoints, state, shutdown_timeout)?;
        let metrics_server = match metrics {
            Some(listener) => Some(telemetry::run_exporter(listener, metrics_store)?),
            None => None,
        };
        let handle = server.handle();
        let metrics_handle = metrics_server.as_ref().map(|server| server.handle());
        actix_web::rt::spawn(async move {
            wait_for_stop(tls).await;
            tracing::info!(
                timeout_seconds = shutdown_timeout,
                "stopping: finishing requests in flight"
            );
            if let Some(metrics) = metrics_handle {
                metrics.stop(true).await;
            }
            handle.stop(true).await;
        });
        if let Some(metrics) = metrics_server {
            actix_web::rt::spawn(metrics);
        }
        server.await
    })?;
    store.flush().context("final flush failed")?;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT, re-reading the TLS certificate on every SIGHUP meanwhile.
async fn wait_for_stop(tls: Option<Arc<ReloadableCert>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::error!("cannot install signal handlers; stop the server with SIGKILL");
        return std::future::pending().await;
    };
    loop {
        tokio::select! {
            _ = term.recv() => return,
            _ = int.recv() => return,
            _ = hup.recv() => match &tls {
                Some(cert) => match cert.reload() {
                    Ok(()) => tracing::info!("TLS certificate re-read"),
                    Err(error) => tracing::error!(
                        error = format!("{error:#}"),
                        "TLS certificate not re-read; still serving the previous one"
                    ),
                },
                None => tracing::info!("SIGHUP ignored: no TLS certificate to re-read"),
            },
        }
    }
}
