//! The ssrm browser tracker: the `_ssrm` command queue, the first-party `ssrm_user` cookie, and
//! the page views, events and trackUser calls sent to the resolver. The behaviour is specified in
//! `shared/spec/tracker.md`; this crate must never make a site's page throw or wait.
//!
//! # How it works
//! A site installs the snippet (a `window._ssrm` array, optionally with `['setSite', KEY]` or
//! the key in the script URL as `ssrm.js?site=KEY`, then
//! `<script async src="https://RESOLVER_HOST/ssrm.js">`). `scripts/build-tracker.sh` builds the
//! files served from `www/tracker/`:
//! - `ssrm.js`: one classic script, `tracker-wasm/loader/ssrm.js` with wasm-bindgen's
//!   `--target no-modules` glue pasted into it and the whole wrapped in one function, so no
//!   `wasm_bindgen` global is left behind and no module (with its own CORS fetch) is loaded. It
//!   takes the resolver base from its own `src` (the directory, and the `?query` if any for the
//!   wasm URL, so a versioned `ssrm.js?v=…` loads the matching `ssrm_bg.wasm?v=…`).
//! - `ssrm_bg.wasm`: this crate. The loader instantiates it, then calls [`boot`] with the base,
//!   the tracker object it made (`{push, getSuid}`) and the hooks `push` and `getSuid` call.
//!
//! [`boot`] runs the queued commands in order, replaces the `_ssrm` array with the tracker object,
//! refreshes the cookie, sends the page view, and wraps `history.pushState` (and listens to
//! `popstate`) for SPA page views. Requests go to `{base}t/pageview`, `{base}t/event`
//! (`navigator.sendBeacon`, else `fetch` with `keepalive`) and `{base}t/identify` (`fetch`, 10 s
//! timeout); every body is a JSON string sent as `text/plain;charset=UTF-8` (no CORS preflight).
//!
//! If WebAssembly cannot start, the loader prints one `console.warn` and leaves `_ssrm` an array:
//! nothing is lost, nothing throws.
//!
//! # What a site needs
//! - Content-Security-Policy: `script-src https://RESOLVER_HOST 'wasm-unsafe-eval'` and
//!   `connect-src https://RESOLVER_HOST` (the wasm file, the beacons and `fetch` are connections).
//! - The resolver serves `ssrm_bg.wasm` as `application/wasm` with `Access-Control-Allow-Origin`
//!   (the module is fetched cross-origin) and answers `t/identify` with CORS for the site's origin.
//!
//! # Consent
//! After `requireConsent` nothing is written or sent: page views and events wait in memory (at
//! most 32) until `setConsent(true)`; trackUser answers `success:false` at once. `setConsent(false)`
//! drops them, deletes the cookie and stops tracking until `setConsent(true)`. Consent is not
//! remembered: the site's consent manager repeats `setConsent(true)` on every page.
//!
//! # Size (every byte is downloaded by every visitor)
//! - On wasm the crate is `no_std` with a panic handler that only traps, and `lol_alloc`'s
//!   free-list allocator instead of dlmalloc: std's panic and formatting code is most of what a
//!   tiny module would otherwise ship.
//! - No js-sys, no web-sys, no serde, no `format!`: bodies are JS objects passed to
//!   `JSON.stringify`, browser calls are bound by hand in `browser.rs`, and only `Fn` closures are
//!   used (one closure kind in the glue).
//! - The build renames the module's imports and exports to one-letter names (wasm-opt), renames
//!   them to match in the glue (`loader/bundle.cjs`) and minifies `ssrm.js` with terser.
//! - The build writes brotli-11 and zopfli copies that the resolver sends as they are;
//!   `scripts/tracker-size.sh` measures what a running resolver sends: the budget is 12,288
//!   bytes brotli (13,824 gzip) in total, checked by `scripts/test.sh`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

mod browser;
mod cookie;
mod resolver;
mod suid;
mod tracker;

use alloc::string::String;
use wasm_bindgen::prelude::*;

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static ALLOCATOR: lol_alloc::LockedAllocator<lol_alloc::FreeListAllocator> =
    lol_alloc::LockedAllocator::new(lol_alloc::FreeListAllocator::new());

/// A panic is a bug; in the browser it stops this module (the page goes on) without linking
/// std's formatting machinery into the bundle.
#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Starts the tracker; called once by the loader. `base` is the resolver's base URL ending with
/// `/`; `object` becomes `window._ssrm` and `this` of function commands. Before the queued
/// commands run, `hooks` gets the two functions the loader's `object` calls: `run(command)` (runs
/// one command at once, never throws) and `getSuid()` (the visitor's suid; `""` while consent is
/// awaited and no cookie exists yet). They live on `hooks`, not on `object`, so the public face of
/// `_ssrm` stays `push` and `getSuid`.
#[wasm_bindgen]
pub fn boot(base: String, object: JsValue, hooks: JsValue) {
    let tracker = tracker::Tracker::new(base, object);
    let run = {
        let tracker = tracker.clone();
        Closure::<dyn Fn(JsValue)>::new(move |command: JsValue| tracker.run(&command))
    };
    let get_suid = {
        let tracker = tracker.clone();
        Closure::<dyn Fn() -> String>::new(move || tracker.suid_for_site())
    };
    browser::set(&hooks, "run", &run.into_js_value());
    browser::set(&hooks, "getSuid", &get_suid.into_js_value());
    tracker.start();
}
