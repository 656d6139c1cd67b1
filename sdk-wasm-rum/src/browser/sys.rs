//! Typed bindings to the browser APIs the measurements read. web-sys has none of the
//! entry types (`LargestContentfulPaint`, `LayoutShift`, `PerformanceEventTiming`), nor
//! `activationStart`, `interactionCount`, `supportedEntryTypes` or `document.prerendering`,
//! so they are declared here; everything else is declared here too, so the bundle carries
//! glue for exactly what is used.

use js_sys::{Array, Function, Object};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// `PerformanceEntry`: what every entry type has.
    #[wasm_bindgen(extends = Object)]
    pub(crate) type PerformanceEntry;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn name(this: &PerformanceEntry) -> String;
    #[wasm_bindgen(method, getter, js_name = entryType)]
    pub(crate) fn entry_type(this: &PerformanceEntry) -> String;
    #[wasm_bindgen(method, getter, js_name = startTime)]
    pub(crate) fn start_time(this: &PerformanceEntry) -> f64;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn duration(this: &PerformanceEntry) -> f64;

    /// `LayoutShift` (Layout Instability API).
    #[wasm_bindgen(extends = PerformanceEntry)]
    pub(crate) type LayoutShift;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn value(this: &LayoutShift) -> f64;
    #[wasm_bindgen(method, getter, js_name = hadRecentInput)]
    pub(crate) fn had_recent_input(this: &LayoutShift) -> bool;

    /// `PerformanceEventTiming` (`event` and `first-input` entries).
    #[wasm_bindgen(extends = PerformanceEntry)]
    pub(crate) type PerformanceEventTiming;
    #[wasm_bindgen(method, getter, js_name = interactionId)]
    pub(crate) fn interaction_id(this: &PerformanceEventTiming) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = processingStart)]
    pub(crate) fn processing_start(this: &PerformanceEventTiming) -> f64;

    /// `PerformanceNavigationTiming`, with `activationStart` (prerendering) and
    /// `serverTiming`.
    #[wasm_bindgen(extends = PerformanceEntry)]
    pub(crate) type NavigationTiming;
    #[wasm_bindgen(method, getter, js_name = responseStart)]
    pub(crate) fn response_start(this: &NavigationTiming) -> f64;
    #[wasm_bindgen(method, getter, js_name = activationStart)]
    pub(crate) fn activation_start(this: &NavigationTiming) -> Option<f64>;
    #[wasm_bindgen(method, getter, js_name = type)]
    pub(crate) fn navigation_type(this: &NavigationTiming) -> String;
    #[wasm_bindgen(method, getter, js_name = serverTiming)]
    pub(crate) fn server_timing(this: &NavigationTiming) -> Option<Array>;

    /// `PerformanceServerTiming`: one metric of the document's `Server-Timing` header.
    pub(crate) type ServerTiming;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn name(this: &ServerTiming) -> String;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn description(this: &ServerTiming) -> String;

    /// `PerformanceObserver`.
    #[wasm_bindgen(extends = Object)]
    pub(crate) type PerformanceObserver;
    #[wasm_bindgen(constructor, catch)]
    pub(crate) fn new(callback: &Function) -> Result<PerformanceObserver, JsValue>;
    #[wasm_bindgen(method, catch)]
    pub(crate) fn observe(this: &PerformanceObserver, options: &Object) -> Result<(), JsValue>;
    #[wasm_bindgen(method)]
    pub(crate) fn disconnect(this: &PerformanceObserver);
    #[wasm_bindgen(method, js_name = takeRecords)]
    pub(crate) fn take_records(this: &PerformanceObserver) -> Array;
    #[wasm_bindgen(static_method_of = PerformanceObserver, getter, js_name = supportedEntryTypes)]
    pub(crate) fn supported_entry_types() -> Option<Array>;

    /// `PerformanceObserverEntryList`.
    pub(crate) type EntryList;
    #[wasm_bindgen(method, js_name = getEntries)]
    pub(crate) fn entries(this: &EntryList) -> Array;

    /// `window.performance`.
    pub(crate) type Performance;
    #[wasm_bindgen(thread_local_v2, js_name = performance)]
    pub(crate) static PERFORMANCE: Performance;
    #[wasm_bindgen(method)]
    pub(crate) fn now(this: &Performance) -> f64;
    #[wasm_bindgen(method, js_name = getEntriesByType)]
    pub(crate) fn entries_by_type(this: &Performance, kind: &str) -> Array;
    #[wasm_bindgen(method, getter, js_name = interactionCount)]
    pub(crate) fn interaction_count(this: &Performance) -> Option<f64>;

    /// `window.document`.
    pub(crate) type Document;
    #[wasm_bindgen(thread_local_v2, js_name = document)]
    pub(crate) static DOCUMENT: Document;
    #[wasm_bindgen(method, getter, js_name = visibilityState)]
    pub(crate) fn visibility_state(this: &Document) -> String;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn prerendering(this: &Document) -> Option<bool>;
    #[wasm_bindgen(method, getter, js_name = wasDiscarded)]
    pub(crate) fn was_discarded(this: &Document) -> Option<bool>;
    #[wasm_bindgen(method, getter, js_name = readyState)]
    pub(crate) fn ready_state(this: &Document) -> String;
    #[wasm_bindgen(method, js_name = querySelector)]
    pub(crate) fn query_selector(this: &Document, selector: &str) -> Option<Element>;

    /// An element; only `<meta content>` is read.
    pub(crate) type Element;
    #[wasm_bindgen(method, js_name = getAttribute)]
    pub(crate) fn attribute(this: &Element, name: &str) -> Option<String>;

    /// `window.location`.
    pub(crate) type Location;
    #[wasm_bindgen(thread_local_v2, js_name = location)]
    pub(crate) static LOCATION: Location;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn pathname(this: &Location) -> String;

    /// `window.navigator`.
    pub(crate) type Navigator;
    #[wasm_bindgen(thread_local_v2, js_name = navigator)]
    pub(crate) static NAVIGATOR: Navigator;
    #[wasm_bindgen(method, catch, js_name = sendBeacon)]
    pub(crate) fn send_beacon(this: &Navigator, url: &str, body: &str) -> Result<bool, JsValue>;

    /// An event of any type, with the fields of the ones handled here.
    #[wasm_bindgen(extends = Object)]
    pub(crate) type Event;
    #[wasm_bindgen(method, getter, js_name = type)]
    pub(crate) fn kind(this: &Event) -> String;
    #[wasm_bindgen(method, getter, js_name = timeStamp)]
    pub(crate) fn time_stamp(this: &Event) -> f64;
    #[wasm_bindgen(method, getter)]
    pub(crate) fn target(this: &Event) -> JsValue;
    #[wasm_bindgen(method, getter, js_name = isTrusted)]
    pub(crate) fn is_trusted(this: &Event) -> bool;
    /// `PageTransitionEvent.persisted`.
    #[wasm_bindgen(method, getter)]
    pub(crate) fn persisted(this: &Event) -> Option<bool>;
    /// `ErrorEvent.message`.
    #[wasm_bindgen(method, getter)]
    pub(crate) fn message(this: &Event) -> Option<String>;
    /// `PromiseRejectionEvent.reason`.
    #[wasm_bindgen(method, getter)]
    pub(crate) fn reason(this: &Event) -> JsValue;

    #[wasm_bindgen(js_name = addEventListener)]
    pub(crate) fn add_event_listener(kind: &str, listener: &Function, capture: bool);
    #[wasm_bindgen(js_name = removeEventListener)]
    pub(crate) fn remove_event_listener(kind: &str, listener: &Function, capture: bool);
    #[wasm_bindgen(js_name = setTimeout)]
    pub(crate) fn set_timeout(callback: &JsValue, ms: i32) -> JsValue;
    #[wasm_bindgen(js_name = requestAnimationFrame)]
    pub(crate) fn request_animation_frame(callback: &JsValue) -> JsValue;
    #[wasm_bindgen(js_name = fetch, catch)]
    pub(crate) fn fetch(url: &str, init: &Object) -> Result<js_sys::Promise, JsValue>;
}
