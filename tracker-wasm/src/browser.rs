//! The browser APIs the tracker calls, bound by hand: each binding is one small import in the glue,
//! and request bodies stay JS strings instead of round-tripping through Rust. Nothing here decides
//! anything. A binding marked `catch` is one that can throw in a real browser (blocked cookies,
//! missing APIs in old or insecure contexts); the callers turn that into a fallback, never a throw.

use alloc::string::String;
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = window)]
    pub static WINDOW: JsValue;

    pub type Object;
    #[wasm_bindgen(constructor, js_class = Object)]
    pub fn new() -> Object;
    #[wasm_bindgen(js_namespace = Object)]
    pub fn assign(target: &Object, source: &Object) -> Object;

    /// Throws when `target` is not an object (`null`, `undefined`).
    #[wasm_bindgen(js_namespace = Reflect, catch)]
    pub fn get(target: &JsValue, key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    pub fn set(target: &JsValue, key: &str, value: &JsValue);

    /// Throws on cycles and BigInts; `undefined` for a function or `undefined`.
    #[wasm_bindgen(js_namespace = JSON, catch)]
    pub fn stringify(value: &JsValue) -> Result<JsValue, JsValue>;

    pub type Array;
    #[wasm_bindgen(js_namespace = Array, js_name = isArray)]
    pub fn is_array(value: &JsValue) -> bool;
    #[wasm_bindgen(method, getter)]
    pub fn length(this: &Array) -> u32;
    #[wasm_bindgen(method, indexing_getter)]
    pub fn get(this: &Array, index: u32) -> JsValue;

    pub type Function;
    #[wasm_bindgen(method, catch, js_name = call)]
    pub fn call0(this: &Function, context: &JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = call)]
    pub fn call1(
        this: &Function,
        context: &JsValue,
        argument: &JsValue,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(method, catch, js_name = call)]
    pub fn call3(
        this: &Function,
        context: &JsValue,
        first: &JsValue,
        second: &JsValue,
        third: &JsValue,
    ) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(js_namespace = Math)]
    pub fn random() -> f64;

    pub type Document;
    #[wasm_bindgen(thread_local_v2, js_name = document)]
    pub static DOCUMENT: Document;
    /// Throws in sandboxed documents that have no cookies.
    #[wasm_bindgen(method, getter, catch)]
    pub fn cookie(this: &Document) -> Result<String, JsValue>;
    #[wasm_bindgen(method, setter = cookie, catch)]
    pub fn set_cookie(this: &Document, header: &str) -> Result<(), JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn title(this: &Document) -> JsValue;
    #[wasm_bindgen(method, getter)]
    pub fn referrer(this: &Document) -> JsValue;

    pub type Location;
    #[wasm_bindgen(thread_local_v2, js_name = location)]
    pub static LOCATION: Location;
    #[wasm_bindgen(method, getter)]
    pub fn href(this: &Location) -> String;
    #[wasm_bindgen(method, getter)]
    pub fn protocol(this: &Location) -> String;

    #[wasm_bindgen(thread_local_v2, js_name = history)]
    pub static HISTORY: JsValue;

    /// `console.warn(message, detail)`: how every problem of a site's command is reported.
    #[wasm_bindgen(js_namespace = console)]
    pub fn warn(message: &str, detail: &JsValue);

    /// Only in secure contexts (https, localhost).
    #[wasm_bindgen(js_namespace = crypto, js_name = randomUUID, catch)]
    pub fn random_uuid() -> Result<String, JsValue>;
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues, catch)]
    pub fn get_random_values(bytes: &mut [u8]) -> Result<JsValue, JsValue>;

    /// `false` when the browser would not queue the beacon (too large, or over its budget).
    #[wasm_bindgen(js_namespace = navigator, js_name = sendBeacon, catch)]
    pub fn send_beacon(url: &str, body: &JsValue) -> Result<bool, JsValue>;

    #[wasm_bindgen(catch)]
    pub fn fetch(url: &str, init: &JsValue) -> Result<Promise, JsValue>;

    pub type Promise;
    /// `promise.then(on_fulfilled, on_rejected)` with plain functions (or `undefined`), so a
    /// Rust closure can be handed over as a plain function.
    #[wasm_bindgen(method, js_name = then)]
    pub fn then_or(this: &Promise, on_fulfilled: &JsValue, on_rejected: &JsValue) -> Promise;

    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(callback: &JsValue, milliseconds: i32);
    #[wasm_bindgen(js_name = addEventListener)]
    pub fn add_event_listener(event: &str, listener: &JsValue);

    pub type AbortController;
    #[wasm_bindgen(constructor, catch)]
    pub fn new() -> Result<AbortController, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn signal(this: &AbortController) -> JsValue;
    #[wasm_bindgen(method)]
    pub fn abort(this: &AbortController);

    pub type Response;
    #[wasm_bindgen(method, getter)]
    pub fn status(this: &Response) -> u16;
    #[wasm_bindgen(method, catch)]
    pub fn json(this: &Response) -> Result<Promise, JsValue>;

    /// `new URL(url, base).href`: resolves a page address given relative to the current page.
    #[wasm_bindgen(js_name = URL)]
    pub type Url;
    #[wasm_bindgen(constructor, js_class = URL, catch)]
    pub fn new(url: &JsValue, base: &str) -> Result<Url, JsValue>;
    #[wasm_bindgen(method, getter)]
    pub fn href(this: &Url) -> String;
}

/// The current page address (`location.href`).
pub fn page_url() -> String {
    LOCATION.with(Location::href)
}

/// A plain JS object with these properties, in this order (the order `JSON.stringify` keeps).
pub fn object(properties: &[(&str, &JsValue)]) -> Object {
    let object = Object::new();
    for (key, value) in properties {
        set(&object, key, value);
    }
    object
}
