//! `startRum`: every metric, uncaught errors and unhandled rejections collected into one
//! batch per page view (and route), sent when the page is hidden with
//! `navigator.sendBeacon` (which survives unload), or with `fetch(…, {keepalive: true})`
//! when the beacon is refused, the batch fills up, or a single-page-app route changes.
//! Optionally the same values go to an OpenTelemetry collector as OTLP/HTTP JSON
//! `browser.web_vital` log events.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{JSON, Object, Reflect};
use sdk_core::rum::{BrowserErrorKind, MAX_ERRORS, MAX_VITALS, VitalName, VitalReport};
use sdk_core::semconv::{browser, url};
use serde::Serialize;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::sys::{self, DOCUMENT, Event, LOCATION, NAVIGATOR, ServerTiming};
use super::vitals;
use crate::report::{Collector, sampled, trace_id_of_traceparent};
use crate::routes::RouteMap;

/// What `startRum` is given.
#[derive(Debug, Clone, PartialEq)]
pub struct RumConfig {
    /// Where beacons go: the ingestion route (`POST`), e.g. `/rum` or an absolute URL.
    pub endpoint: String,
    /// `service` of every beacon.
    pub service: String,
    /// Deployed version.
    pub version: Option<String>,
    /// Deployment environment.
    pub env: Option<String>,
    /// Share of page views measured, 0–1 (1 = all).
    pub sample_rate: f64,
    /// Route templates (`/products/{id}`); a path matching none is sent as `other`.
    pub routes: Vec<String>,
    /// Base URL of an OTLP/HTTP collector (`…/v1/logs` is appended); values are also sent
    /// there as `browser.web_vital` log events.
    pub otlp_endpoint: Option<String>,
}

struct Rum {
    endpoint: String,
    otlp_endpoint: Option<String>,
    routes: RouteMap,
    collector: Collector,
    /// Reports not yet sent to the collector sink (latest per id).
    otlp_pending: Vec<VitalReport>,
    flush_scheduled: bool,
    /// Error-only beacons sent so far (at most [`MAX_ERROR_BEACONS`] per page view).
    error_beacons: u32,
}

/// Error-only beacons per page view; later errors are only counted (`droppedErrors` of
/// the final beacon), so an error thrown every frame cannot flood the endpoint.
const MAX_ERROR_BEACONS: u32 = 8;

thread_local! {
    static RUM: RefCell<Option<Rum>> = const { RefCell::new(None) };
}

fn with_rum<T>(f: impl FnOnce(&mut Rum) -> T) -> Option<T> {
    RUM.with(|rum| rum.try_borrow_mut().ok()?.as_mut().map(f))
}

/// Starts collecting and sending. `false` when this page view was sampled out or
/// collection had already started.
pub(crate) fn start(config: RumConfig) -> bool {
    let started = RUM.with(|rum| rum.borrow().is_some());
    if started || !sampled(config.sample_rate, js_sys::Math::random()) {
        return false;
    }
    let routes = RouteMap::new(config.routes);
    let route = routes
        .route_of(&LOCATION.with(sys::Location::pathname))
        .to_owned();
    let mut collector = Collector::new(config.service, route).identity(config.version, config.env);
    collector.set_trace_id(backend_trace_id());
    RUM.with(|rum| {
        *rum.borrow_mut() = Some(Rum {
            endpoint: config.endpoint,
            otlp_endpoint: config.otlp_endpoint,
            routes,
            collector,
            otlp_pending: Vec::new(),
            flush_scheduled: false,
            error_beacons: 0,
        });
    });
    // Final values only (web-vitals' default reporting): a candidate such as an early LCP
    // never reaches a beacon.
    for name in VitalName::ALL {
        vitals::subscribe(name, false, Rc::new(RefCell::new(record)));
    }
    vitals::listen("error");
    vitals::listen("unhandledrejection");
    vitals::on_hidden(Rc::new(|| flush(true)));
    true
}

/// The backend's trace id: `Server-Timing: traceparent;desc="…"` of the document
/// response (sdk-tower sets it), else `<meta name="traceparent" content="…">`.
fn backend_trace_id() -> Option<String> {
    let from_header = vitals::navigation_entry()
        .and_then(|entry| entry.server_timing())
        .and_then(|timings| {
            timings.into_iter().find_map(|timing| {
                let timing: ServerTiming = timing.unchecked_into();
                (timing.name() == "traceparent")
                    .then(|| trace_id_of_traceparent(&timing.description()))
                    .flatten()
            })
        });
    from_header.or_else(|| {
        let meta = DOCUMENT.with(|d| d.query_selector("meta[name=traceparent]"))?;
        trace_id_of_traceparent(&meta.attribute("content")?)
    })
}

fn record(report: &VitalReport) {
    with_rum(|rum| {
        rum.collector.record_vital(report.clone());
        if rum.otlp_endpoint.is_some() {
            let pending = &mut rum.otlp_pending;
            if let Some(at) = pending.iter().position(|r| r.id == report.id) {
                pending[at] = report.clone();
            } else if pending.len() < MAX_VITALS {
                pending.push(report.clone());
            }
        }
    });
}

/// An uncaught error or unhandled rejection (resource load failures, which reach the
/// capturing listener as plain events without a message, are not errors of the page).
pub(crate) fn on_error(event: &Event) {
    let (kind, message) = if event.kind() == "unhandledrejection" {
        let reason = event.reason();
        let message = reason
            .as_string()
            .or_else(|| Reflect::get(&reason, &"message".into()).ok()?.as_string())
            .unwrap_or_else(|| "unhandled rejection".into());
        (BrowserErrorKind::UnhandledRejection, message)
    } else {
        match event.message() {
            Some(message) => (BrowserErrorKind::Error, message),
            None => return,
        }
    };
    let send_errors = with_rum(|rum| {
        rum.collector.record_error(kind, &message);
        let send = rum.collector.error_count() >= MAX_ERRORS
            && rum.error_beacons < MAX_ERROR_BEACONS
            && !rum.flush_scheduled;
        rum.flush_scheduled |= send;
        send
    });
    if send_errors == Some(true) {
        // From a timer, never from the handler that filled the batch.
        vitals::schedule(0, send_errors_only);
    }
}

/// A full batch of errors goes out on its own; the vitals wait for the page's end.
fn send_errors_only() {
    let Some((endpoint, beacon)) = with_rum(|rum| {
        rum.flush_scheduled = false;
        rum.error_beacons += 1;
        let beacon = rum
            .collector
            .take_errors()
            .and_then(|beacon| to_json(&beacon));
        (rum.endpoint.clone(), beacon)
    }) else {
        return;
    };
    if let Some(body) = beacon {
        post(&endpoint, &body, "text/plain;charset=UTF-8");
    }
}

/// Sends what was collected: `sendBeacon` when the page is being hidden (`unloading`),
/// `fetch` with `keepalive` otherwise or when the beacon is refused.
pub(crate) fn flush(unloading: bool) {
    let Some((endpoint, beacon, otlp)) = with_rum(|rum| {
        let beacon = rum
            .collector
            .take_beacon()
            .and_then(|beacon| to_json(&beacon));
        let otlp = rum.otlp_endpoint.clone().and_then(|endpoint| {
            let reports = std::mem::take(&mut rum.otlp_pending);
            let body = otlp_logs(&rum.collector, &reports)?;
            Some((endpoint, body))
        });
        (rum.endpoint.clone(), beacon, otlp)
    }) else {
        return;
    };
    if let Some(body) = beacon {
        let sent = unloading && NAVIGATOR.with(|n| n.send_beacon(&endpoint, &body)) == Ok(true);
        if !sent {
            post(&endpoint, &body, "text/plain;charset=UTF-8");
        }
    }
    if let Some((endpoint, body)) = otlp {
        let mut url = endpoint.trim_end_matches('/').to_owned();
        url.push_str("/v1/logs");
        post(&url, &body, "application/json");
    }
}

/// `fetch(url, {method: 'POST', body, keepalive: true})`; failures are ignored (and kept
/// out of the page's unhandled rejections).
fn post(url: &str, body: &str, content_type: &str) {
    let init = Object::new();
    let headers = Object::new();
    let ok = Reflect::set(&headers, &"content-type".into(), &content_type.into()).is_ok()
        && Reflect::set(&init, &"method".into(), &"POST".into()).is_ok()
        && Reflect::set(&init, &"body".into(), &body.into()).is_ok()
        && Reflect::set(&init, &"keepalive".into(), &true.into()).is_ok()
        && Reflect::set(&init, &"headers".into(), &headers).is_ok();
    if !ok {
        return;
    }
    if let Ok(promise) = sys::fetch(url, &init) {
        IGNORE.with(|ignore| {
            let _ = promise.catch(ignore);
        });
    }
}

thread_local! {
    static IGNORE: Closure<dyn FnMut(JsValue)> = Closure::new(|_: JsValue| {});
}

fn to_json<T: Serialize>(value: &T) -> Option<String> {
    let value = value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .ok()?;
    JSON::stringify(&value).ok()?.as_string()
}

/// Single-page apps: finalizes the current values, sends them under the old route, and
/// measures CLS and INP afresh under the route of the new `location.pathname`.
pub(crate) fn route_changed() {
    vitals::finalize();
    flush(false);
    let path = LOCATION.with(sys::Location::pathname);
    with_rum(|rum| {
        let route = rum.routes.route_of(&path).to_owned();
        rum.collector.set_route(route);
    });
    vitals::restart_for_route();
}

/// Stops collecting (after `disconnect()`).
pub(crate) fn stop() {
    RUM.with(|rum| {
        if let Ok(mut rum) = rum.try_borrow_mut() {
            *rum = None;
        }
    });
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogsRequest<'a> {
    resource_logs: [ResourceLogs<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ResourceLogs<'a> {
    resource: Attributes<'a>,
    scope_logs: [ScopeLogs<'a>; 1],
}

#[derive(Serialize)]
struct Attributes<'a> {
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ScopeLogs<'a> {
    scope: Scope,
    log_records: Vec<LogRecord<'a>>,
}

#[derive(Serialize)]
struct Scope {
    name: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LogRecord<'a> {
    time_unix_nano: String,
    event_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_id: Option<&'a str>,
    attributes: Vec<KeyValue<'a>>,
}

#[derive(Serialize)]
struct KeyValue<'a> {
    key: &'static str,
    value: AnyValue<'a>,
}

#[derive(Serialize)]
enum AnyValue<'a> {
    #[serde(rename = "stringValue")]
    String(&'a str),
    #[serde(rename = "doubleValue")]
    Double(f64),
}

/// An OTLP/HTTP JSON `ExportLogsServiceRequest` with one `browser.web_vital` event per
/// report.
fn otlp_logs(collector: &Collector, reports: &[VitalReport]) -> Option<String> {
    if reports.is_empty() {
        return None;
    }
    let mut time = String::new();
    vitals::push_integer(&mut time, js_sys::Date::now());
    time.push_str("000000");
    let mut resource = vec![KeyValue {
        key: "service.name",
        value: AnyValue::String(collector.service()),
    }];
    if let Some(version) = collector.version() {
        resource.push(KeyValue {
            key: "service.version",
            value: AnyValue::String(version),
        });
    }
    if let Some(env) = collector.env() {
        resource.push(KeyValue {
            key: "deployment.environment.name",
            value: AnyValue::String(env),
        });
    }
    let records = reports
        .iter()
        .map(|report| LogRecord {
            time_unix_nano: time.clone(),
            event_name: browser::WEB_VITAL_EVENT,
            trace_id: collector.trace_id(),
            attributes: vec![
                KeyValue {
                    key: browser::WEB_VITAL_NAME,
                    value: AnyValue::String(report.name.as_str()),
                },
                KeyValue {
                    key: browser::WEB_VITAL_VALUE,
                    value: AnyValue::Double(report.value),
                },
                KeyValue {
                    key: browser::WEB_VITAL_DELTA,
                    value: AnyValue::Double(report.delta),
                },
                KeyValue {
                    key: browser::WEB_VITAL_ID,
                    value: AnyValue::String(&report.id),
                },
                KeyValue {
                    key: browser::WEB_VITAL_RATING,
                    value: AnyValue::String(report.rating.as_str()),
                },
                KeyValue {
                    key: browser::WEB_VITAL_NAVIGATION_TYPE,
                    value: AnyValue::String(report.navigation_type.as_str()),
                },
                KeyValue {
                    key: url::TEMPLATE,
                    value: AnyValue::String(collector.route()),
                },
            ],
        })
        .collect();
    to_json(&LogsRequest {
        resource_logs: [ResourceLogs {
            resource: Attributes {
                attributes: resource,
            },
            scope_logs: [ScopeLogs {
                scope: Scope {
                    name: "sdk-wasm-rum",
                },
                log_records: records,
            }],
        }],
    })
}
