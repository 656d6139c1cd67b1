//! Metric handles and span names kept per label combination, so a request records without
//! registering (in sdk-core's one bounded [`HandleCache`]).

use metrics::{Gauge, Histogram, SharedString};
use sdk_core::catalogue::{
    HTTP_SERVER_ACTIVE_REQUESTS, HTTP_SERVER_REQUEST_BODY_SIZE, HTTP_SERVER_REQUEST_DURATION,
    HTTP_SERVER_RESPONSE_BODY_SIZE,
};
use sdk_core::handles::HandleCache;
use sdk_core::semconv::{error, http, network, url};
use std::sync::Arc;

/// Labels of a finished request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct FinishedKey {
    pub(crate) method: &'static str,
    pub(crate) route: Option<Arc<str>>,
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

/// Method and route of a span name.
type NameKey = (&'static str, Option<Arc<str>>);

#[derive(Default)]
pub(crate) struct ServerHandles {
    pub(crate) cancelled: sdk_core::operation::CancelledCounter,
    finished: HandleCache<FinishedKey, Arc<FinishedHandles>>,
    active: HandleCache<&'static str, Gauge>,
    names: HandleCache<NameKey, Arc<str>>,
}

impl ServerHandles {
    /// The span name `{method} {route}`, built once per combination.
    pub(crate) fn span_name(&self, method: &'static str, route: Option<&Arc<str>>) -> Arc<str> {
        let key = (method, route.cloned());
        self.names.get_or_insert_with(&key, || {
            sdk_core::semconv::http_span_name(method, route.map(|r| r.as_ref())).into()
        })
    }

    pub(crate) fn active(&self, method: &'static str, scheme: &'static str) -> Gauge {
        self.active.get_or_insert_with(&method, || {
            HTTP_SERVER_ACTIVE_REQUESTS.gauge(&[
                (http::REQUEST_METHOD, SharedString::const_str(method)),
                (url::SCHEME, SharedString::const_str(scheme)),
            ])
        })
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
            if let Some(route) = &key.route {
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
