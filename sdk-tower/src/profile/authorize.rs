//! Who may take a profile: the hook [`ProfileRoute::new`](super::ProfileRoute::new) requires.

use http::header::AUTHORIZATION;
use http::request::Parts;

/// Decides whether a request may take a CPU profile, from its head (method, URI, headers,
/// extensions such as axum's `ConnectInfo`). Implemented by every
/// `Fn(&http::request::Parts) -> bool` closure and by [`BearerToken`].
///
/// A closure needs its argument's type written out so that it accepts any lifetime:
///
/// ```
/// use sdk_tower::profile::ProfileRoute;
///
/// let route = ProfileRoute::new(|request: &http::request::Parts| {
///     request.headers.get("x-ops-key").is_some_and(|key| key == "let-me-in")
/// });
/// ```
///
/// `false` answers 401 and takes no profile. The hook runs on the runtime thread that
/// received the request: it must not block. A hook that panics answers 500 (counted as
/// `error`), never a profile.
pub trait Authorize: Send + Sync + 'static {
    /// `true` when `request` may take a profile.
    fn authorize(&self, request: &Parts) -> bool;
}

impl<F> Authorize for F
where
    F: Fn(&Parts) -> bool + Send + Sync + 'static,
{
    fn authorize(&self, request: &Parts) -> bool {
        self(request)
    }
}

/// Admits requests whose `Authorization` header is `Bearer <token>` with this token
/// (compared in time independent of where the bytes differ). An empty token admits
/// nobody. Its `Debug` output does not show the token.
#[derive(Clone)]
pub struct BearerToken {
    token: Box<[u8]>,
}

impl std::fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BearerToken")
            .field("token", &"<redacted>")
            .finish()
    }
}

/// A [`BearerToken`] hook admitting `Authorization: Bearer <token>`.
pub fn bearer_token(token: impl Into<String>) -> BearerToken {
    BearerToken {
        token: token.into().into_bytes().into_boxed_slice(),
    }
}

impl Authorize for BearerToken {
    fn authorize(&self, request: &Parts) -> bool {
        const SCHEME: &[u8] = b"bearer ";
        let Some(value) = request.headers.get(AUTHORIZATION) else {
            return false;
        };
        let value = value.as_bytes();
        if self.token.is_empty()
            || value.len() < SCHEME.len()
            || !value[..SCHEME.len()].eq_ignore_ascii_case(SCHEME)
        {
            return false;
        }
        equal_in_constant_time(&value[SCHEME.len()..], &self.token)
    }
}

/// Equality whose time depends on the lengths only, not on where the bytes differ.
fn equal_in_constant_time(presented: &[u8], expected: &[u8]) -> bool {
    if presented.len() != expected.len() {
        return false;
    }
    let difference = presented
        .iter()
        .zip(expected)
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(authorization: Option<&str>) -> Parts {
        let mut builder = http::Request::builder().uri("/debug/profile");
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn bearer_token_admits_only_its_token() {
        let hook = bearer_token("s3cret");
        assert!(hook.authorize(&parts(Some("Bearer s3cret"))));
        assert!(hook.authorize(&parts(Some("bearer s3cret"))));
        assert!(!hook.authorize(&parts(Some("Bearer s3cre"))));
        assert!(!hook.authorize(&parts(Some("Bearer s3cret "))));
        assert!(!hook.authorize(&parts(Some("Basic s3cret"))));
        assert!(!hook.authorize(&parts(Some("Bearer"))));
        assert!(!hook.authorize(&parts(None)));
        assert!(!format!("{hook:?}").contains("s3cret"));
    }

    #[test]
    fn an_empty_token_admits_nobody() {
        let hook = bearer_token("");
        assert!(!hook.authorize(&parts(Some("Bearer "))));
        assert!(!hook.authorize(&parts(None)));
    }
}
