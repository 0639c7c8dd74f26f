//! Requests to the resolver (spec/tracker.md, "Resolver endpoints"): fire-and-forget beacons for
//! page views and events, and the one request whose answer matters, `t/identify` for trackUser.
//! Bodies are JSON strings with content type `text/plain;charset=UTF-8`, so no request needs a
//! CORS preflight. Nothing here throws or leaves an unhandled promise rejection behind.

use crate::browser::{self, AbortController, Response};
use core::cell::Cell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// How long trackUser waits for the resolver before answering the site's callback itself.
const IDENTIFY_TIMEOUT_MILLISECONDS: i32 = 10_000;

/// What became of a `t/identify` request.
pub enum Reply {
    /// A 200 answer with this JSON value (not checked yet).
    Answer(JsValue),
    /// An answer other than 200.
    ServerError,
    /// No answer within the timeout.
    Timeout,
    /// A network error, a blocked request (CORS, CSP, an ad blocker) or a body that is not JSON.
    Failure,
}

/// Sends `body` (a JSON string) to `url` and forgets it: `navigator.sendBeacon`, which survives
/// the page being closed, or `fetch` with `keepalive` where beacons are missing or refused.
/// `ignore` is a function that swallows the rejection of a failed `fetch`.
pub fn post(url: &str, body: &JsValue, ignore: &JsValue) {
    if let Ok(true) = browser::send_beacon(url, body) {
        return;
    }
    if let Ok(request) = browser::fetch(url, &init(body, None)) {
        request.then_or(&JsValue::UNDEFINED, ignore);
    }
}

/// Posts `body` (a JSON string) to `url` and calls `on_reply` exactly once: with the answer, or
/// after a failure or [`IDENTIFY_TIMEOUT_MILLISECONDS`]. `keepalive` lets the resolver record the
/// link even when the site navigates away right after login.
pub fn identify(
    url: &str,
    body: &JsValue,
    ignore: &JsValue,
    on_reply: impl FnOnce(Reply) + 'static,
) {
    let controller = AbortController::new().ok();
    let signal = controller.as_ref().map(AbortController::signal);
    let request = match browser::fetch(url, &init(body, signal.as_ref())) {
        Ok(request) => request,
        Err(_) => return on_reply(Reply::Failure),
    };
    if let Some(controller) = controller {
        let abort = Closure::<dyn Fn()>::new(move || controller.abort()).into_js_value();
        browser::set_timeout(&abort, IDENTIFY_TIMEOUT_MILLISECONDS);
    }
    // Every rejection becomes `undefined` before the last step, so `settle` (a one-shot closure)
    // is always called, and called once.
    let read_json = Closure::<dyn Fn(JsValue) -> JsValue>::new(read_json).into_js_value();
    let answered = request.then_or(&read_json, ignore);
    let answered = answered.then_or(&JsValue::UNDEFINED, ignore);
    // `Fn`, not `FnOnce`: one closure kind keeps the glue small; the reply is taken out once.
    let on_reply = Cell::new(Some(on_reply));
    let settle = Closure::<dyn Fn(JsValue)>::new(move |answer: JsValue| {
        let Some(on_reply) = on_reply.take() else {
            return;
        };
        let timed_out = signal.as_ref().is_some_and(|signal| {
            browser::get(signal, "aborted").is_ok_and(|aborted| aborted.is_truthy())
        });
        on_reply(if answer.is_null() {
            Reply::ServerError
        } else if !answer.is_undefined() {
            Reply::Answer(answer)
        } else if timed_out {
            Reply::Timeout
        } else {
            Reply::Failure
        });
    })
    .into_js_value();
    answered.then_or(&settle, &JsValue::UNDEFINED);
}

/// Turns a `Response` into (a promise of) its JSON when it is a 200, into `null` otherwise.
fn read_json(response: JsValue) -> JsValue {
    let response: Response = response.unchecked_into();
    if response.status() != 200 {
        return JsValue::NULL;
    }
    response.json().map_or(JsValue::UNDEFINED, JsValue::from)
}

/// The `fetch` options: a simple CORS request that sends no cookies of the resolver's host.
fn init(body: &JsValue, signal: Option<&JsValue>) -> JsValue {
    let no_signal = JsValue::UNDEFINED;
    browser::object(&[
        ("method", &"POST".into()),
        ("body", body),
        ("keepalive", &true.into()),
        ("mode", &"cors".into()),
        ("credentials", &"omit".into()),
        ("signal", signal.unwrap_or(&no_signal)),
    ])
    .into()
}
