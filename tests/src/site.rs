//! A site as the tracker sees it: a resolver (reached by browsers as `http://localhost:PORT`)
//! and the demo shop on `http://127.0.0.1:PORT`, another origin, whose domain is registered.

use crate::{serve_page, spawn_app, TestAccount, TestApp};
use resolver_server::domain::{self, AccountId, Suid};
use serde_json::json;
use std::net::TcpListener;

/// A resolver (reached by browsers as `http://localhost:PORT`) and the demo shop
/// (`http://127.0.0.1:PORT`) whose domain `127.0.0.1` is registered for the account.
pub struct Site {
    pub app: TestApp,
    pub owner: TestAccount,
    pub site_key: String,
    pub shop: String,
    pub resolver: String,
}

impl Site {
    pub async fn start() -> Site {
        let app = spawn_app().await;
        let owner = app.account("shop");
        let site_key = domain::add_domain(&app.store, owner.id(), "127.0.0.1")
            .expect("domain")
            .site_key;
        let resolver = app.base.replace("127.0.0.1", "localhost");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let shop = format!(
            "http://127.0.0.1:{}",
            listener.local_addr().expect("address").port()
        );
        let config = demo_shop::ShopConfig {
            listen: String::new(),
            resolver: resolver.clone(),
            site_key: site_key.clone(),
            token: owner.token.clone(),
        };
        tokio::spawn(demo_shop::run(listener, config).expect("shop starts"));
        Site {
            app,
            owner,
            site_key,
            shop,
            resolver,
        }
    }

    pub fn shop(&self, path: &str) -> String {
        format!("{}{path}", self.shop)
    }

    /// A page of our own on the shop's origin host, with `commands` queued before the tracker.
    pub fn page(&self, commands: &str) -> u16 {
        serve_page(format!(
            "<!doctype html><html><head><title>Test</title><script>window.log = [];\nwindow._ssrm = window._ssrm || [];\n_ssrm.push(['setSite', {}]);\n{commands}</script><script async src=\"{}/ssrm.js\"></script></head><body>test</body></html>",
            json!(self.site_key),
            self.resolver
        ))
    }

    pub fn account(&self) -> AccountId {
        self.owner.id()
    }

    /// The page URLs recorded for a visitor.
    pub fn page_views(&self, suid: &str) -> Vec<String> {
        let suid = Suid::parse(suid).expect("suid");
        page_view_urls(&self.app, self.account(), suid)
    }

    /// The page URLs in a contact's history (the SerwerSMS-authenticated history call).
    pub async fn history_urls(&self, contact: u64) -> Vec<String> {
        let history = self
            .app
            .call(
                &self.owner.token,
                "contacts/history.json",
                json!({"id": contact, "limit": 100}),
            )
            .await;
        history["items"]
            .as_array()
            .expect("history items")
            .iter()
            .filter(|item| item["type"] == json!("pageview"))
            .filter_map(|item| item["url"].as_str().map(str::to_owned))
            .collect()
    }
}

pub fn page_view_urls(app: &TestApp, account: AccountId, suid: Suid) -> Vec<String> {
    domain::visitor_page_views(&app.store, account, suid)
        .expect("page views")
        .into_iter()
        .map(|view| view.url)
        .collect()
}
