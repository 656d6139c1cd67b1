//! Lexical scanning over the statement's bytes: identifier characters and the end of each
//! comment, string, quoted identifier, dollar quote and number.

/// Bit of [`CLASS`]: may start an identifier (letters, `_`, any non-ASCII byte).
const IDENT_START: u8 = 1;
/// Bit of [`CLASS`]: may continue an identifier (also digits and `$`).
const IDENT_CHAR: u8 = 2;

/// The character class of every byte, looked up instead of tested (both scans of a
/// statement ask it for every byte).
static CLASS: [u8; 256] = {
    let mut class = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        if byte.is_ascii_alphabetic() || byte == b'_' || byte >= 0x80 {
            class[b] |= IDENT_START | IDENT_CHAR;
        }
        if byte.is_ascii_digit() || byte == b'$' {
            class[b] |= IDENT_CHAR;
        }
        b += 1;
    }
    class
};

pub(super) fn is_ident_start(b: u8) -> bool {
    CLASS[usize::from(b)] & IDENT_START != 0
}

pub(super) fn is_ident_char(b: u8) -> bool {
    CLASS[usize::from(b)] & IDENT_CHAR != 0
}

pub(super) fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

pub(super) fn scan(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < bytes.len() && keep(bytes[i]) {
        i += 1;
    }
    i
}

pub(super) fn memchr_newline(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| i + p + 1)
}

/// Skips `/* … */`, nested as PostgreSQL allows; an unterminated comment runs to the end.
pub(super) fn skip_block_comment(bytes: &[u8], mut i: usize, nested: bool) -> usize {
    let mut depth = 0usize;
    while i < bytes.len() {
        if bytes[i] == b'/' && bytes.get(i + 1) == Some(&b'*') && (nested || depth == 0) {
            depth += 1;
            i += 2;
        } else if bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/') {
            depth -= 1;
            i += 2;
            if depth == 0 {
                return i;
            }
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// Skips a `'…'` literal starting at the quote; `''` is a quote inside, and so is `\'` when
/// `escapes` (E'' strings). An unterminated literal runs to the end.
pub(super) fn skip_string(bytes: &[u8], start: usize, escapes: bool) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if escapes => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Skips a quoted identifier (`"…"` or `` `…` ``), doubled quotes inside.
pub(super) fn skip_quoted(bytes: &[u8], start: usize, quote: u8) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        if bytes[i] == quote {
            if bytes.get(i + 1) == Some(&quote) {
                i += 2;
                continue;
            }
            return i + 1;
        }
        i += 1;
    }
    bytes.len()
}

/// Skips `$tag$ … $tag$` starting at the first `$`; `None` when this is no dollar quote.
pub(super) fn skip_dollar_quoted(bytes: &[u8], start: usize) -> Option<usize> {
    // Tags are identifiers without `$`: letters (any script), digits, `_`.
    let tag_end = scan(bytes, start + 1, |c| {
        c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80
    });
    if bytes.get(tag_end) != Some(&b'$') || bytes.get(start + 1).is_some_and(u8::is_ascii_digit) {
        return None;
    }
    let tag = &bytes[start..=tag_end];
    let body = tag_end + 1;
    let found = bytes[body..]
        .windows(tag.len())
        .position(|w| w == tag)
        .map_or(bytes.len(), |p| body + p + tag.len());
    Some(found)
}

/// Skips a number: digits, fraction, exponent, or `0x…` hex.
pub(super) fn skip_number(bytes: &[u8], start: usize) -> usize {
    if bytes[start] == b'0' && matches!(bytes.get(start + 1), Some(b'x' | b'X')) {
        return scan(bytes, start + 2, |c| c.is_ascii_hexdigit());
    }
    let mut i = scan(bytes, start, |c| c.is_ascii_digit() || c == b'_');
    if bytes.get(i) == Some(&b'.') {
        i = scan(bytes, i + 1, |c| c.is_ascii_digit() || c == b'_');
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        let mut j = i + 1;
        if matches!(bytes.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        if bytes.get(j).is_some_and(u8::is_ascii_digit) {
            i = scan(bytes, j, |c| c.is_ascii_digit());
        }
    }
    // `1abc` is not a number followed by a word in any dialect we serve; swallow it whole.
    scan(bytes, i, is_ident_char)
}
