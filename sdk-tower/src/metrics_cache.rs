//! Metric handles kept per label combination, so a request records without registering.

use metrics::{Gauge, Histogram, SharedString};
use sdk_core::catalogue::{
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_BODY_SIZE, HTTP_SERVER_REQUEST_DURATION,
    HTTP_SERVER_RESPONSE_BODY_SIZE,
};
use sdk_core::semconv::{error, http, network, url};
// Keys are method/route/status combinations chosen by the server, not by clients' raw
// input (routes are templates), so a fast non-keyed hash is safe here.
use rustc_hash::FxHashMap as HashMap;
use std::sync::{Arc, RwLock};

/// Most cached combinations; beyond it handles are registered per request (and the
/// catalogue's cardinality guard still bounds the series).
const MAX_CACHED: usize = 4096;

/// Labels of a finished request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FinishedKey {
    pub(crate) method: &'static str,
    pub(crate) route: Option<Arc<str>>,
    pub(crate) status: &'static str,
    pub(crate) error_type: Option<&'static str>,
    pub(crate) protocol: &'static str,
}

/// The handles a finished request records into.
pub(crate) struct FinishedHandles {
    pub(crate) duration: Histogram,
    pub(crate) request_size: Histogram,
    pub(crate) response_size: Histogram,
}

/// Method and route of a span name.
type NameKey = (&'static str, Option<Arc<str>>);

#[derive(Default)]
pub(crate) struct ServerHandles {
    finished: RwLock<HashMap<FinishedKey, Arc<FinishedHandles>>>,
    active: RwLock<HashMap<&'static str, Gauge>>,
    names: RwLock<HashMap<NameKey, Arc<str>>>,
}

impl ServerHandles {
    /// The span name `{method} {route}`, built once per combination.
    pub(crate) fn span_name(&self, method: &'static str, route: Option<&Arc<str>>) -> Arc<str> {
        let key = (method, route.cloned());
        if let Some(name) = self.names.read().ok().and_then(|m| m.get(&key).cloned()) {
            return name;
        }
        let name: Arc<str> =
            sdk_core::semconv::http_span_name(method, route.map(|r| r.as_ref())).into();
        if let Ok(mut map) = self.names.write()
            && map.len() < MAX_CACHED
        {
            map.entry(key).or_insert_with(|| Arc::clone(&name));
        }
        name
    }

    pub(crate) fn active(&self, method: &'static str, scheme: &'static str) -> Gauge {
        if let Some(gauge) = self.active.read().ok().and_then(|m| m.get(method).cloned()) {
            return gauge;
        }
        let gauge = HTTP_SERVER_ACTIVE_REQUESTS.gauge(&[
            (http::REQUEST_METHOD, SharedString::const_str(method)),
            (url::SCHEME, SharedString::const_str(scheme)),
        ]);
        if let Ok(mut map) = self.active.write() {
            map.entry(method).or_insert_with(|| gauge.clone());
        }
        gauge
    }

    pub(crate) fn finished(&self, key: &FinishedKey, scheme: &'static str) -> Arc<FinishedHandles> {
        if let Some(found) = self.finished.read().ok().and_then(|m| m.get(key).cloned()) {
            return found;
        }
        let mut labels: Vec<(&'static str, SharedString)> = vec![
            (http::REQUEST_METHOD, SharedString::const_str(key.method)),
            (
                http::RESPONSE_STATUS_CODE,
                SharedString::const_str(key.status),
            ),
            (url::SCHEME, SharedString::const_str(scheme)),
            (
                network::PROTOCOL_VERSION,
                SharedString::const_str(key.protocol),
            ),
        ];
        if let Some(route) = &key.route {
            labels.push((http::ROUTE, SharedString::from_owned(route.to_string())));
        }
        if let Some(error_type) = key.error_type {
            labels.push((error::TYPE, SharedString::const_str(error_type)));
        }
        let handles = Arc::new(FinishedHandles {
            duration: HTTP_SERVER_REQUEST_DURATION.histogram(&labels),
            request_size: HTTP_SERVER_REQUEST_BODY_SIZE.histogram(&labels),
            response_size: HTTP_SERVER_RESPONSE_BODY_SIZE.histogram(&labels),
        });
        if let Ok(mut map) = self.finished.write()
            && map.len() < MAX_CACHED
        {
            map.entry(key.clone())
                .or_insert_with(|| Arc::clone(&handles));
        }
        handles
    }
}
