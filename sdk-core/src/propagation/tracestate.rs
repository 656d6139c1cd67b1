//! W3C `tracestate`: the vendor list that travels with `traceparent`.
//!
//! Received lists are read as the specification's current text asks: every `tracestate`
//! header is one part of a single comma-separated list (RFC 9110 §5.3), empty members and
//! optional whitespace around members are skipped, a duplicated key keeps its first value,
//! and a list with more than 32 members or any malformed member is discarded whole (the
//! `traceparent` is kept). Keys are read with the current grammar,
//! `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")`, which accepts
//! every Level 1 key (`simple-key`, `tenant@system`) and the longer multi-tenant forms that
//! later drafts and the conformance suite allow. Keys this process writes with
//! [`TraceState::insert`] must follow the stricter Level 1 grammar, so that no receiver
//! discards the list because of an entry we added.

use super::context::trim_ows;

/// Most members a `tracestate` may hold.
pub const TRACESTATE_MAX_MEMBERS: usize = 32;
/// Longest combined `tracestate` kept and propagated (the specification asks for at least
/// 512). A longer list loses whole entries: those over 128 characters first, then from the
/// end, as the specification's "tracestate Limits" ask.
pub const TRACESTATE_MAX_LEN: usize = 512 * 4;
/// Combined input longer than this is not parsed at all ("prohibitively large"): 32 members
/// with 256-character keys and values take half of it.
const INPUT_MAX_LEN: usize = 32 * 1024;
/// Entries longer than this are dropped first when the list is too long.
const LARGE_ENTRY_LEN: usize = 128;

/// W3C `tracestate`: at most 32 validated `key=value` members, most recently updated first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceState {
    members: Vec<(String, String)>,
}

impl TraceState {
    /// Parses one header value; `None` if a member is malformed or the list has more than
    /// 32 members. See [`TraceState::parse_all`].
    pub fn parse(header: &[u8]) -> Option<Self> {
        Self::parse_all([header])
    }

    /// Parses the values of every `tracestate` header, in the order received, as one list.
    ///
    /// Empty headers and empty members add nothing; a duplicated key keeps its first value.
    /// `None` when any member is malformed, when there are more than
    /// [`TRACESTATE_MAX_MEMBERS`] members, or when the input is prohibitively large; the
    /// caller then drops the whole list. No allocation when there is no member.
    pub fn parse_all<'a>(headers: impl IntoIterator<Item = &'a [u8]>) -> Option<Self> {
        let mut members: Vec<(String, String)> = Vec::new();
        let mut count = 0usize;
        let mut input_len = 0usize;
        for header in headers {
            input_len += header.len() + 1;
            if input_len > INPUT_MAX_LEN {
                return None;
            }
            for member in header.split(|&b| b == b',') {
                let member = trim_ows(member);
                if member.is_empty() {
                    continue;
                }
                count += 1;
                if count > TRACESTATE_MAX_MEMBERS {
                    return None;
                }
                let (key, value) = parse_member(member)?;
                if members.iter().all(|(k, _)| k != key) {
                    members.push((key.to_owned(), value.to_owned()));
                }
            }
        }
        let mut state = Self { members };
        state.fit_max_len(0);
        Some(state)
    }

    /// Whether there are no members.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// The value for `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.members
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Adds `key` or updates it, moving it to the front (the specification's "update" and
    /// "add" mutations). When the list grows past 32 members the right-most one is removed.
    /// Refuses (returns `false`) a key outside the Level 1 grammar (`simple-key` or
    /// `tenant@system`) or an invalid value.
    pub fn insert(&mut self, key: &str, value: &str) -> bool {
        if !valid_level1_key(key.as_bytes()) || !valid_value(value.as_bytes()) {
            return false;
        }
        self.members.retain(|(k, _)| k != key);
        self.members.insert(0, (key.to_owned(), value.to_owned()));
        self.members.truncate(TRACESTATE_MAX_MEMBERS);
        self.fit_max_len(1);
        true
    }

    /// Members in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.members.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The header value.
    pub fn header_value(&self) -> String {
        let mut out = String::with_capacity(self.header_len());
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

    fn header_len(&self) -> usize {
        let entries: usize = self.members.iter().map(|(k, v)| entry_len(k, v)).sum();
        entries + self.members.len().saturating_sub(1)
    }

    /// Drops whole entries (never the first `keep`) until the header fits
    /// [`TRACESTATE_MAX_LEN`]: entries over 128 characters first, then from the end.
    fn fit_max_len(&mut self, keep: usize) {
        while self.header_len() > TRACESTATE_MAX_LEN && self.members.len() > keep {
            let last = self.members.len() - 1;
            let victim = (keep..self.members.len())
                .rev()
                .find(|&i| {
                    let (k, v) = &self.members[i];
                    entry_len(k, v) > LARGE_ENTRY_LEN
                })
                .unwrap_or(last);
            self.members.remove(victim);
        }
    }
}

fn entry_len(key: &str, value: &str) -> usize {
    key.len() + 1 + value.len()
}

/// Splits and validates `key=value`; both halves are ASCII once valid.
fn parse_member(member: &[u8]) -> Option<(&str, &str)> {
    let eq = member.iter().position(|&b| b == b'=')?;
    let (key, value) = (&member[..eq], &member[eq + 1..]);
    if !valid_key(key) || !valid_value(value) {
        return None;
    }
    Some((
        std::str::from_utf8(key).ok()?,
        std::str::from_utf8(value).ok()?,
    ))
}

fn is_keychar(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'-' | b'*' | b'/')
}

/// `key = (lcalpha / DIGIT) 0*255(keychar)`, `keychar` including `@`: the grammar of the
/// current specification text, a superset of Level 1's.
fn valid_key(key: &[u8]) -> bool {
    match key.split_first() {
        Some((first, rest)) => {
            key.len() <= 256
                && (first.is_ascii_lowercase() || first.is_ascii_digit())
                && rest.iter().all(|&b| is_keychar(b) || b == b'@')
        }
        None => false,
    }
}

/// Level 1: `simple-key = lcalpha 0*255(keychar)`, or `tenant-id "@" system-id` with
/// `tenant-id = (lcalpha / DIGIT) 0*240(keychar)` and `system-id = lcalpha 0*13(keychar)`.
fn valid_level1_key(key: &[u8]) -> bool {
    let part = |part: &[u8], digit_first: bool, max: usize| match part.split_first() {
        Some((first, rest)) => {
            part.len() <= max
                && (first.is_ascii_lowercase() || (digit_first && first.is_ascii_digit()))
                && rest.iter().all(|&b| is_keychar(b))
        }
        None => false,
    };
    match key.iter().position(|&b| b == b'@') {
        None => part(key, false, 256),
        Some(at) => part(&key[..at], true, 241) && part(&key[at + 1..], false, 14),
    }
}

/// `value = 0*255(chr) nblk-chr`: 1 to 256 printable ASCII characters other than `,` and
/// `=`, not ending with a space.
fn valid_value(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= 256
        && value.last() != Some(&b' ')
        && value
            .iter()
            .all(|&b| (0x20..=0x7e).contains(&b) && b != b',' && b != b'=')
}
