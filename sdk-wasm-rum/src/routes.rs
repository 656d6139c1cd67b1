//! Page paths mapped to route templates (`/products/{id}`), so a beacon never carries a
//! raw path. Templates are matched segment by segment: `{name}` matches one segment, a
//! final `*` matches the rest; the first matching template wins; a path matching none maps
//! to [`OTHER`].

use sdk_core::rum::MAX_FIELD_LEN;

/// Route of a path that matches no template (what the ingestion route accepts as such).
pub const OTHER: &str = sdk_core::rum::OTHER_ROUTE;

/// Configured route templates, matched in order.
#[derive(Debug, Clone, Default)]
pub struct RouteMap {
    templates: Vec<String>,
}

impl RouteMap {
    /// Templates such as `/`, `/products/{id}`, `/docs/*`; templates the server would
    /// reject (not starting with `/`, longer than 128 bytes) are ignored.
    pub fn new<I, S>(templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            templates: templates
                .into_iter()
                .map(Into::into)
                .filter(|t: &String| t.starts_with('/') && t.len() <= MAX_FIELD_LEN)
                .collect(),
        }
    }

    /// The template of `path` (query and fragment ignored), or [`OTHER`].
    pub fn route_of(&self, path: &str) -> &str {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        self.templates
            .iter()
            .find(|template| matches(template, path))
            .map_or(OTHER, String::as_str)
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter(|s| !s.is_empty())
}

fn matches(template: &str, path: &str) -> bool {
    let mut wanted = segments(template);
    let mut actual = segments(path);
    loop {
        match (wanted.next(), actual.next()) {
            (None, None) => return true,
            (Some("*"), Some(_)) => return wanted.next().is_none(),
            (Some(w), Some(a)) if w.starts_with('{') && w.ends_with('}') => {
                if a.is_empty() {
                    return false;
                }
            }
            (Some(w), Some(a)) if w == a => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_the_server_would_reject_are_ignored() {
        let routes = RouteMap::new(["products/{id}", "/products/{id}"]);
        assert_eq!(routes.route_of("/products/1"), "/products/{id}");
        let long = format!("/{}", "a".repeat(200));
        assert_eq!(RouteMap::new([long.clone()]).route_of(&long), OTHER);
    }

    #[test]
    fn paths_map_to_templates() {
        let routes = RouteMap::new(["/", "/products/{id}", "/products/{id}/reviews", "/docs/*"]);
        assert_eq!(routes.route_of("/"), "/");
        assert_eq!(routes.route_of("/products/42"), "/products/{id}");
        assert_eq!(routes.route_of("/products/42/"), "/products/{id}");
        assert_eq!(
            routes.route_of("/products/42?ref=mail#top"),
            "/products/{id}"
        );
        assert_eq!(
            routes.route_of("/products/42/reviews"),
            "/products/{id}/reviews"
        );
        assert_eq!(routes.route_of("/docs/a/b/c"), "/docs/*");
        assert_eq!(routes.route_of("/docs"), OTHER);
        assert_eq!(routes.route_of("/products"), OTHER);
        assert_eq!(routes.route_of("/users/alice@example.com"), OTHER);
        assert_eq!(RouteMap::default().route_of("/anything"), OTHER);
    }
}
