//! The load benchmark's ceiling: an actix-web server with the resolver's worker count that reads
//! each request's body and answers a small JSON, doing nothing else. `scripts/load.sh` drives it
//! with the same `wrk` settings as the resolver; each endpoint's speed is reported as a share of
//! this one's.
//!
//! `cargo run --release -p resolver-server --example ceiling -- 127.0.0.1:8090`
#![allow(clippy::print_stdout)]

use actix_web::{web, App, HttpResponse, HttpServer};

async fn answer(body: web::Bytes) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "success": true, "read": body.len() }))
}

fn main() -> std::io::Result<()> {
    let listen = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_owned());
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| App::new().default_service(web::to(answer)))
            .bind(&listen)?
            .run();
        println!("ceiling on http://{listen}/");
        server.await
    })
}
