//! Declaring probes: [`HttpProbe`] and [`TcpProbe`], checked into a [`ProbeSpec`] when
//! the set is spawned.

use super::ProbeError;
use base64::Engine;
use http::header::{self, HeaderName, HeaderValue};
use http::{Method, Uri};
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

/// How often a probe runs unless told otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// How long one run may take unless told otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// How much of a response body an HTTP probe reads (and searches for
/// [`HttpProbe::expect_body`]); the rest is not read.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

const USER_AGENT: &str = concat!("sdk-probe/", env!("CARGO_PKG_VERSION"));

/// An HTTP probe: `GET` (by default) of an `http://` URL, successful when the status is
/// expected (any 2xx by default) and, if asked, the body contains a substring.
///
/// User-info in the URL (`http://user:pass@host/`) is sent as `Authorization: Basic`
/// (as written, not percent-decoded); neither it nor the query is ever logged or put in
/// a label or an error.
#[derive(Debug, Clone)]
pub struct HttpProbe {
    name: String,
    url: String,
    method: Method,
    interval: Duration,
    timeout: Duration,
    statuses: Vec<RangeInclusive<u16>>,
    body: Option<Vec<u8>>,
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl HttpProbe {
    /// A `GET` probe named `name` (the `sdk.probe` label) of `url`.
    pub fn get(name: impl Into<String>, url: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            url: url.into(),
            method: Method::GET,
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
            statuses: Vec::new(),
            body: None,
            headers: Vec::new(),
        }
    }

    /// Sends `method` instead of `GET` (without a body).
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }

    /// Runs every `interval` (default 15 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Fails a run that takes longer than `timeout` (default 5 s, at most the interval).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Accepts status `code`. The first `expect_status*` call replaces the default (2xx);
    /// later calls add to the set.
    pub fn expect_status(self, code: u16) -> Self {
        self.expect_status_range(code..=code)
    }

    /// Accepts every status in `codes` (see [`HttpProbe::expect_status`]).
    pub fn expect_status_range(mut self, codes: RangeInclusive<u16>) -> Self {
        self.statuses.push(codes);
        self
    }

    /// Also requires the body's first [`MAX_BODY_BYTES`] bytes to contain `needle`.
    pub fn expect_body(mut self, needle: impl Into<Vec<u8>>) -> Self {
        self.body = Some(needle.into());
        self
    }

    /// Sends `name: value` with each request (for instance a token in `Authorization`;
    /// header values are never logged).
    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub(super) fn into_spec(self) -> Result<ProbeSpec, ProbeError> {
        let name = check_name(&self.name)?;
        check_timing(&self.name, self.interval, self.timeout)?;
        let invalid = |reason: &str| ProbeError::InvalidUrl {
            probe: self.name.clone(),
            reason: reason.to_owned(),
        };
        let uri: Uri =
            self.url
                .parse()
                .map_err(|err: http::uri::InvalidUri| ProbeError::InvalidUrl {
                    probe: self.name.clone(),
                    reason: err.to_string(),
                })?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(other) => {
                return Err(ProbeError::UnsupportedScheme {
                    probe: self.name.clone(),
                    scheme: other.to_owned(),
                });
            }
            None => return Err(invalid("not absolute: no scheme")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        let (userinfo, host_port) = match authority.as_str().rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority.as_str()),
        };
        let (host, port) = split_host_port(host_port).ok_or_else(|| invalid("bad host or port"))?;
        let host_header = if host.contains(':') {
            format!("[{host}]")
        } else {
            host.to_owned()
        };
        let host_header = match port {
            Some(port) => format!("{host_header}:{port}"),
            None => host_header,
        };
        let host_header =
            HeaderValue::from_str(&host_header).map_err(|_| invalid("bad host for a header"))?;
        let target = uri
            .path_and_query()
            .map_or_else(|| Uri::from_static("/"), |pq| Uri::from(pq.clone()));
        let mut statuses = self.statuses;
        for range in &statuses {
            if range.is_empty() || *range.start() < 100 || *range.end() > 599 {
                return Err(ProbeError::InvalidExpectedStatus {
                    probe: self.name.clone(),
                    start: *range.start(),
                    end: *range.end(),
                });
            }
        }
        if statuses.is_empty() {
            statuses.push(200..=299);
        }
        let mut headers = vec![
            (header::HOST, host_header),
            (header::USER_AGENT, HeaderValue::from_static(USER_AGENT)),
            (header::CONNECTION, HeaderValue::from_static("close")),
        ];
        if let Some(userinfo) = userinfo {
            // The URL percent-encodes what user and password may not hold (`p%40ss` for
            // `p@ss`); Basic authentication sends them as they are.
            let decoded: Vec<u8> = percent_encoding::percent_decode_str(userinfo).collect();
            let encoded = base64::engine::general_purpose::STANDARD.encode(decoded);
            let mut value = HeaderValue::from_str(&format!("Basic {encoded}"))
                .map_err(|_| invalid("bad user-info"))?;
            value.set_sensitive(true);
            headers.push((header::AUTHORIZATION, value));
        }
        for (name, mut value) in self.headers {
            value.set_sensitive(true);
            headers.retain(|(existing, _)| *existing != name);
            headers.push((name, value));
        }
        Ok(ProbeSpec {
            name,
            interval: self.interval,
            timeout: self.timeout,
            target: Target::Http(Arc::new(HttpTarget {
                host: host.to_owned(),
                port: port.unwrap_or(80),
                method: self.method,
                uri: target,
                headers,
                statuses,
                body: self.body,
            })),
        })
    }
}

/// A TCP probe: successful when a connection to `host:port` opens.
#[derive(Debug, Clone)]
pub struct TcpProbe {
    name: String,
    target: String,
    interval: Duration,
    timeout: Duration,
}

impl TcpProbe {
    /// A probe named `name` (the `sdk.probe` label) connecting to `target`, `host:port`
    /// (`[::1]:5432` for an IPv6 address).
    pub fn new(name: impl Into<String>, target: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            target: target.into(),
            interval: DEFAULT_INTERVAL,
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// Runs every `interval` (default 15 s).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Fails a run that takes longer than `timeout` (default 5 s, at most the interval).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(super) fn into_spec(self) -> Result<ProbeSpec, ProbeError> {
        let name = check_name(&self.name)?;
        check_timing(&self.name, self.interval, self.timeout)?;
        let parsed = if self.target.contains(['@', '/', '?', '#']) {
            None
        } else {
            split_host_port(&self.target)
        };
        let Some((host, Some(port))) = parsed else {
            return Err(ProbeError::InvalidTcpTarget { probe: self.name });
        };
        Ok(ProbeSpec {
            name,
            interval: self.interval,
            timeout: self.timeout,
            target: Target::Tcp {
                host: host.to_owned(),
                port,
            },
        })
    }
}

/// A checked probe.
#[derive(Debug)]
pub(super) struct ProbeSpec {
    pub(super) name: Arc<str>,
    pub(super) interval: Duration,
    pub(super) timeout: Duration,
    pub(super) target: Target,
}

/// What a probe connects to.
#[derive(Debug)]
pub(super) enum Target {
    Http(Arc<HttpTarget>),
    Tcp { host: String, port: u16 },
}

/// A checked HTTP probe.
#[derive(Debug)]
pub(super) struct HttpTarget {
    /// Host name or IP address, IPv6 without brackets.
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) method: Method,
    /// Origin form: path and query.
    pub(super) uri: Uri,
    /// `Host`, `User-Agent`, `Connection: close`, credentials and the user's headers.
    pub(super) headers: Vec<(HeaderName, HeaderValue)>,
    pub(super) statuses: Vec<RangeInclusive<u16>>,
    pub(super) body: Option<Vec<u8>>,
}

fn check_name(name: &str) -> Result<Arc<str>, ProbeError> {
    if name.trim().is_empty() {
        return Err(ProbeError::EmptyName);
    }
    Ok(Arc::from(name))
}

fn check_timing(name: &str, interval: Duration, timeout: Duration) -> Result<(), ProbeError> {
    if interval.is_zero() || timeout.is_zero() || timeout > interval {
        return Err(ProbeError::InvalidTiming {
            probe: name.to_owned(),
            interval,
            timeout,
        });
    }
    Ok(())
}

/// `host[:port]` into the host (IPv6 without brackets) and the port, if any; `None`
/// when the host is empty or the port is not 1–65535.
fn split_host_port(host_port: &str) -> Option<(&str, Option<u16>)> {
    let (host, port) = if let Some(rest) = host_port.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        match after {
            "" => (host, None),
            _ => (host, Some(after.strip_prefix(':')?)),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let port = match port {
        Some(port) => match port.parse::<u16>() {
            Ok(0) | Err(_) => return None,
            Ok(port) => Some(port),
        },
        None => None,
    };
    Some((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_port() {
        assert_eq!(split_host_port("db:5432"), Some(("db", Some(5432))));
        assert_eq!(split_host_port("[::1]:80"), Some(("::1", Some(80))));
        assert_eq!(split_host_port("[::1]"), Some(("::1", None)));
        assert_eq!(split_host_port("example.org"), Some(("example.org", None)));
        assert_eq!(split_host_port(":80"), None);
        assert_eq!(split_host_port("db:0"), None);
        assert_eq!(split_host_port("db:x"), None);
        assert_eq!(split_host_port("a:1:2"), None);
        assert_eq!(split_host_port("[::1"), None);
    }

    #[test]
    fn declarations_are_checked_without_echoing_the_url() {
        let https = HttpProbe::get("api", "https://u:secret@x/?token=t").into_spec();
        assert!(
            matches!(https, Err(ProbeError::UnsupportedScheme { ref scheme, .. }) if scheme == "https")
        );
        let err = HttpProbe::get("api", "http://u:secret@/?token=t")
            .into_spec()
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret") && !err.contains("token"), "{err}");
        assert_eq!(
            HttpProbe::get("", "http://x/").into_spec().unwrap_err(),
            ProbeError::EmptyName
        );
        assert!(matches!(
            HttpProbe::get("api", "http://x/")
                .timeout(Duration::from_secs(20))
                .into_spec(),
            Err(ProbeError::InvalidTiming { .. })
        ));
        assert!(matches!(
            HttpProbe::get("api", "http://x/")
                .expect_status_range(500..=700)
                .into_spec(),
            Err(ProbeError::InvalidExpectedStatus { .. })
        ));
        assert!(matches!(
            TcpProbe::new("db", "db").into_spec(),
            Err(ProbeError::InvalidTcpTarget { .. })
        ));
        assert!(matches!(
            TcpProbe::new("db", "u@db:1").into_spec(),
            Err(ProbeError::InvalidTcpTarget { .. })
        ));
    }

    #[test]
    fn credentials_become_basic_auth_and_host_drops_them() {
        let spec = HttpProbe::get("api", "http://user:pw@[::1]:8080/health?x=1")
            .into_spec()
            .unwrap();
        let Target::Http(http) = spec.target else {
            panic!("http")
        };
        assert_eq!(http.host, "::1");
        assert_eq!(http.port, 8080);
        assert_eq!(http.uri, "/health?x=1");
        let header = |n: HeaderName| {
            http.headers
                .iter()
                .find(|(k, _)| *k == n)
                .map(|(_, v)| v.to_str().unwrap().to_owned())
        };
        assert_eq!(header(header::HOST).as_deref(), Some("[::1]:8080"));
        assert_eq!(
            header(header::AUTHORIZATION).as_deref(),
            Some("Basic dXNlcjpwdw==")
        );
        assert_eq!(http.statuses, vec![200..=299]);
    }
}
