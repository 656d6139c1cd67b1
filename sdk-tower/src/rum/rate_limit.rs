//! The optional per-client rate limit of [`RumIngest`](super::RumIngest): a token bucket
//! per client address (GCRA: one timestamp per client), in a table of bounded size.
//!
//! A client is its peer address (axum's `ConnectInfo<SocketAddr>`, or a `SocketAddr` a
//! hyper server put in the request's extensions), or, when configured behind a reverse
//! proxy, the last address of a header the proxy sets (`X-Forwarded-For`). IPv6 addresses
//! count per /64 network (one host commonly owns a whole /64 and can rotate within it);
//! IPv4-mapped IPv6 addresses count as the IPv4 address. Requests whose client cannot be
//! told share one bucket, and the first of them logs a warning saying how to fix it.
//!
//! The table keeps at most `max_clients` clients in two generations of half that size:
//! a client seen again moves to the young one, and when the young one is full the old
//! one (the clients not seen for longest) is forgotten. A forgotten client starts again
//! with a full bucket, so memory stays bounded whatever addresses arrive.

use http::{HeaderMap, HeaderName, Request};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Clients the rate limit remembers unless
/// [`RumIngest::max_tracked_clients`](super::RumIngest::max_tracked_clients) says otherwise.
pub const DEFAULT_MAX_TRACKED_CLIENTS: usize = 10_000;

/// Who sent a request: its address (an IPv6 one cut to its /64), `None` when unknown.
type ClientKey = Option<IpAddr>;

/// What the builder methods set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RateLimitConfig {
    pub(super) per_second: u32,
    pub(super) burst: u32,
    pub(super) header: Option<HeaderName>,
    pub(super) max_clients: usize,
}

impl Default for RateLimitConfig {
    fn default() -> Self {
        Self {
            per_second: 1,
            burst: 1,
            header: None,
            max_clients: DEFAULT_MAX_TRACKED_CLIENTS,
        }
    }
}

/// The limiter: shared by every clone of the ingestion route it was built for.
pub(super) struct ClientRateLimit {
    /// Nanoseconds between two beacons at the sustained rate.
    interval: u64,
    /// How far ahead of now a client's theoretical arrival time may be (`burst − 1`
    /// intervals).
    tolerance: u64,
    header: Option<HeaderName>,
    generation: usize,
    epoch: Instant,
    table: Mutex<Generations>,
    warned: AtomicBool,
}

/// Each client's theoretical arrival time, in nanoseconds since `epoch`.
#[derive(Default)]
struct Generations {
    young: HashMap<ClientKey, u64>,
    old: HashMap<ClientKey, u64>,
}

/// The settings only: the table holds client addresses, which have no place in logs.
impl std::fmt::Debug for ClientRateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientRateLimit")
            .field("interval", &Duration::from_nanos(self.interval))
            .field("tolerance", &Duration::from_nanos(self.tolerance))
            .field("header", &self.header)
            .field("max_clients", &(2 * self.generation))
            .finish_non_exhaustive()
    }
}

impl ClientRateLimit {
    /// A limiter for `config`; a rate or burst of 0 is read as 1, fewer than 2 clients as 2.
    pub(super) fn new(config: &RateLimitConfig) -> Self {
        let interval = 1_000_000_000 / u64::from(config.per_second.max(1));
        Self {
            interval,
            tolerance: interval * u64::from(config.burst.max(1) - 1),
            header: config.header.clone(),
            generation: config.max_clients.max(2) / 2,
            epoch: Instant::now(),
            table: Mutex::default(),
            warned: AtomicBool::new(false),
        }
    }

    /// Admits `request` now, or says how long its client should wait.
    pub(super) fn admit<B>(&self, request: &Request<B>) -> Result<(), Duration> {
        let client = self.client(request);
        if client.is_none() && !self.warned.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                target: "sdk_tower::rum",
                "the beacon rate limit cannot tell clients apart (no peer address): serve with \
                 `into_make_service_with_connect_info::<SocketAddr>()`, or call \
                 `client_address_header` behind a proxy; until then unidentified clients share one limit"
            );
        }
        self.check(client, Instant::now())
    }

    /// The client `request` comes from.
    fn client<B>(&self, request: &Request<B>) -> ClientKey {
        self.header
            .as_ref()
            .and_then(|name| forwarded_address(request.headers(), name))
            .or_else(|| peer_address(request))
            .map(network)
    }

    /// GCRA: admits one beacon of `client` at `now`, or says how long until it would be.
    fn check(&self, client: ClientKey, now: Instant) -> Result<(), Duration> {
        let now =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let mut table = self
            .table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let arrival = table
            .get(&client, self.generation)
            .map_or(now, |t| t.max(now));
        let ahead = arrival - now;
        if ahead > self.tolerance {
            return Err(Duration::from_nanos(ahead - self.tolerance));
        }
        table.set(
            client,
            arrival.saturating_add(self.interval),
            self.generation,
        );
        Ok(())
    }

    /// Clients remembered now.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        let table = self.table.lock().unwrap();
        table.young.len() + table.old.len()
    }
}

impl Generations {
    /// The client's arrival time, moving it to the young generation when found in the old.
    fn get(&mut self, client: &ClientKey, generation: usize) -> Option<u64> {
        if let Some(time) = self.young.get(client) {
            return Some(*time);
        }
        let time = self.old.remove(client)?;
        self.set(*client, time, generation);
        Some(time)
    }

    fn set(&mut self, client: ClientKey, time: u64, generation: usize) {
        if let Some(known) = self.young.get_mut(&client) {
            *known = time;
            return;
        }
        if self.young.len() >= generation {
            self.old = std::mem::take(&mut self.young);
        }
        self.young.insert(client, time);
    }
}

/// The peer address the server put in the request's extensions.
fn peer_address<B>(request: &Request<B>) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) = request
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(addr.ip());
    }
    request.extensions().get::<SocketAddr>().map(SocketAddr::ip)
}

/// The last address of the last `name` header: the one the nearest proxy appended (the
/// earlier ones are whatever the client wrote).
fn forwarded_address(headers: &HeaderMap, name: &HeaderName) -> Option<IpAddr> {
    let value = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let last = value.rsplit(',').next()?.trim();
    last.parse::<IpAddr>()
        .ok()
        .or_else(|| last.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            last.strip_prefix('[')
                .and_then(|l| l.strip_suffix(']'))
                .and_then(|l| l.parse().ok())
        })
}

/// IPv4 addresses as they are (IPv4-mapped IPv6 ones too), IPv6 ones cut to their /64.
fn network(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from_bits(v6.to_bits() & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limiter(per_second: u32, burst: u32, max_clients: usize) -> ClientRateLimit {
        ClientRateLimit::new(&RateLimitConfig {
            per_second,
            burst,
            header: None,
            max_clients,
        })
    }

    fn ip(text: &str) -> ClientKey {
        Some(network(text.parse().unwrap()))
    }

    #[test]
    fn a_burst_then_the_sustained_rate() {
        let limit = limiter(10, 3, 100);
        let t0 = limit.epoch;
        let client = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(limit.check(client, t0), Ok(()));
        }
        assert_eq!(
            limit.check(client, t0),
            Err(Duration::from_millis(100)),
            "the fourth at once waits one interval"
        );
        // 50 ms later: still half an interval to go.
        let later = t0 + Duration::from_millis(50);
        assert_eq!(limit.check(client, later), Err(Duration::from_millis(50)));
        // One interval later one more is admitted, not two.
        let later = t0 + Duration::from_millis(100);
        assert_eq!(limit.check(client, later), Ok(()));
        assert!(limit.check(client, later).is_err());
        // After a long pause the bucket is full again, not fuller.
        let later = t0 + Duration::from_secs(60);
        for _ in 0..3 {
            assert_eq!(limit.check(client, later), Ok(()));
        }
        assert!(limit.check(client, later).is_err());
    }

    #[test]
    fn a_steady_client_within_the_rate_is_never_refused() {
        let limit = limiter(5, 1, 100);
        let t0 = limit.epoch;
        let client = ip("192.0.2.1");
        for i in 0..1000 {
            let at = t0 + Duration::from_millis(200 * i);
            assert_eq!(limit.check(client, at), Ok(()), "beacon {i}");
        }
    }

    #[test]
    fn zero_rate_and_burst_read_as_one() {
        let limit = limiter(0, 0, 0);
        let t0 = limit.epoch;
        assert_eq!(limit.check(None, t0), Ok(()));
        assert_eq!(limit.check(None, t0), Err(Duration::from_secs(1)));
        assert_eq!(limit.check(None, t0 + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn clients_are_limited_apart_ipv6_by_network() {
        let limit = limiter(1, 1, 100);
        let t0 = limit.epoch;
        assert_eq!(limit.check(ip("192.0.2.1"), t0), Ok(()));
        assert!(limit.check(ip("192.0.2.1"), t0).is_err());
        assert_eq!(limit.check(ip("192.0.2.2"), t0), Ok(()));
        // The same host through an IPv4-mapped address.
        assert!(limit.check(ip("::ffff:192.0.2.2"), t0).is_err());
        // Rotating within a /64 does not help; another /64 is another client.
        assert_eq!(limit.check(ip("2001:db8:0:1::1"), t0), Ok(()));
        assert!(limit.check(ip("2001:db8:0:1:ffff::2"), t0).is_err());
        assert_eq!(limit.check(ip("2001:db8:0:2::1"), t0), Ok(()));
    }

    #[test]
    fn the_table_is_bounded_and_keeps_recent_clients() {
        let limit = limiter(1, 1, 1000);
        let t0 = limit.epoch;
        let regular = ip("192.0.2.1");
        assert_eq!(limit.check(regular, t0), Ok(()));
        for i in 0..100_000u32 {
            let stranger = Some(IpAddr::from(std::net::Ipv4Addr::from_bits(0x0a00_0000 + i)));
            assert_eq!(limit.check(stranger, t0), Ok(()));
            assert!(limit.tracked() <= 1000, "{} tracked", limit.tracked());
            if i % 100 == 0 {
                // Seen often: never forgotten, so still limited.
                assert!(limit.check(regular, t0).is_err(), "after {i} strangers");
            }
        }
        let debug = format!("{limit:?}");
        assert!(!debug.contains("192.0.2.1"), "addresses in {debug}");
        // Strangers seen once were forgotten: they start again with a full bucket.
        assert_eq!(limit.check(Some(IpAddr::from([10, 0, 0, 0])), t0), Ok(()));
    }

    #[test]
    #[cfg(feature = "axum")]
    fn clients_from_the_peer_address_or_the_proxy_header() {
        let request = |headers: &[(&str, &str)], peer: Option<&str>| {
            let mut builder = Request::builder();
            for (k, v) in headers {
                builder = builder.header(*k, *v);
            }
            let mut request = builder.body(()).unwrap();
            if let Some(peer) = peer {
                let peer: SocketAddr = peer.parse().unwrap();
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
            }
            request
        };
        let direct = limiter(1, 1, 10);
        assert_eq!(
            direct.client(&request(
                &[("x-forwarded-for", "203.0.113.9")],
                Some("192.0.2.1:5000")
            )),
            ip("192.0.2.1"),
            "the header is ignored unless configured"
        );
        let mut plain = request(&[], None);
        plain
            .extensions_mut()
            .insert("[2001:db8::1]:80".parse::<SocketAddr>().unwrap());
        assert_eq!(direct.client(&plain), ip("2001:db8::"));
        assert_eq!(direct.client(&request(&[], None)), None);

        let proxied = ClientRateLimit::new(&RateLimitConfig {
            per_second: 1,
            burst: 1,
            header: Some(HeaderName::from_static("x-forwarded-for")),
            max_clients: 10,
        });
        let peer = Some("10.0.0.1:40000");
        // The client may write anything first; the proxy appends what it saw.
        let forwarded = [("x-forwarded-for", "1.2.3.4, 198.51.100.7")];
        assert_eq!(
            proxied.client(&request(&forwarded, peer)),
            ip("198.51.100.7")
        );
        let two_lines = [
            ("x-forwarded-for", "1.2.3.4"),
            ("x-forwarded-for", "198.51.100.8"),
        ];
        assert_eq!(
            proxied.client(&request(&two_lines, peer)),
            ip("198.51.100.8")
        );
        for (text, expected) in [
            ("198.51.100.9:1234", "198.51.100.9"),
            ("[2001:db8::7]", "2001:db8::"),
            ("[2001:db8::7]:443", "2001:db8::"),
        ] {
            let headers = [("x-forwarded-for", text)];
            assert_eq!(
                proxied.client(&request(&headers, peer)),
                ip(expected),
                "{text}"
            );
        }
        // No header, or garbage: the peer address.
        assert_eq!(proxied.client(&request(&[], peer)), ip("10.0.0.1"));
        let garbage = [("x-forwarded-for", "unknown")];
        assert_eq!(proxied.client(&request(&garbage, peer)), ip("10.0.0.1"));
        assert_eq!(proxied.client(&request(&garbage, None)), None);
    }

    #[test]
    #[cfg(feature = "axum")]
    fn over_the_limit_the_route_answers_429_with_retry_after_and_counts_it() {
        use sdk_core::testing::{RecordedValue, capture_metrics};
        use tower::ServiceExt;

        let ingest = super::super::RumIngest::new()
            .routes(["/"])
            .rate_limit_per_client(1, 2);
        let request = |method: http::Method, from: &str| {
            let body = r#"{"service":"web","route":"/"}"#;
            let peer: SocketAddr = from.parse().unwrap();
            Request::builder()
                .method(method)
                .uri("/rum")
                .header("content-type", "text/plain")
                .extension(axum::extract::ConnectInfo(peer))
                .body(http_body_util::Full::new(bytes::Bytes::from_static(
                    body.as_bytes(),
                )))
                .unwrap()
        };
        let mut answers = Vec::new();
        let recorded = capture_metrics(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            runtime.block_on(async {
                for (method, from) in [
                    (http::Method::POST, "192.0.2.1:1000"),
                    (http::Method::POST, "192.0.2.1:1001"),
                    // A third connection of the same host: over its burst.
                    (http::Method::POST, "192.0.2.1:1002"),
                    // Preflights are not beacons.
                    (http::Method::OPTIONS, "192.0.2.1:1002"),
                    (http::Method::POST, "192.0.2.2:1000"),
                ] {
                    let answer = ingest.clone().oneshot(request(method, from)).await.unwrap();
                    let retry = answer.headers().get(http::header::RETRY_AFTER).cloned();
                    answers.push((answer.status().as_u16(), retry));
                }
            });
        });
        let one = Some(http::HeaderValue::from_static("1"));
        assert_eq!(
            answers,
            [
                (204, None),
                (204, None),
                (429, one),
                (204, None),
                (204, None)
            ]
        );
        let rejected: Vec<_> = recorded
            .iter()
            .filter(|m| m.name == sdk_core::catalogue::RUM_BEACONS_REJECTED.name)
            .map(|m| (m.labels.clone(), m.value.clone()))
            .collect();
        assert_eq!(
            rejected,
            [(
                vec![("sdk.reason".to_owned(), "rate_limited".to_owned())],
                RecordedValue::Counter(1)
            )]
        );
    }
}
