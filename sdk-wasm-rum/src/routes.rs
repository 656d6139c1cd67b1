//! Page paths mapped to route templates (`/products/{id}`), so a beacon never carries a
//! raw path. Templates are matched segment by segment: `{name}` matches one segment, a
//! final `*` matches the rest; the first matching template wins; a path matching none maps
//! to [`OTHER`].

use alloc::vec::Vec;

use crate::vocab::{MAX_FIELD_LEN, OTHER_ROUTE};

/// The route of a path that matches no template.
pub const OTHER: &str = OTHER_ROUTE;

/// Route templates (UTF-8), matched in order: `{name}` matches one segment, a final `*`
/// matches the rest.
#[derive(Debug, Clone, Default)]
pub struct RouteMap {
    templates: Vec<Vec<u8>>,
}

impl RouteMap {
    /// The templates that start with `/` and fit the server's field length; others are
    /// ignored (the server would reject beacons carrying them).
    pub fn new<I, S>(templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<Vec<u8>>,
    {
        Self {
            templates: templates
                .into_iter()
                .map(Into::into)
                .filter(|t| t.first() == Some(&b'/') && t.len() <= MAX_FIELD_LEN)
                .collect(),
        }
    }

    /// The template `path` matches (query and fragment ignored), or [`OTHER`].
    pub fn route_of(&self, path: &[u8]) -> &[u8] {
        let end = path
            .iter()
            .position(|b| matches!(b, b'?' | b'#'))
            .unwrap_or(path.len());
        let path = path.get(..end).unwrap_or_default();
        self.templates
            .iter()
            .find(|template| matches(template, path))
            .map_or(OTHER.as_bytes(), Vec::as_slice)
    }
}

fn segments(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|b| *b == b'/').filter(|s| !s.is_empty())
}

fn matches(template: &[u8], path: &[u8]) -> bool {
    let mut wanted = segments(template);
    let mut actual = segments(path);
    loop {
        match (wanted.next(), actual.next()) {
            (None, None) => return true,
            (Some(b"*"), Some(_)) => return wanted.next().is_none(),
            (Some([b'{', .., b'}']), Some(_)) => {}
            (Some(w), Some(a)) if w == a => {}
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route<'a>(routes: &'a RouteMap, path: &str) -> &'a str {
        std::str::from_utf8(routes.route_of(path.as_bytes())).unwrap()
    }

    #[test]
    fn templates_the_server_would_reject_are_ignored() {
        let routes = RouteMap::new(["products/{id}", "/products/{id}"]);
        assert_eq!(route(&routes, "/products/1"), "/products/{id}");
        let long = format!("/{}", "a".repeat(200));
        assert_eq!(route(&RouteMap::new([long.clone()]), &long), OTHER);
    }

    #[test]
    fn paths_map_to_templates() {
        let routes = RouteMap::new(["/", "/products/{id}", "/products/{id}/reviews", "/docs/*"]);
        assert_eq!(route(&routes, "/"), "/");
        assert_eq!(route(&routes, "/products/42"), "/products/{id}");
        assert_eq!(route(&routes, "/products/42/"), "/products/{id}");
        assert_eq!(
            route(&routes, "/products/42?ref=mail#top"),
            "/products/{id}"
        );
        assert_eq!(
            route(&routes, "/products/42/reviews"),
            "/products/{id}/reviews"
        );
        assert_eq!(route(&routes, "/docs/a/b/c"), "/docs/*");
        assert_eq!(route(&routes, "/docs"), OTHER);
        assert_eq!(route(&routes, "/products"), OTHER);
        assert_eq!(route(&routes, "/users/alice@example.com"), OTHER);
        assert_eq!(route(&RouteMap::default(), "/anything"), OTHER);
    }
}
