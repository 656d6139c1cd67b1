//! Metric handles and span names bound per route template on its first request, so a
//! request records without registering or formatting: one lookup of its route (by the
//! borrowed template), then per-method slots and a small per-route map of handles, all in
//! sdk-core's bounded [`HandleCache`].

use metrics::{Gauge, Histogram, SharedString};
use sdk_core::catalogue::{
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_BODY_SIZE, HTTP_SERVER_REQUEST_DURATION,
    HTTP_SERVER_RESPONSE_BODY_SIZE,
};
use sdk_core::handles::HandleCache;
use sdk_core::semconv::{KNOWN_METHODS, error, http, network, url};
use std::sync::{Arc, OnceLock};

/// Slots per method: the known methods, then `_OTHER`.
const METHOD_SLOTS: usize = KNOWN_METHODS.len() + 1;
/// Route templates kept; requests on routes past it build their handles each time (the
/// catalogue's cardinality guard still bounds the series).
const ROUTES_KEPT: usize = 1024;
/// Label combinations (method, status, error, protocol) kept per route.
const FINISHED_KEPT_PER_ROUTE: usize = 256;

/// The slot of a normalized method.
fn method_slot(method: &str) -> usize {
    KNOWN_METHODS
        .iter()
        .position(|known| *known == method)
        .unwrap_or(KNOWN_METHODS.len())
}

/// Labels of a finished request besides its route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FinishedKey {
    pub(crate) method: &'static str,
    /// `None` when no response was produced (a cancelled request).
    pub(crate) status: Option<&'static str>,
    pub(crate) error_type: Option<&'static str>,
    pub(crate) protocol: &'static str,
}

/// The handles a finished request records into.
pub(crate) struct FinishedHandles {
    pub(crate) duration: Histogram,
    pub(crate) request_size: Histogram,
    pub(crate) response_size: Histogram,
}

/// What a route template binds on its first request.
pub(crate) struct RouteHandles {
    /// The template (`None`: requests no route matched).
    pub(crate) route: Option<Arc<str>>,
    names: [OnceLock<Arc<str>>; METHOD_SLOTS],
    finished: HandleCache<FinishedKey, Arc<FinishedHandles>>,
}

impl RouteHandles {
    fn new(route: Option<Arc<str>>) -> Self {
        Self {
            route,
            names: Default::default(),
            finished: HandleCache::new(FINISHED_KEPT_PER_ROUTE),
        }
    }

    /// The span name `{method} {route}`, built once per method.
    pub(crate) fn span_name(&self, method: &'static str) -> Arc<str> {
        Arc::clone(self.names[method_slot(method)].get_or_init(|| {
            sdk_core::semconv::http_span_name(method, self.route.as_deref()).into()
        }))
    }

    pub(crate) fn finished(&self, key: &FinishedKey, scheme: &'static str) -> Arc<FinishedHandles> {
        self.finished.get_or_insert_with(key, || {
            let mut labels: Vec<(&'static str, SharedString)> =
                vec![(http::REQUEST_METHOD, SharedString::const_str(key.method))];
            if let Some(status) = key.status {
                labels.push((http::RESPONSE_STATUS_CODE, SharedString::const_str(status)));
            }
            labels.push((url::SCHEME, SharedString::const_str(scheme)));
            labels.push((
                network::PROTOCOL_VERSION,
                SharedString::const_str(key.protocol),
            ));
            if let Some(route) = &self.route {
                labels.push((http::ROUTE, SharedString::from_owned(route.to_string())));
            }
            if let Some(error_type) = key.error_type {
                labels.push((error::TYPE, SharedString::const_str(error_type)));
            }
            Arc::new(FinishedHandles {
                duration: HTTP_SERVER_REQUEST_DURATION.histogram(&labels),
                request_size: HTTP_SERVER_REQUEST_BODY_SIZE.histogram(&labels),
                response_size: HTTP_SERVER_RESPONSE_BODY_SIZE.histogram(&labels),
            })
        })
    }
}

pub(crate) struct ServerHandles {
    pub(crate) cancelled: sdk_core::operation::CancelledCounter,
    routes: HandleCache<String, Arc<RouteHandles>>,
    unrouted: Arc<RouteHandles>,
    active: [OnceLock<Gauge>; METHOD_SLOTS],
}

impl Default for ServerHandles {
    fn default() -> Self {
        Self {
            cancelled: Default::default(),
            routes: HandleCache::new(ROUTES_KEPT),
            unrouted: Arc::new(RouteHandles::new(None)),
            active: Default::default(),
        }
    }
}

impl ServerHandles {
    /// The handles of route template `route` (`None`: no route matched).
    pub(crate) fn route(&self, route: Option<&str>) -> Arc<RouteHandles> {
        match route {
            None => Arc::clone(&self.unrouted),
            Some(route) => self.routes.get_or_insert_with(route, || {
                Arc::new(RouteHandles::new(Some(Arc::from(route))))
            }),
        }
    }

    pub(crate) fn active(&self, method: &'static str, scheme: &'static str) -> Gauge {
        self.active[method_slot(method)]
            .get_or_init(|| {
                HTTP_SERVER_ACTIVE_REQUESTS.gauge(&[
                    (http::REQUEST_METHOD, SharedString::const_str(method)),
                    (url::SCHEME, SharedString::const_str(scheme)),
                ])
            })
            .clone()
    }
}
