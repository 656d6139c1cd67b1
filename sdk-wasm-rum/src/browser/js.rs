//! The JavaScript API, exported by wasm-bindgen: a drop-in for web-vitals users.

use js_sys::{Array, Function};
use sdk_core::rum::{VitalName, VitalReport};
use serde::Serialize;
use wasm_bindgen::prelude::*;

use super::{ReportOptions, RumConfig, disconnect, route_changed, start_rum, subscribe};

#[wasm_bindgen]
extern "C" {
    /// `{ reportAllChanges }`.
    pub type JsReportOptions;
    #[wasm_bindgen(method, getter, js_name = reportAllChanges)]
    fn report_all_changes(this: &JsReportOptions) -> Option<bool>;

    /// `startRum`'s options.
    pub type JsRumOptions;
    #[wasm_bindgen(method, getter)]
    fn endpoint(this: &JsRumOptions) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn service(this: &JsRumOptions) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn version(this: &JsRumOptions) -> Option<String>;
    #[wasm_bindgen(method, getter)]
    fn env(this: &JsRumOptions) -> Option<String>;
    #[wasm_bindgen(method, getter, js_name = sampleRate)]
    fn sample_rate(this: &JsRumOptions) -> Option<f64>;
    #[wasm_bindgen(method, getter)]
    fn routes(this: &JsRumOptions) -> Option<Array>;
    #[wasm_bindgen(method, getter, js_name = otlpEndpoint)]
    fn otlp_endpoint(this: &JsRumOptions) -> Option<String>;
}

fn js_subscribe(name: VitalName, callback: Function, options: Option<JsReportOptions>) -> JsValue {
    let report_all_changes = options
        .and_then(|options| options.report_all_changes())
        .unwrap_or(false);
    let subscription = subscribe(
        name,
        move |report: &VitalReport| {
            if let Ok(value) = report.serialize(&serde_wasm_bindgen::Serializer::json_compatible())
            {
                let _ = callback.call1(&JsValue::NULL, &value);
            }
        },
        ReportOptions { report_all_changes },
    );
    Closure::once_into_js(move || subscription.disconnect())
}

/// JavaScript `onLCP(callback, { reportAllChanges })`; returns a function that stops it.
#[wasm_bindgen(js_name = onLCP)]
pub fn on_lcp_js(callback: Function, options: Option<JsReportOptions>) -> JsValue {
    js_subscribe(VitalName::Lcp, callback, options)
}

/// JavaScript `onINP(callback, { reportAllChanges })`.
#[wasm_bindgen(js_name = onINP)]
pub fn on_inp_js(callback: Function, options: Option<JsReportOptions>) -> JsValue {
    js_subscribe(VitalName::Inp, callback, options)
}

/// JavaScript `onCLS(callback, { reportAllChanges })`.
#[wasm_bindgen(js_name = onCLS)]
pub fn on_cls_js(callback: Function, options: Option<JsReportOptions>) -> JsValue {
    js_subscribe(VitalName::Cls, callback, options)
}

/// JavaScript `onFCP(callback, { reportAllChanges })`.
#[wasm_bindgen(js_name = onFCP)]
pub fn on_fcp_js(callback: Function, options: Option<JsReportOptions>) -> JsValue {
    js_subscribe(VitalName::Fcp, callback, options)
}

/// JavaScript `onTTFB(callback, { reportAllChanges })`.
#[wasm_bindgen(js_name = onTTFB)]
pub fn on_ttfb_js(callback: Function, options: Option<JsReportOptions>) -> JsValue {
    js_subscribe(VitalName::Ttfb, callback, options)
}

/// JavaScript `onFID(callback, { reportAllChanges })`.
#[wasm_bindgen(js_name = onFID)]
pub fn on_fid_js(callback: Function, options: Option<JsReportOptions>) -> JsValue {
    js_subscribe(VitalName::Fid, callback, options)
}

/// JavaScript `disconnect()`.
#[wasm_bindgen(js_name = disconnect)]
pub fn disconnect_js() {
    disconnect();
}

/// JavaScript `routeChanged()`.
#[wasm_bindgen(js_name = routeChanged)]
pub fn route_changed_js() {
    route_changed();
}

/// JavaScript `startRum({ endpoint, service, version, env, sampleRate, routes,
/// otlpEndpoint })`; throws when `endpoint` or `service` is missing.
#[wasm_bindgen(js_name = startRum)]
pub fn start_rum_js(options: JsRumOptions) -> Result<bool, JsValue> {
    let (Some(endpoint), Some(service)) = (options.endpoint(), options.service()) else {
        return Err("startRum: `endpoint` and `service` are required".into());
    };
    let routes = options
        .routes()
        .map(|routes| routes.into_iter().filter_map(|r| r.as_string()).collect())
        .unwrap_or_default();
    Ok(start_rum(RumConfig {
        endpoint,
        service,
        version: options.version(),
        env: options.env(),
        sample_rate: options.sample_rate().unwrap_or(1.0),
        routes,
        otlp_endpoint: options.otlp_endpoint(),
    }))
}
