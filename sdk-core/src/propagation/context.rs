//! The trace context that crosses process boundaries.

use std::fmt;

/// A 128-bit trace id; never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TraceId(u128);

impl TraceId {
    /// Wraps a non-zero id.
    pub const fn new(id: u128) -> Option<Self> {
        if id == 0 { None } else { Some(Self(id)) }
    }

    /// The id as an integer.
    pub const fn get(self) -> u128 {
        self.0
    }

    /// Low 64 bits: Datadog's `trace_id` and `dd.trace_id` log field.
    pub const fn low_u64(self) -> u64 {
        self.0 as u64
    }

    /// High 64 bits: Datadog's `_dd.p.tid`.
    pub const fn high_u64(self) -> u64 {
        (self.0 >> 64) as u64
    }

    /// Parses 32 lower-case hex digits (W3C form).
    pub fn from_hex(hex: &[u8]) -> Option<Self> {
        if hex.len() != 32 {
            return None;
        }
        parse_hex_u128(hex).and_then(Self::new)
    }

    /// 32 lower-case hex digits.
    pub fn to_hex(self) -> String {
        let mut out = [0u8; 32];
        write_hex(self.0, &mut out);
        hex_string(&out)
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

impl fmt::Debug for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TraceId({:032x})", self.0)
    }
}

/// A 64-bit span id; never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SpanId(u64);

impl SpanId {
    /// Wraps a non-zero id.
    pub const fn new(id: u64) -> Option<Self> {
        if id == 0 { None } else { Some(Self(id)) }
    }

    /// The id as an integer (Datadog's `span_id`, `dd.span_id`).
    pub const fn get(self) -> u64 {
        self.0
    }

    /// Parses 16 lower-case hex digits.
    pub fn from_hex(hex: &[u8]) -> Option<Self> {
        if hex.len() != 16 {
            return None;
        }
        parse_hex_u128(hex).and_then(|v| Self::new(v as u64))
    }

    /// 16 lower-case hex digits.
    pub fn to_hex(self) -> String {
        let mut out = [0u8; 16];
        write_hex(u128::from(self.0), &mut out);
        hex_string(&out)
    }
}

impl fmt::Display for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl fmt::Debug for SpanId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SpanId({:016x})", self.0)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// Writes the low `out.len()` hex digits of `value` (lower case, zero-padded) into `out`.
pub(crate) fn write_hex(mut value: u128, out: &mut [u8]) {
    for slot in out.iter_mut().rev() {
        *slot = HEX[(value & 0xf) as usize];
        value >>= 4;
    }
}

/// Hex digits are ASCII, so this never fails; the fallback keeps the function total.
pub(crate) fn hex_string(digits: &[u8]) -> String {
    String::from_utf8(digits.to_vec()).unwrap_or_default()
}

/// Parses up to 32 lower-case hex digits. Upper case is rejected, as W3C requires.
pub(crate) fn parse_hex_u128(hex: &[u8]) -> Option<u128> {
    if hex.is_empty() || hex.len() > 32 {
        return None;
    }
    let mut value: u128 = 0;
    for &b in hex {
        let digit = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            _ => return None,
        };
        value = (value << 4) | u128::from(digit);
    }
    Some(value)
}

/// Parses a decimal `u64` with no sign, no spaces and at most 20 digits.
pub(crate) fn parse_decimal_u64(text: &[u8]) -> Option<u64> {
    if text.is_empty() || text.len() > 20 || !text.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(text).ok()?.parse().ok()
}

/// W3C `tracestate`: at most 32 validated `key=value` members, most recent first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceState {
    members: Vec<(String, String)>,
}

/// Most members a `tracestate` may hold.
pub const TRACESTATE_MAX_MEMBERS: usize = 32;
/// Longest `tracestate` header accepted on extraction.
pub const TRACESTATE_MAX_LEN: usize = 512 * 4;

impl TraceState {
    /// Parses a header value; `None` if any member is malformed or limits are exceeded.
    pub fn parse(header: &[u8]) -> Option<Self> {
        if header.len() > TRACESTATE_MAX_LEN {
            return None;
        }
        let text = std::str::from_utf8(header).ok()?;
        let mut members = Vec::new();
        for member in text.split(',') {
            let member = member.trim_matches([' ', '\t']);
            if member.is_empty() {
                continue;
            }
            let (key, value) = member.split_once('=')?;
            if !valid_tracestate_key(key) || !valid_tracestate_value(value) {
                return None;
            }
            if members.iter().any(|(k, _): &(String, String)| k == key) {
                return None;
            }
            members.push((key.to_owned(), value.to_owned()));
            if members.len() > TRACESTATE_MAX_MEMBERS {
                return None;
            }
        }
        Some(Self { members })
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Inserts or moves `key` to the front (W3C "update"). Invalid members are refused.
    pub fn insert(&mut self, key: &str, value: &str) -> bool {
        if !valid_tracestate_key(key) || !valid_tracestate_value(value) {
            return false;
        }
        self.members.retain(|(k, _)| k != key);
        self.members.insert(0, (key.to_owned(), value.to_owned()));
        self.members.truncate(TRACESTATE_MAX_MEMBERS);
        true
    }

    /// Members in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The header value.
    pub fn header_value(&self) -> String {
        let mut out = String::new();
        for (i, (k, v)) in self.members.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(k);
            out.push('=');
            out.push_str(v);
        }
        out
    }
}

fn valid_tracestate_key(key: &str) -> bool {
    let simple = |s: &str, first_digit_ok: bool, max: usize| {
        let bytes = s.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= max
            && (bytes[0].is_ascii_lowercase() || (first_digit_ok && bytes[0].is_ascii_digit()))
            && bytes.iter().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || matches!(b, b'_' | b'-' | b'*' | b'/')
            })
    };
    match key.split_once('@') {
        None => simple(key, false, 256),
        Some((tenant, system)) => simple(tenant, true, 241) && simple(system, false, 14),
    }
}

fn valid_tracestate_value(value: &str) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 256
        && bytes.last() != Some(&b' ')
        && bytes
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}

/// A remote or local span's context as carried by headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpanContext {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id of the sender's span (our parent when extracted).
    pub span_id: SpanId,
    /// Whether the trace is sampled.
    pub sampled: bool,
    /// Datadog sampling priority (-1..=2), when known.
    pub sampling_priority: Option<i8>,
    /// W3C tracestate.
    pub trace_state: TraceState,
    /// Datadog origin (`x-datadog-origin`), e.g. `synthetics`.
    pub origin: Option<String>,
    /// Propagated Datadog `_dd.p.*` tags other than `_dd.p.tid`.
    pub dd_tags: Vec<(String, String)>,
    /// Whether this context came from another process.
    pub is_remote: bool,
}

impl SpanContext {
    /// A context with only the ids and the sampled flag.
    pub fn new(trace_id: TraceId, span_id: SpanId, sampled: bool) -> Self {
        Self {
            trace_id,
            span_id,
            sampled,
            sampling_priority: None,
            trace_state: TraceState::default(),
            origin: None,
            dd_tags: Vec::new(),
            is_remote: false,
        }
    }

    /// The Datadog sampling priority: the carried one, else 1 (auto keep) or 0 (auto reject).
    pub fn datadog_priority(&self) -> i8 {
        self.sampling_priority.unwrap_or(i8::from(self.sampled))
    }
}

/// W3C baggage: bounded `key=value` entries with optional properties.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Baggage {
    entries: Vec<BaggageEntry>,
}

/// One baggage entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BaggageEntry {
    /// Key (an HTTP token).
    pub key: String,
    /// Decoded value.
    pub value: String,
    /// Raw `;`-separated properties, kept as received.
    pub properties: Option<String>,
}

/// Most entries kept from a `baggage` header.
pub const BAGGAGE_MAX_MEMBERS: usize = 180;
/// Longest `baggage` header accepted or produced.
pub const BAGGAGE_MAX_LEN: usize = 8192;

impl Baggage {
    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|e| e.key == key)
            .map(|e| e.value.as_str())
    }

    /// Inserts or replaces an entry; refuses keys that are not HTTP tokens and stops at the
    /// member limit.
    pub fn insert(&mut self, key: &str, value: &str) -> bool {
        if !is_token(key) {
            return false;
        }
        if let Some(entry) = self.entries.iter_mut().find(|e| e.key == key) {
            entry.value = value.to_owned();
            return true;
        }
        if self.entries.len() >= BAGGAGE_MAX_MEMBERS {
            return false;
        }
        self.entries.push(BaggageEntry {
            key: key.to_owned(),
            value: value.to_owned(),
            properties: None,
        });
        true
    }

    pub(crate) fn push_entry(&mut self, entry: BaggageEntry) {
        if self.entries.len() < BAGGAGE_MAX_MEMBERS && self.get(&entry.key).is_none() {
            self.entries.push(entry);
        }
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &BaggageEntry> {
        self.entries.iter()
    }
}

/// RFC 7230 token characters.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}
