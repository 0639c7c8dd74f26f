//! The tracker's state and the `_ssrm` commands (spec/tracker.md, "The queue" and its table).
//! A command never throws: every problem is one `console.warn`, and the next command still runs.
//! The state is borrowed only for short reads and writes, never while a site's function runs, so
//! a callback that pushes more commands cannot trip over a borrow.

use crate::browser::{self, warn, Array, Function, Object, DOCUMENT, HISTORY, LOCATION, WINDOW};
use crate::cookie::{self, Scope};
use crate::resolver::{self, Reply};
use crate::suid;
use alloc::rc::Rc;
use alloc::string::String;
use alloc::vec::Vec;
use core::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// Page views and events kept while consent is awaited; more are dropped.
const MAX_HELD_REQUESTS: usize = 32;
/// An SPA updates its title after `pushState`; the page view waits this long to see it.
const NAVIGATION_DELAY_MILLISECONDS: i32 = 100;

#[derive(Clone, Copy, PartialEq)]
enum Consent {
    /// No `requireConsent`: track.
    NotRequired,
    /// `requireConsent` without an answer yet: no cookie, no request; page views and events wait.
    Awaited,
    Given,
    Refused,
}

impl Consent {
    fn allows_tracking(self) -> bool {
        matches!(self, Consent::NotRequired | Consent::Given)
    }
}

/// An endpoint under the resolver base.
#[derive(Clone, Copy)]
enum Endpoint {
    PageView,
    Event,
    Identify,
}

impl Endpoint {
    fn path(self) -> &'static str {
        match self {
            Endpoint::PageView => "t/pageview",
            Endpoint::Event => "t/event",
            Endpoint::Identify => "t/identify",
        }
    }
}

struct State {
    /// The resolver's base URL, ending with `/`.
    base: String,
    /// `this` of function commands; after boot also `window._ssrm`.
    tracker: JsValue,
    /// The key from `setSite` (a non-empty string), else `undefined`: `JSON.stringify` then leaves
    /// `site` out of the body and the resolver knows the site from the page's origin alone.
    site: JsValue,
    cookie_domain: Option<String>,
    consent: Consent,
    auto_page_views: bool,
    /// The suid in use: the cookie's, or the one the cookie could not keep (cookies blocked).
    suid: Option<String>,
    /// The address of the last page view: the next one's referrer, and SPA de-duplication.
    last_page_url: Option<String>,
    /// Page views and events waiting for consent, without site and suid yet.
    held: Vec<(Endpoint, Object)>,
    /// A function that swallows a rejected promise (a failed beacon has nobody to tell).
    ignore: JsValue,
}

/// The tracker: cheap to clone (one shared state), so closures the browser calls later (SPA
/// navigation, the trackUser reply) keep their own handle. No global state.
#[derive(Clone)]
pub struct Tracker(Rc<RefCell<State>>);

impl Tracker {
    /// A tracker that sends to `base` (the resolver's base URL, ending with `/`) and calls function
    /// commands with `this` = `object` (the object that becomes `window._ssrm`).
    pub fn new(base: String, object: JsValue) -> Tracker {
        Tracker(Rc::new(RefCell::new(State {
            base,
            tracker: object,
            site: JsValue::UNDEFINED,
            cookie_domain: None,
            consent: Consent::NotRequired,
            auto_page_views: true,
            suid: None,
            last_page_url: None,
            held: Vec::new(),
            ignore: Closure::<dyn Fn(JsValue)>::new(|_| {}).into_js_value(),
        })))
    }

    fn with<R>(&self, change: impl FnOnce(&mut State) -> R) -> R {
        match self.0.try_borrow_mut() {
            Ok(mut state) => change(&mut state),
            // No `change` calls into the page, so this cannot happen; a trap (as a panic is on
            // wasm) without a message keeps `BorrowMutError`'s formatting out of the bundle.
            Err(_) => unreachable_state(),
        }
    }

    /// Starts the tracker once the module is instantiated: runs the queued commands in order, puts
    /// the tracker object in place of the `window._ssrm` array, refreshes the cookie, and records the
    /// page view (and later SPA navigations) unless `disableAutoPageViews` was queued.
    pub fn start(&self) {
        let window = WINDOW.with(JsValue::clone);
        if let Ok(queue) = browser::get(&window, "_ssrm") {
            if Array::is_array(&queue) {
                let queue: Array = queue.unchecked_into();
                // `length` is read each time: a queued function may push more commands.
                let mut index = 0;
                while index < queue.length() {
                    self.run(&queue.get(index));
                    index += 1;
                }
            }
        }
        browser::set(&window, "_ssrm", &self.with(|state| state.tracker.clone()));
        if self.with(|state| state.consent.allows_tracking()) {
            self.refresh_cookie();
        }
        if self.with(|state| state.auto_page_views) {
            self.track_page_view(&JsValue::UNDEFINED, &JsValue::UNDEFINED);
            self.watch_navigation();
        }
    }

    /// Runs one command: `[name, ...args]`, or a function called with `this` = the tracker object,
    /// bare or wrapped in an array (`[function () {…}]`, Matomo's habit).
    pub fn run(&self, command: &JsValue) {
        let is_array = Array::is_array(command);
        let first = match is_array {
            true => command.unchecked_ref::<Array>().get(0),
            false => command.clone(),
        };
        if first.is_function() {
            let tracker = self.with(|state| state.tracker.clone());
            if let Err(error) = first.unchecked_ref::<Function>().call0(&tracker) {
                warn("ssrm: a queued function threw", &error);
            }
            return;
        }
        let name = match is_array {
            true => first.as_string(),
            false => None,
        };
        let Some(name) = name else {
            return warn(
                "ssrm: a command is [name, ...arguments] or a function; ignored",
                command,
            );
        };
        let command: &Array = command.unchecked_ref();
        let argument = |index: u32| command.get(index);
        match name.as_str() {
            "setSite" => self.set_site(&argument(1)),
            "trackPageView" => self.track_page_view(&argument(1), &argument(2)),
            "trackEvent" => self.track_event(&argument(1), &argument(2)),
            "trackUser" => self.track_user(&argument(1), &argument(2), &argument(3)),
            "setCookieDomain" => self.set_cookie_domain(&argument(1)),
            "resetUser" => self.reset_user(),
            "disableAutoPageViews" => self.with(|state| state.auto_page_views = false),
            "requireConsent" => self.with(|state| {
                if state.consent == Consent::NotRequired {
                    state.consent = Consent::Awaited;
                }
            }),
            "setConsent" => self.set_consent(argument(1).is_truthy()),
            _ => warn("ssrm: unknown command; ignored", command),
        }
    }

    /// The suid for `getSuid()`: created (with its cookie) when tracking is allowed, otherwise the
    /// one already there, or `""`.
    pub fn suid_for_site(&self) -> String {
        if self.with(|state| state.consent.allows_tracking()) {
            return self.current_suid();
        }
        cookie::read()
            .or_else(|| self.with(|state| state.suid.clone()))
            .unwrap_or_default()
    }

    fn set_site(&self, key: &JsValue) {
        match key.as_string().is_some_and(|key| !key.is_empty()) {
            true => self.with(|state| state.site = key.clone()),
            false => warn("ssrm: setSite needs the site key (a string)", key),
        }
    }

    fn set_cookie_domain(&self, domain: &JsValue) {
        let valid = domain.as_string().filter(|domain| {
            !domain.is_empty()
                && !domain
                    .bytes()
                    .any(|byte| byte == b';' || byte.is_ascii_whitespace())
        });
        let Some(valid) = valid else {
            return warn(
                "ssrm: setCookieDomain needs a domain such as '.example.com'",
                domain,
            );
        };
        let moved = self.with(|state| {
            state.cookie_domain = Some(valid);
            state.consent.allows_tracking() && state.suid.is_some()
        });
        // Once a cookie exists (the command came after load), it moves to the domain now.
        if moved {
            self.refresh_cookie();
        }
    }

    /// `['trackPageView']` or `['trackPageView', url, title]`.
    fn track_page_view(&self, url: &JsValue, title: &JsValue) {
        let page = browser::page_url();
        let url = match url.is_undefined() || url.is_null() {
            true => page,
            false => browser::Url::new(url, &page)
                .map_or_else(|_| url.as_string().unwrap_or_default(), |url| url.href()),
        };
        let title = match title.is_string() {
            true => title.clone(),
            false => DOCUMENT.with(browser::Document::title),
        };
        let referrer = self.with(|state| state.last_page_url.replace(url.clone()));
        let referrer =
            referrer.map_or_else(|| DOCUMENT.with(browser::Document::referrer), JsValue::from);
        let fields = browser::object(&[
            ("url", &url.into()),
            ("title", &title),
            ("referrer", &referrer),
        ]);
        self.send(Endpoint::PageView, fields);
    }

    /// `['trackEvent', name, props]`: `props` is an object (missing means `{}`).
    fn track_event(&self, name: &JsValue, props: &JsValue) {
        if name.as_string().is_none_or(|name| name.is_empty()) {
            return warn("ssrm: trackEvent needs an event name (a string)", name);
        }
        let props = match props.is_object() {
            true => props.clone(),
            false if props.is_undefined() || props.is_null() => Object::new().into(),
            false => return warn("ssrm: trackEvent props must be an object", props),
        };
        let url = JsValue::from(browser::page_url());
        self.send(
            Endpoint::Event,
            browser::object(&[("name", name), ("props", &props), ("url", &url)]),
        );
    }

    /// `['trackUser', value, callback, {hash}]` (spec/tracker.md, "trackUser").
    fn track_user(&self, value: &JsValue, callback: &JsValue, options: &JsValue) {
        let given_callback = callback;
        let callback = given_callback
            .is_function()
            .then(|| given_callback.clone().unchecked_into::<Function>());
        if callback.is_none() && !given_callback.is_undefined() && !given_callback.is_null() {
            warn(
                "ssrm: trackUser's second argument must be a function",
                given_callback,
            );
        }
        let (site, consent, base) =
            self.with(|state| (state.site.clone(), state.consent, state.base.clone()));
        if !consent.allows_tracking() {
            return answer(
                callback,
                false,
                &self.suid_for_site(),
                "Brak zgody na śledzenie w tej przeglądarce",
            );
        }
        let suid = self.current_suid();
        // A phone number written as a JS number is sent as its digits.
        let value = match value.as_f64() {
            Some(_) => browser::stringify(value).unwrap_or_default(),
            None => value.clone(),
        };
        if !value.is_string() {
            return answer(
                callback,
                false,
                &suid,
                "Podaj numer telefonu lub adres e-mail",
            );
        }
        let hash = match options.is_object() {
            true => browser::get(options, "hash").unwrap_or_default(),
            false => JsValue::NULL,
        };
        let hash = if hash.is_string() {
            hash
        } else {
            JsValue::NULL
        };
        let fields = [
            ("site", &site),
            ("suid", &suid.as_str().into()),
            ("value", &value),
            ("hash", &hash),
        ];
        let Ok(body) = browser::stringify(&browser::object(&fields)) else {
            return answer(
                callback,
                false,
                &suid,
                "Podaj numer telefonu lub adres e-mail",
            );
        };
        let url = base + Endpoint::Identify.path();
        let tracker = self.clone();
        let ignore = self.with(|state| state.ignore.clone());
        resolver::identify(&url, &body, &ignore, move |reply| {
            tracker.settle_track_user(reply, callback, suid)
        });
    }

    /// Applies the resolver's reply: a successful answer with a valid suid rewrites the cookie; then
    /// the callback runs, in every case.
    fn settle_track_user(&self, reply: Reply, callback: Option<Function>, suid_before: String) {
        let answer_json = match reply {
            Reply::Answer(answer) => answer,
            Reply::Timeout => {
                return answer(
                    callback,
                    false,
                    &suid_before,
                    "Przekroczono czas oczekiwania na odpowiedź serwera",
                )
            }
            Reply::Failure => {
                return answer(callback, false, &suid_before, "Brak połączenia z serwerem")
            }
            Reply::ServerError => return answer(callback, false, &suid_before, "Błąd serwera"),
        };
        let field = |name: &str| browser::get(&answer_json, name).unwrap_or_default();
        let success = field("success").as_bool() == Some(true);
        let answered_suid = field("suid")
            .as_string()
            .and_then(|suid| suid::parse(suid.as_bytes()));
        let message = field("message").as_string();
        let message = message.as_deref().unwrap_or("Błędna odpowiedź serwera");
        match (success, answered_suid) {
            (true, Some(suid)) => {
                let allowed = self.with(|state| {
                    state.suid = Some(suid.clone());
                    state.consent.allows_tracking()
                });
                if allowed {
                    self.write_cookie(&suid);
                }
                answer(callback, true, &suid, message)
            }
            (true, None) => answer(callback, false, &suid_before, "Błędna odpowiedź serwera"),
            (false, _) => answer(callback, false, &suid_before, message),
        }
    }

    /// `['resetUser']`: a fresh anonymous suid (logout on a shared computer).
    fn reset_user(&self) {
        let allowed = self.with(|state| {
            state.suid = None;
            state.consent.allows_tracking()
        });
        if allowed {
            self.write_cookie(&new_suid());
        } else {
            self.delete_cookie();
        }
    }

    /// `['setConsent', true/false]`: given sends what waited; refused deletes the cookie for good.
    fn set_consent(&self, given: bool) {
        if !given {
            self.with(|state| {
                state.consent = Consent::Refused;
                state.suid = None;
                state.held.clear();
            });
            return self.delete_cookie();
        }
        let held = self.with(|state| {
            state.consent = Consent::Given;
            core::mem::take(&mut state.held)
        });
        self.refresh_cookie();
        for (endpoint, fields) in held {
            self.send(endpoint, fields);
        }
    }

    /// Sends a page view or an event, or keeps it while consent is awaited.
    fn send(&self, endpoint: Endpoint, fields: Object) {
        let (consent, site) = self.with(|state| (state.consent, state.site.clone()));
        match consent {
            Consent::Refused => return,
            Consent::Awaited => {
                return self.with(|state| {
                    if state.held.len() < MAX_HELD_REQUESTS {
                        state.held.push((endpoint, fields));
                    }
                })
            }
            Consent::NotRequired | Consent::Given => {}
        }
        let body = browser::object(&[("site", &site), ("suid", &self.current_suid().into())]);
        let body = Object::assign(&body, &fields);
        match browser::stringify(&body) {
            Ok(json) => {
                let (url, ignore) =
                    self.with(|state| (state.base.clone() + endpoint.path(), state.ignore.clone()));
                resolver::post(&url, &json, &ignore)
            }
            Err(error) => warn("ssrm: this event cannot be sent as JSON", &error),
        }
    }

    /// The suid to send: the cookie's, else the one in memory, else a new one; a missing or invalid
    /// cookie is (re)written. Call only when consent allows tracking.
    fn current_suid(&self) -> String {
        if let Some(suid) = cookie::read() {
            return self.with(|state| state.suid.insert(suid).clone());
        }
        let suid = self
            .with(|state| state.suid.clone())
            .unwrap_or_else(new_suid);
        self.write_cookie(&suid);
        suid
    }

    /// Rewrites the cookie with a fresh `Max-Age` ("refreshed on each visit").
    fn refresh_cookie(&self) {
        let suid = cookie::read()
            .or_else(|| self.with(|state| state.suid.clone()))
            .unwrap_or_else(new_suid);
        self.write_cookie(&suid);
    }

    fn write_cookie(&self, suid: &str) {
        let domain = self.with(|state| {
            state.suid = Some(String::from(suid));
            state.cookie_domain.clone()
        });
        let secure = LOCATION.with(browser::Location::protocol) == "https:";
        cookie::write(
            suid,
            &Scope {
                domain: domain.as_deref(),
                secure,
            },
        );
    }

    fn delete_cookie(&self) {
        let domain = self.with(|state| state.cookie_domain.clone());
        let secure = LOCATION.with(browser::Location::protocol) == "https:";
        cookie::delete(&Scope {
            domain: domain.as_deref(),
            secure,
        });
    }

    /// SPA navigation: a page view after `history.pushState` and on `popstate`, once the app had a
    /// moment to set the title, and only when the address changed.
    fn watch_navigation(&self) {
        let tracker = self.clone();
        let track = Closure::<dyn Fn()>::new(move || {
            let page = browser::page_url();
            let changed = tracker.with(|state| {
                state.auto_page_views && state.last_page_url.as_deref() != Some(&page)
            });
            if changed {
                tracker.track_page_view(&JsValue::UNDEFINED, &JsValue::UNDEFINED);
            }
        })
        .into_js_value();
        let schedule = {
            let track = track.clone();
            Closure::<dyn Fn()>::new(move || {
                browser::set_timeout(&track, NAVIGATION_DELAY_MILLISECONDS)
            })
            .into_js_value()
        };
        browser::add_event_listener("popstate", &schedule);
        let history = HISTORY.with(JsValue::clone);
        let Ok(original) = browser::get(&history, "pushState") else {
            return;
        };
        if !original.is_function() {
            return;
        }
        let original: Function = original.unchecked_into();
        let target = history.clone();
        // Same arguments, same `this`, same result or exception as the page's own pushState.
        let push_state =
            Closure::<dyn Fn(JsValue, JsValue, JsValue) -> Result<JsValue, JsValue>>::new(
                move |state: JsValue, unused: JsValue, url: JsValue| {
                    let result = original.call3(&target, &state, &unused, &url);
                    if result.is_ok() {
                        browser::set_timeout(&track, NAVIGATION_DELAY_MILLISECONDS);
                    }
                    result
                },
            );
        browser::set(&history, "pushState", &push_state.into_js_value());
    }
}

/// Calls the site's trackUser callback as `cb.call(answer, answer)`.
fn answer(callback: Option<Function>, success: bool, suid: &str, message: &str) {
    let Some(callback) = callback else { return };
    let answer: JsValue = browser::object(&[
        ("success", &success.into()),
        ("suid", &suid.into()),
        ("message", &message.into()),
    ])
    .into();
    if let Err(error) = callback.call1(&answer, &answer) {
        warn("ssrm: the trackUser callback threw", &error);
    }
}

/// `crypto.randomUUID()`, or `crypto.getRandomValues` where that is missing (plain-http pages are
/// not secure contexts), or `Math.random` as the last resort.
fn new_suid() -> String {
    if let Some(suid) = browser::random_uuid()
        .ok()
        .and_then(|suid| suid::parse(suid.as_bytes()))
    {
        return suid;
    }
    let mut bytes = [0u8; 16];
    if browser::get_random_values(&mut bytes).is_err() {
        for byte in &mut bytes {
            *byte = (browser::random() * 256.0) as u8;
        }
    }
    suid::from_random_bytes(bytes)
}

/// Stops the module: the tracker's state was borrowed twice (a bug).
#[cfg(target_arch = "wasm32")]
fn unreachable_state() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn unreachable_state() -> ! {
    unreachable!("tracker state borrowed twice")
}
