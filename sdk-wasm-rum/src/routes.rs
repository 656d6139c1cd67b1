//! Page paths mapped to route templates (`/products/{id}`), so a beacon never carries a
//! raw path. Templates are matched segment by segment: `{name}` matches one segment, a
//! final `*` matches the rest; the first matching template wins; a path matching none maps
//! to [`OTHER`].

use crate::report::copy;
use crate::vocab::{MAX_FIELD_LEN, OTHER_ROUTE};

/// The route of a path that matches no template.
pub const OTHER: &str = OTHER_ROUTE;

/// Templates kept; later ones are ignored.
pub const MAX_ROUTES: usize = 64;
const ARENA: usize = 4096;

/// Route templates (UTF-8), matched in order: `{name}` matches one segment, a final `*`
/// matches the rest. Kept in a fixed arena (the browser build has no allocator).
#[derive(Debug, Clone)]
pub struct RouteMap {
    arena: [u8; ARENA],
    /// End of each template in `arena`.
    ends: [u16; MAX_ROUTES],
    count: usize,
}

impl Default for RouteMap {
    fn default() -> Self {
        Self::new()
    }
}

impl RouteMap {
    /// No templates: every path is [`OTHER`].
    pub const fn new() -> Self {
        Self {
            arena: [0; ARENA],
            ends: [0; MAX_ROUTES],
            count: 0,
        }
    }

    /// Adds a template; ignored unless it starts with `/` and fits the server's field
    /// length (the server would reject beacons carrying it), or when the map is full.
    pub fn add(&mut self, template: &[u8]) {
        let start = self.end_of(self.count.wrapping_sub(1));
        let end = start + template.len();
        if template.first() != Some(&b'/') || template.len() > MAX_FIELD_LEN {
            return;
        }
        if let (Some(slot), Some(end_slot)) = (
            self.arena.get_mut(start..end),
            self.ends.get_mut(self.count),
        ) {
            copy(slot, template);
            *end_slot = end as u16;
            self.count += 1;
        }
    }

    /// The templates, in order.
    pub fn templates(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.count).map(|i| {
            self.arena
                .get(self.end_of(i.wrapping_sub(1))..self.end_of(i))
                .unwrap_or_default()
        })
    }

    /// Where template `i` ends in the arena (0 before the first).
    fn end_of(&self, i: usize) -> usize {
        self.ends.get(i).map_or(0, |end| usize::from(*end))
    }

    /// The template `path` matches (query and fragment ignored), or [`OTHER`].
    pub fn route_of(&self, path: &[u8]) -> &[u8] {
        let end = path
            .iter()
            .position(|b| matches!(b, b'?' | b'#'))
            .unwrap_or(path.len());
        let path = path.get(..end).unwrap_or_default();
        self.templates()
            .find(|template| matches(template, path))
            .unwrap_or(OTHER.as_bytes())
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

    fn map(templates: &[&str]) -> RouteMap {
        let mut routes = RouteMap::new();
        for template in templates {
            routes.add(template.as_bytes());
        }
        routes
    }

    #[test]
    fn templates_the_server_would_reject_are_ignored() {
        let routes = map(&["products/{id}", "/products/{id}"]);
        assert_eq!(route(&routes, "/products/1"), "/products/{id}");
        let long = format!("/{}", "a".repeat(200));
        assert_eq!(route(&map(&[&long]), &long), OTHER);
    }

    #[test]
    fn paths_map_to_templates() {
        let routes = map(&["/", "/products/{id}", "/products/{id}/reviews", "/docs/*"]);
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

    #[test]
    fn the_map_is_bounded() {
        let many: Vec<String> = (0..MAX_ROUTES + 5).map(|i| format!("/r{i}")).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let routes = map(&many);
        assert_eq!(routes.templates().count(), MAX_ROUTES);
        assert_eq!(route(&routes, "/r0"), "/r0");
        assert_eq!(
            route(&routes, &format!("/r{}", MAX_ROUTES - 1)),
            format!("/r{}", MAX_ROUTES - 1)
        );
        assert_eq!(route(&routes, &format!("/r{MAX_ROUTES}")), OTHER);
    }
}
