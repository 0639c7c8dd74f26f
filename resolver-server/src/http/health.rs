//! Probes for load balancers and supervisors: `GET /healthz` (the process serves) and
//! `GET /readyz` (the store answers a read and a durable write within the deadline).

use super::AppState;
use actix_web::{web, HttpResponse};

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
}

fn text(mut response: actix_web::HttpResponseBuilder, body: &'static str) -> HttpResponse {
    response
        .content_type("text/plain; charset=utf-8")
        .insert_header(("cache-control", "no-store"))
        .body(body)
}

async fn healthz() -> HttpResponse {
    text(HttpResponse::Ok(), "ok\n")
}

async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let store = state.store.clone();
    let probe = web::block(move || store.probe());
    match tokio::time::timeout(state.ready_timeout, probe).await {
        Ok(Ok(Ok(()))) => text(HttpResponse::Ok(), "ready\n"),
        Ok(Ok(Err(error))) => {
            tracing::warn!(%error, "readiness probe failed");
            text(HttpResponse::ServiceUnavailable(), "store unavailable\n")
        }
        Ok(Err(_)) => text(HttpResponse::ServiceUnavailable(), "store unavailable\n"),
        Err(_) => {
            tracing::warn!(timeout = ?state.ready_timeout, "readiness probe timed out");
            text(HttpResponse::ServiceUnavailable(), "store too slow\n")
        }
    }
}
