//! A JSON writer into a fixed byte buffer: strings escaped, numbers in plain decimal
//! notation; a body that does not fit is reported as such, never cut.
//! The browser build has no `core::fmt` (it would cost kilobytes), so numbers are written
//! by hand: integers exactly, fractions to twelve decimals (finer than the browser's
//! clock and than any layout-shift score).

/// Copies `from` into `to` (equal lengths; a loop that cannot panic, where
/// `copy_from_slice` would carry a panic message into the browser build).
pub(crate) fn copy(to: &mut [u8], from: &[u8]) {
    for (to, from) in to.iter_mut().zip(from) {
        *to = *from;
    }
}

/// The body being written into a caller's buffer.
#[derive(Debug)]
pub struct Json<'a> {
    out: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Json<'a> {
    /// An empty body written into `out`.
    pub fn new(out: &'a mut [u8]) -> Self {
        Self {
            out,
            len: 0,
            overflow: false,
        }
    }

    /// The length written, or `None` when the body did not fit.
    pub fn finish(&self) -> Option<usize> {
        (!self.overflow).then_some(self.len)
    }

    fn bytes(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        match self.out.get_mut(self.len..end) {
            Some(slot) => {
                copy(slot, bytes);
                self.len = end;
            }
            None => self.overflow = true,
        }
    }

    /// Appends `text` as is (punctuation, keys known to need no escaping).
    pub fn raw(&mut self, text: &str) -> &mut Self {
        self.bytes(text.as_bytes());
        self
    }

    /// Appends `"key":`.
    pub fn key(&mut self, key: &str) -> &mut Self {
        self.string(key.as_bytes()).raw(":")
    }

    /// Appends `text` (UTF-8) as a JSON string.
    pub fn string(&mut self, text: &[u8]) -> &mut Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        self.bytes(b"\"");
        for &byte in text {
            match byte {
                b'"' | b'\\' => self.bytes(&[b'\\', byte]),
                0..=0x1f => self.bytes(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    b'0' + (byte >> 4),
                    HEX[usize::from(byte & 15)],
                ]),
                _ => self.bytes(&[byte]),
            }
        }
        self.bytes(b"\"");
        self
    }

    /// Appends an unsigned integer.
    pub fn integer(&mut self, mut value: u64) -> &mut Self {
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        for slot in digits.iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
            at -= 1;
            if value == 0 {
                break;
            }
        }
        self.bytes(digits.get(at..).unwrap_or_default());
        self
    }

    /// Appends a number: up to twelve decimals, trailing zeros dropped; values that are
    /// not finite (never produced by the measurements) are written as `0`.
    pub fn number(&mut self, value: f64) -> &mut Self {
        const SCALE: f64 = 1e12;
        if !value.is_finite() || value.abs() >= 1e15 {
            return self.raw("0");
        }
        if value < 0.0 {
            self.bytes(b"-");
        }
        let value = value.abs();
        let mut whole = value as u64;
        let mut fraction = ((value - whole as f64) * SCALE + 0.5) as u64;
        if fraction >= SCALE as u64 {
            whole += 1;
            fraction -= SCALE as u64;
        }
        self.integer(whole);
        if fraction > 0 {
            let mut digits = [b'0'; 12];
            for slot in digits.iter_mut().rev() {
                *slot = b'0' + (fraction % 10) as u8;
                fraction /= 10;
            }
            let end = digits.iter().rposition(|&d| d != b'0').map_or(0, |i| i + 1);
            self.bytes(b".");
            self.bytes(digits.get(..end).unwrap_or_default());
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(value: f64) -> String {
        let mut buffer = [0; 64];
        let mut json = Json::new(&mut buffer);
        json.number(value);
        let len = json.finish().unwrap();
        String::from_utf8(buffer[..len].to_vec()).unwrap()
    }

    #[test]
    fn numbers_round_trip_to_the_clocks_resolution() {
        assert_eq!(number(0.0), "0");
        assert_eq!(number(1500.0), "1500");
        assert_eq!(number(-2.5), "-2.5");
        assert_eq!(number(0.1), "0.1");
        assert_eq!(number(f64::NAN), "0");
        assert_eq!(number(0.999_999_999_999_9), "1");
        for value in [
            1_523.400_000_095_367_4,
            0.046_193_750_000_000_01,
            22.899_999_976_158_14,
            599_999.999_9,
            0.000_123,
        ] {
            let back: f64 = number(value).parse().unwrap();
            assert!((back - value).abs() < 1e-12, "{value} -> {back}");
        }
    }

    #[test]
    fn strings_are_escaped() {
        let mut buffer = [0; 64];
        let mut json = Json::new(&mut buffer);
        json.string("a\"b\\c\n\u{1}é".as_bytes());
        let len = json.finish().unwrap();
        let text = String::from_utf8(buffer[..len].to_vec()).unwrap();
        assert_eq!(text, r#""a\"b\\c\u000a\u0001é""#);
        assert_eq!(
            serde_json::from_str::<String>(&text).unwrap(),
            "a\"b\\c\n\u{1}é"
        );
    }

    #[test]
    fn a_body_that_does_not_fit_is_refused_not_cut() {
        let mut buffer = [0; 8];
        let mut json = Json::new(&mut buffer);
        json.raw("{").key("long").string(b"value");
        assert_eq!(json.finish(), None);
    }
}
