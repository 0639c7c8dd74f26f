//! A real headless Chromium (Debian's `chromium` + `chromium-driver`) driven over WebDriver.
//! Every [`Browser`] has its own chromedriver and a fresh, empty profile: a new device.

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

pub struct Browser {
    pub client: Client,
    driver: Child,
    /// chromedriver's own address, for the Chrome DevTools commands it forwards.
    driver_url: String,
    _profile: TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with an empty profile.
    pub async fn start() -> Browser {
        Browser::start_with_preferences(json!({})).await
    }

    /// Like [`Browser::start`], with Chromium's profile preferences set first (e.g.
    /// `{"enable_do_not_track": true}`, the setting behind "Send a Do Not Track request").
    pub async fn start_with_preferences(preferences: Value) -> Browser {
        let port = free_port();
        let driver =
            Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver runs (apt-get install chromium chromium-driver)");
        let profile = tempfile::tempdir().expect("profile directory");
        let arguments = [
            "--headless=new".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-dev-shm-usage".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--window-size=1280,900".into(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let mut chrome = json!({ "args": arguments, "prefs": preferences });
        if let Ok(binary) = std::env::var("CHROMIUM") {
            chrome["binary"] = json!(binary);
        } else if std::path::Path::new("/usr/bin/chromium").exists() {
            chrome["binary"] = json!("/usr/bin/chromium");
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("goog:chromeOptions".into(), chrome);
        capabilities.insert("goog:loggingPrefs".into(), json!({ "browser": "ALL" }));
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) if Instant::now() > deadline => panic!("no WebDriver session: {error}"),
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        };
        Browser {
            client,
            driver,
            driver_url: url,
            _profile: profile,
        }
    }

    /// Sends `headers` with every request this page makes from now on, as a browser or an
    /// extension that adds them itself would (Chrome DevTools `Network.setExtraHTTPHeaders`
    /// through chromedriver): Chromium has no Global Privacy Control setting of its own.
    pub async fn send_extra_headers(&self, headers: Value) {
        let session = self
            .client
            .session_id()
            .await
            .expect("session id")
            .expect("a session");
        let url = format!("{}/session/{session}/goog/cdp/execute", self.driver_url);
        let devtools = reqwest::Client::new();
        for (cmd, params) in [
            ("Network.enable", json!({})),
            ("Network.setExtraHTTPHeaders", json!({ "headers": headers })),
        ] {
            let answer = devtools
                .post(&url)
                .json(&json!({ "cmd": cmd, "params": params }))
                .send()
                .await
                .expect("chromedriver answers");
            assert!(answer.status().is_success(), "{cmd}: {answer:?}");
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Runs `script` in the page and returns its result.
    pub async fn eval(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .expect("script runs")
    }

    /// Runs an async script (its last argument is the callback) and returns what it passed.
    pub async fn eval_async(&self, script: &str) -> Value {
        self.client
            .execute_async(script, vec![])
            .await
            .expect("async script runs")
    }

    /// The value of the `ssrm_user` cookie on the current page, if any.
    pub async fn suid_cookie(&self) -> Option<String> {
        let cookie = self.eval("var m = document.cookie.match(/(?:^|; )ssrm_user=([^;]*)/); return m ? m[1] : null;").await;
        cookie.as_str().map(str::to_owned)
    }

    /// Waits (polling, with a deadline) until the tracker has loaded: `_ssrm` is no longer an array.
    pub async fn wait_for_tracker(&self) {
        self.wait_until(
            "return !Array.isArray(window._ssrm) && typeof window._ssrm.push === 'function';",
        )
        .await;
    }

    /// Polls `condition` (a script returning a boolean) until true, for at most 15 seconds.
    pub async fn wait_until(&self, condition: &str) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if self.eval(condition).await == json!(true) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for: {condition}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Saves a screenshot of the page as `target/screenshots/{name}`, for a person to look at.
    pub async fn screenshot(&self, name: &str) {
        let folder = crate::repository_root().join("target").join("screenshots");
        std::fs::create_dir_all(&folder).expect("screenshot folder");
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(folder.join(name), png).expect("write screenshot");
    }

    /// Types `value` into the element `css` finds.
    pub async fn fill(&self, css: &str, value: &str) {
        self.client
            .find(fantoccini::Locator::Css(css))
            .await
            .unwrap_or_else(|_| panic!("{css}"))
            .send_keys(value)
            .await
            .expect("type");
    }

    /// Fills and submits the admin login form the browser is on.
    pub async fn log_in(&self, username: &str, password: &str) {
        self.fill("input[name=username]", username).await;
        self.fill("input[name=password]", password).await;
        self.client
            .find(fantoccini::Locator::Css("form button[type=submit]"))
            .await
            .expect("button")
            .click()
            .await
            .expect("submit");
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}

/// Polls an async check until it returns `Some`, for at most 15 seconds.
pub async fn eventually<T, F, Fut>(mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "condition not met within 15 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
