//! Where the route template of a request comes from.

use std::borrow::Cow;

/// Finds the route template (`/users/{id}`) of a request, never its raw path. axum's
/// template is borrowed from the request: nothing is copied per request.
pub(crate) trait DynRoute: Send + Sync + 'static {
    fn route_of<'a>(
        &self,
        extensions: &'a http::Extensions,
        uri: &'a http::Uri,
    ) -> Option<Cow<'a, str>>;
}

/// Routes from axum's `MatchedPath` (the layer must be added with `Router::layer`).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct MatchedPathRoute;

impl DynRoute for MatchedPathRoute {
    fn route_of<'a>(
        &self,
        extensions: &'a http::Extensions,
        _uri: &'a http::Uri,
    ) -> Option<Cow<'a, str>> {
        #[cfg(feature = "axum")]
        {
            extensions
                .get::<axum::extract::MatchedPath>()
                .map(|m| Cow::Borrowed(m.as_str()))
        }
        #[cfg(not(feature = "axum"))]
        {
            let _ = extensions;
            None
        }
    }
}

/// A closure choosing the route from the request's extensions and URI (for plain hyper or
/// tower services with their own router).
pub(crate) struct FnRoute<F>(pub(crate) F);

impl<F> DynRoute for FnRoute<F>
where
    F: Fn(&http::Extensions, &http::Uri) -> Option<String> + Send + Sync + 'static,
{
    fn route_of<'a>(
        &self,
        extensions: &'a http::Extensions,
        uri: &'a http::Uri,
    ) -> Option<Cow<'a, str>> {
        (self.0)(extensions, uri).map(Cow::Owned)
    }
}
