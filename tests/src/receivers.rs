//! Small real HTTP servers on `127.0.0.1:0` that rule deliveries go to: a webhook receiver and a
//! SerwerSMS-shaped gateway. Each records every request it gets and answers from a script.

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request a receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Webhook,
    SerwerSms,
}

#[derive(Default)]
struct Log {
    requests: Vec<Received>,
    /// Statuses for the next requests; 200 once empty.
    script: VecDeque<u16>,
}

/// A receiver and what it got.
#[derive(Clone)]
pub struct Receiver {
    /// `http://127.0.0.1:PORT/`
    pub base: String,
    log: Arc<Mutex<Log>>,
}

impl Receiver {
    /// A webhook receiver answering the given statuses to its first requests, then 200.
    pub fn webhook(script: &[u16]) -> Receiver {
        start(Kind::Webhook, script)
    }

    /// A SerwerSMS-compatible gateway answering `messages/send_sms` like the real API.
    pub fn serwersms() -> Receiver {
        start(Kind::SerwerSms, &[])
    }

    pub fn requests(&self) -> Vec<Received> {
        self.log.lock().expect("log").requests.clone()
    }

    /// Waits (polling, up to `deadline`) until at least `count` requests arrived.
    pub async fn wait_for(&self, count: usize, deadline: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            assert!(
                start.elapsed() < deadline,
                "{} of {count} requests after {deadline:?}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn start(kind: Kind, script: &[u16]) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let port = listener.local_addr().expect("address").port();
    let log = Arc::new(Mutex::new(Log {
        requests: Vec::new(),
        script: script.iter().copied().collect(),
    }));
    let shared = web::Data::new(log.clone());
    let server = HttpServer::new(move || {
        App::new()
            .app_data(shared.clone())
            .app_data(web::Data::new(kind))
            .default_service(web::to(answer))
    })
    .workers(1)
    .listen(listener)
    .expect("listen")
    .run();
    tokio::spawn(server);
    Receiver {
        base: format!("http://127.0.0.1:{port}/"),
        log,
    }
}

async fn answer(
    request: HttpRequest,
    body: web::Bytes,
    log: web::Data<Arc<Mutex<Log>>>,
    kind: web::Data<Kind>,
) -> HttpResponse {
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_ascii_lowercase(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let received = Received {
        path: request.path().to_owned(),
        headers,
        body: body.to_vec(),
    };
    let mut log = log.lock().expect("log");
    let status = log.script.pop_front().unwrap_or(200);
    let reply = match **kind {
        Kind::Webhook => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).expect("status"))
                .finish()
        }
        Kind::SerwerSms => {
            let number = log.requests.len() + 1;
            let phone = serde_json::from_slice::<Value>(&received.body)
                .ok()
                .and_then(|body| body["phone"].as_str().map(str::to_owned))
                .unwrap_or_default();
            HttpResponse::Ok().json(json!({
                "success": true,
                "queued": 1,
                "unsent": 0,
                "items": [{"id": format!("msg{number:06}"), "phone": phone, "status": "queued"}]
            }))
        }
    };
    log.requests.push(received);
    reply
}
