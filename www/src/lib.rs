//! The demo shop: what a site owner's own website looks like with ssrm installed. It runs on its
//! own origin (the resolver is another), puts the tracker snippet on every page, and its sign-up
//! handler does what a real one does: read the `ssrm_user` cookie and call the resolver's
//! SerwerSMS `contacts/add` with it as `suid`.

mod pages;

use actix_web::dev::Server;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde::Deserialize;
use std::net::TcpListener;

/// The shop's settings.
#[derive(Clone, Debug, clap::Parser)]
#[command(name = "demo-shop", version, about = "The ssrm demo shop")]
pub struct ShopConfig {
    /// Address to listen on (use a different host than the resolver's, e.g. 127.0.0.1 vs localhost).
    #[arg(long, env = "SHOP_LISTEN", default_value = "127.0.0.1:8081")]
    pub listen: String,
    /// The resolver's URL as browsers reach it (the snippet loads ssrm.js from there).
    #[arg(long, env = "SHOP_RESOLVER", default_value = "http://localhost:8080")]
    pub resolver: String,
    /// The site key of this shop's domain (`resolver-server domain add`).
    #[arg(long, env = "SHOP_SITE_KEY")]
    pub site_key: String,
    /// An API token of the shop's account, used by the sign-up handler (server side only).
    #[arg(long, env = "SHOP_TOKEN")]
    pub token: String,
}

struct Shop {
    config: ShopConfig,
    client: reqwest::Client,
}

/// Serves the shop on an already-bound listener.
pub fn run(listener: TcpListener, config: ShopConfig) -> std::io::Result<Server> {
    let shop = web::Data::new(Shop {
        config,
        client: reqwest::Client::new(),
    });
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(shop.clone())
            .route("/", web::get().to(home))
            .route("/product/{id}", web::get().to(product))
            .route("/signup", web::get().to(signup_form))
            .route("/signup", web::post().to(signup))
            .route("/login", web::get().to(login))
            .route("/spa", web::get().to(spa))
            .route("/shop.css", web::get().to(stylesheet))
    })
    .listen(listener)?
    .run())
}

fn page(shop: &Shop, body: maud::Markup) -> HttpResponse {
    let resolver = shop.config.resolver.trim_end_matches('/');
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        // The policy a site with a strict CSP needs for the tracker (README, "Content-Security-Policy").
        .insert_header((
            "Content-Security-Policy",
            format!("default-src 'self'; script-src 'self' 'unsafe-inline' 'wasm-unsafe-eval' {resolver}; connect-src {resolver}; style-src 'self'"),
        ))
        .body(body.into_string())
}

async fn home(shop: web::Data<Shop>) -> HttpResponse {
    page(&shop, pages::home(&shop.config))
}

async fn product(shop: web::Data<Shop>, id: web::Path<u32>) -> HttpResponse {
    match pages::PRODUCTS.iter().find(|p| p.id == *id) {
        Some(found) => page(&shop, pages::product(&shop.config, found)),
        None => HttpResponse::NotFound().body("no such product"),
    }
}

async fn signup_form(shop: web::Data<Shop>) -> HttpResponse {
    page(&shop, pages::signup(&shop.config, None))
}

#[derive(Deserialize)]
struct SignUp {
    first_name: String,
    email: String,
    phone: String,
}

/// The part a site owner writes: pass the visitor's `ssrm_user` cookie as `suid`.
async fn signup(
    request: HttpRequest,
    shop: web::Data<Shop>,
    form: web::Form<SignUp>,
) -> HttpResponse {
    let suid = request
        .cookie("ssrm_user")
        .map(|cookie| cookie.value().to_owned());
    let body = serde_json::json!({
        "phone": form.phone,
        "email": form.email,
        "first_name": form.first_name,
        "suid": suid,
        "system": "demo_shop",
    });
    let url = format!(
        "{}/contacts/add.json",
        shop.config.resolver.trim_end_matches('/')
    );
    let answer: Result<serde_json::Value, reqwest::Error> = async {
        shop.client
            .post(&url)
            .bearer_auth(&shop.config.token)
            .json(&body)
            .send()
            .await?
            .json()
            .await
    }
    .await;
    let outcome = match answer {
        Ok(answer) if answer["success"] == serde_json::json!(true) => {
            Ok(answer["id"].as_u64().unwrap_or_default())
        }
        Ok(answer) => Err(answer["error"]["message"]
            .as_str()
            .unwrap_or("nieznany błąd")
            .to_owned()),
        Err(error) => Err(format!("resolver nieosiągalny: {error}")),
    };
    page(&shop, pages::signup(&shop.config, Some(outcome)))
}

async fn login(shop: web::Data<Shop>) -> HttpResponse {
    page(&shop, pages::login(&shop.config))
}

async fn spa(shop: web::Data<Shop>) -> HttpResponse {
    page(&shop, pages::spa(&shop.config))
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .body(include_str!("../static/shop.css"))
}
