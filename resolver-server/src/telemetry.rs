//! Metrics in the Prometheus text format (`metrics` + `metrics-exporter-prometheus`), served at
//! `/metrics` only on `serve --metrics-listen`. Code records through the functions below (the
//! `metrics` macros are no-ops until [`recorder`] installs the exporter, as in tests that do not
//! ask for it), so every metric name lives in this file:
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `ssrm_http_requests_total` | counter | `method`, `route` (the route pattern), `status` |
//! | `ssrm_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `ssrm_track_user_total` | counter | `outcome`: found, not_found, refused, rate_limited |
//! | `ssrm_page_views_stored_total`, `ssrm_events_stored_total` | counter | |
//! | `ssrm_store_flush_duration_seconds` | histogram | |
//! | `ssrm_store_size_bytes` | gauge (read at each scrape) | |
//! | `ssrm_outbox_depth` | gauge, via [`outbox_depth`] | |
//! | `ssrm_deliveries_failed_total` | counter, via [`delivery_failed`] | |

use crate::store::Store;
use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{web, App, HttpResponse, HttpServer};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Latency buckets in seconds: 0.5 ms to 10 s.
const SECONDS_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder, installed on first use.
pub fn recorder() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics may be empty");
        }
        describe();
        handle
    })
}

fn describe() {
    metrics::describe_counter!("ssrm_http_requests_total", "HTTP requests answered");
    metrics::describe_histogram!(
        "ssrm_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "Time from request to response head"
    );
    metrics::describe_counter!("ssrm_track_user_total", "trackUser calls by outcome");
    metrics::describe_counter!("ssrm_page_views_stored_total", "Page views stored");
    metrics::describe_counter!("ssrm_events_stored_total", "Tracker events stored");
    metrics::describe_histogram!(
        "ssrm_store_flush_duration_seconds",
        metrics::Unit::Seconds,
        "Time to make writes durable"
    );
    metrics::describe_gauge!(
        "ssrm_store_size_bytes",
        metrics::Unit::Bytes,
        "Database size on disk"
    );
    metrics::describe_gauge!("ssrm_outbox_depth", "Rule actions waiting for delivery");
    metrics::describe_counter!(
        "ssrm_deliveries_failed_total",
        "Failed rule action deliveries"
    );
}

/// How a trackUser call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrackUserOutcome {
    Found,
    NotFound,
    /// Refused: bad site key or origin, failed identity verification, bad input.
    Refused,
    RateLimited,
}

impl TrackUserOutcome {
    fn label(self) -> &'static str {
        match self {
            TrackUserOutcome::Found => "found",
            TrackUserOutcome::NotFound => "not_found",
            TrackUserOutcome::Refused => "refused",
            TrackUserOutcome::RateLimited => "rate_limited",
        }
    }
}

pub fn track_user(outcome: TrackUserOutcome) {
    metrics::counter!("ssrm_track_user_total", "outcome" => outcome.label()).increment(1);
}

pub fn page_view_stored() {
    metrics::counter!("ssrm_page_views_stored_total").increment(1);
}

pub fn event_stored() {
    metrics::counter!("ssrm_events_stored_total").increment(1);
}

pub fn store_flushed(took: Duration) {
    metrics::histogram!("ssrm_store_flush_duration_seconds").record(took.as_secs_f64());
}

/// Hook for the rules outbox: call with the number of actions waiting after each change.
pub fn outbox_depth(waiting: u64) {
    // Gauges are f64; an outbox never holds 2^53 actions.
    #[allow(clippy::cast_precision_loss)]
    metrics::gauge!("ssrm_outbox_depth").set(waiting as f64);
}

/// Hook for the rules delivery worker: call once per failed delivery attempt.
pub fn delivery_failed() {
    metrics::counter!("ssrm_deliveries_failed_total").increment(1);
}

/// Middleware: counts every answer by method, route pattern (never the raw path, so the number
/// of series stays bounded) and status, and records its latency.
pub async fn observe_requests(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let method = request.method().as_str().to_owned();
    let response = next.call(request).await?;
    let route = response
        .request()
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "ssrm_http_requests_total",
        "method" => method.clone(),
        "route" => route.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!(
        "ssrm_http_request_duration_seconds",
        "method" => method,
        "route" => route
    )
    .record(started.elapsed().as_secs_f64());
    Ok(response)
}

async fn render(store: web::Data<Store>) -> HttpResponse {
    let store = store.get_ref().clone();
    if let Ok(Ok(bytes)) = web::block(move || store.size_on_disk()).await {
        #[allow(clippy::cast_precision_loss)]
        metrics::gauge!("ssrm_store_size_bytes").set(bytes as f64);
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(recorder().render())
}

/// Serves `GET /metrics` (and nothing else) on its own listener.
pub fn run_exporter(listener: TcpListener, store: Store) -> std::io::Result<Server> {
    recorder();
    let store = web::Data::new(store);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(store.clone())
            .route("/metrics", web::get().to(render))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run())
}
