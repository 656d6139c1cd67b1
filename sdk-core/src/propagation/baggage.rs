//! W3C Baggage: the `baggage` header and the [`Baggage`] it carries.
//!
//! Reading follows the specification (w3c/baggage, "Baggage HTTP Header Format"): every
//! `baggage` header is one part of a single list; optional whitespace around keys, values
//! and properties is ignored; values are percent-decoded, with invalid UTF-8 becoming
//! U+FFFD; properties (`;k=v`, `;k`) are kept. A malformed member is skipped and the others
//! kept (the specification leaves that choice to the implementation); a duplicated key keeps
//! its first value.
//!
//! Limits: the specification requires every list of up to 64 members and 8192 bytes to be
//! propagated. Up to [`BAGGAGE_MAX_MEMBERS`] (180, the grammar's maximum) members are kept
//! within [`BAGGAGE_MAX_LEN`] bytes across all headers; members beyond them are dropped
//! whole, never cut.

use super::context::trim_ows;
use super::{Extractor, Injector, Malformed, PropagationFormat};
use percent_encoding::{AsciiSet, CONTROLS, percent_decode, utf8_percent_encode};

/// `baggage` header name.
pub const BAGGAGE: &str = "baggage";
/// Most members kept (the `baggage-string` grammar's maximum; the specification asks for
/// at least 64).
pub const BAGGAGE_MAX_MEMBERS: usize = 180;
/// Longest combined `baggage` kept on extraction and written on injection, in bytes.
pub const BAGGAGE_MAX_LEN: usize = 8192;

/// Characters escaped in values: everything outside W3C's `baggage-octet`.
const VALUE_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

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
    /// Validated `;`-separated properties without optional whitespace, values still
    /// percent-encoded as received (e.g. `ttl=60;internal`).
    pub properties: Option<String>,
}

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
        self.push_entry(BaggageEntry {
            key: key.to_owned(),
            value: value.to_owned(),
            properties: None,
        })
    }

    /// Adds `entry` unless its key is already there or the member limit is reached.
    fn push_entry(&mut self, entry: BaggageEntry) -> bool {
        if self.entries.len() >= BAGGAGE_MAX_MEMBERS || self.get(&entry.key).is_some() {
            return false;
        }
        self.entries.push(entry);
        true
    }

    /// Entries in order.
    pub fn iter(&self) -> impl Iterator<Item = &BaggageEntry> {
        self.entries.iter()
    }
}

fn malformed(reason: &'static str) -> Malformed {
    Malformed {
        format: PropagationFormat::Baggage,
        reason,
    }
}

/// Parses one `baggage` value. See [`parse_all`].
pub fn parse(value: &[u8]) -> Result<Baggage, Malformed> {
    parse_all([value])
}

/// Parses the values of every `baggage` header, in the order received, as one list.
///
/// Malformed members are skipped; the result is an error only when there were members and
/// none was valid. Members past [`BAGGAGE_MAX_MEMBERS`], or that would take the kept list
/// past [`BAGGAGE_MAX_LEN`] bytes, are dropped whole.
pub fn parse_all<'a>(values: impl IntoIterator<Item = &'a [u8]>) -> Result<Baggage, Malformed> {
    let mut baggage = Baggage::default();
    let mut kept_len = 0usize;
    let mut first_error = None;
    for value in values {
        for member in value.split(|&b| b == b',') {
            let member = trim_ows(member);
            if member.is_empty() {
                continue;
            }
            if baggage.len() >= BAGGAGE_MAX_MEMBERS {
                return Ok(baggage);
            }
            let separator = usize::from(kept_len > 0);
            if kept_len + separator + member.len() > BAGGAGE_MAX_LEN {
                continue;
            }
            match parse_member(member) {
                Ok(entry) => {
                    if baggage.push_entry(entry) {
                        kept_len += separator + member.len();
                    }
                }
                Err(reason) => {
                    first_error.get_or_insert(reason);
                }
            }
        }
    }
    match first_error {
        Some(reason) if baggage.is_empty() => Err(malformed(reason)),
        _ => Ok(baggage),
    }
}

/// `key OWS "=" OWS value *(OWS ";" OWS property)`.
fn parse_member(member: &[u8]) -> Result<BaggageEntry, &'static str> {
    let mut parts = member.split(|&b| b == b';');
    let pair = parts.next().unwrap_or_default();
    let eq = pair
        .iter()
        .position(|&b| b == b'=')
        .ok_or("member without '='")?;
    let key = token(trim_ows(&pair[..eq])).ok_or("key is not a token")?;
    let value = trim_ows(&pair[eq + 1..]);
    if !value.iter().copied().all(is_baggage_octet) {
        return Err("value has characters outside baggage-octet");
    }
    let mut properties = String::new();
    for property in parts {
        let property = trim_ows(property);
        if property.is_empty() {
            continue;
        }
        let (name, value) = match property.iter().position(|&b| b == b'=') {
            Some(eq) => (
                trim_ows(&property[..eq]),
                Some(trim_ows(&property[eq + 1..])),
            ),
            None => (property, None),
        };
        let name = token(name).ok_or("property key is not a token")?;
        if !properties.is_empty() {
            properties.push(';');
        }
        properties.push_str(name);
        if let Some(value) = value {
            let value = std::str::from_utf8(value)
                .ok()
                .filter(|v| v.bytes().all(is_baggage_octet))
                .ok_or("property value has characters outside baggage-octet")?;
            properties.push('=');
            properties.push_str(value);
        }
    }
    Ok(BaggageEntry {
        key: key.to_owned(),
        value: percent_decode(value).decode_utf8_lossy().into_owned(),
        properties: (!properties.is_empty()).then_some(properties),
    })
}

fn token(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok().filter(|s| is_token(s))
}

/// `baggage-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
fn is_baggage_octet(b: u8) -> bool {
    matches!(b, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
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

/// Extracts every `baggage` header as one list; `Ok(None)` when there is none.
pub fn extract<E: Extractor + ?Sized>(carrier: &E) -> Result<Option<Baggage>, Malformed> {
    let mut values = carrier.get_all(BAGGAGE).peekable();
    if values.peek().is_none() {
        return Ok(None);
    }
    parse_all(values).map(Some)
}

/// The header value: whole members only, at most [`BAGGAGE_MAX_LEN`] bytes (members that
/// would not fit are left out).
pub fn header_value(baggage: &Baggage) -> String {
    let mut out = String::new();
    for entry in baggage.iter() {
        let mut member = format!(
            "{}={}",
            entry.key,
            utf8_percent_encode(&entry.value, VALUE_ESCAPES)
        );
        if let Some(props) = &entry.properties {
            member.push(';');
            member.push_str(props);
        }
        let separator = usize::from(!out.is_empty());
        if out.len() + separator + member.len() > BAGGAGE_MAX_LEN {
            continue;
        }
        if separator == 1 {
            out.push(',');
        }
        out.push_str(&member);
    }
    out
}

/// Writes a non-empty `baggage` header.
pub fn inject<I: Injector + ?Sized>(baggage: &Baggage, carrier: &mut I) {
    let value = header_value(baggage);
    if !value.is_empty() {
        carrier.set(BAGGAGE, value);
    }
}
