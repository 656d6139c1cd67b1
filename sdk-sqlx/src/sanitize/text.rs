//! The sanitized text: literals masked, comments dropped, white space collapsed, `IN` lists
//! folded, bounded length.

use super::Dialect;
use super::lexer::{
    is_ident_char, is_ident_start, memchr_newline, scan, skip_block_comment, skip_dollar_quoted,
    skip_number, skip_quoted, skip_string, utf8_len,
};

/// Longest sanitized text kept, in bytes.
pub const MAX_TEXT_LEN: usize = 2048;

/// Output under construction: bounded, with white space collapsed.
struct Out {
    text: String,
    full: bool,
    /// Byte offset just after `IN (` while the list holds only `?` and commas.
    in_list: Option<usize>,
    /// The last word written was `IN`.
    after_in: bool,
}

impl Out {
    fn push_str(&mut self, s: &str) {
        if self.full {
            return;
        }
        if self.text.len() + s.len() > MAX_TEXT_LEN {
            let mut end = MAX_TEXT_LEN - self.text.len();
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.text.push_str(&s[..end]);
            self.full = true;
            return;
        }
        self.text.push_str(s);
    }

    fn space(&mut self) {
        if !matches!(self.text.as_bytes().last(), None | Some(b' ' | b'(')) {
            self.push_str(" ");
        }
    }

    /// Drops a trailing space.
    fn trim_space(&mut self) {
        if self.text.as_bytes().last() == Some(&b' ') {
            self.text.pop();
        }
    }

    /// Writes a token other than `?`, `,` or white space inside an `IN` list.
    fn token(&mut self, s: &str) {
        self.in_list = None;
        self.after_in = false;
        self.push_str(s);
    }

    fn literal(&mut self) {
        self.after_in = false;
        self.push_str("?");
    }

    fn open_paren(&mut self) {
        let after_in = self.after_in;
        self.token("(");
        if after_in {
            self.in_list = Some(self.text.len());
        }
    }

    fn close_paren(&mut self) {
        if let Some(start) = self.in_list.take()
            && !self.full
        {
            let list = &self.text[start..];
            if list.contains('?') && list.bytes().all(|b| matches!(b, b'?' | b',' | b' ')) {
                self.text.truncate(start);
                self.text.push('?');
            }
        }
        self.trim_space();
        self.token(")");
    }
}

/// The sanitized text alone (PostgreSQL rules).
pub fn sanitize_text(sql: &str) -> String {
    sanitize_text_for(sql, Dialect::Postgres)
}

/// The sanitized text alone, by the rules of `dialect`.
pub fn sanitize_text_for(sql: &str, dialect: Dialect) -> String {
    let bytes = sql.as_bytes();
    let mut out = Out {
        text: String::with_capacity(sql.len().min(MAX_TEXT_LEN)),
        full: false,
        in_list: None,
        after_in: false,
    };
    let mut i = 0;
    while i < bytes.len() && !out.full {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' => {
                out.space();
                i += 1;
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                i = memchr_newline(bytes, i);
                out.space();
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = skip_block_comment(bytes, i, dialect == Dialect::Postgres);
                out.space();
            }
            b'\'' => {
                i = skip_string(bytes, i, false);
                out.literal();
            }
            // PostgreSQL has no backtick quotes: a backtick is a character of its own, so
            // a literal after one is still masked.
            b'`' if dialect == Dialect::Postgres => {
                out.token("`");
                i += 1;
            }
            b'"' | b'`' => {
                let end = skip_quoted(bytes, i, b);
                let terminated = end > i + 1 && bytes.get(end - 1) == Some(&b);
                if !terminated || (b == b'"' && dialect == Dialect::Sqlite) {
                    // An unterminated quote, or a SQLite double-quoted string.
                    out.literal();
                } else {
                    out.token(&sql[i..end]);
                }
                i = end;
            }
            b'$' => {
                if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    let end = scan(bytes, i + 1, |c| c.is_ascii_digit());
                    out.token(&sql[i..end]);
                    i = end;
                } else if let Some(end) = skip_dollar_quoted(bytes, i) {
                    out.literal();
                    i = end;
                } else {
                    out.token("$");
                    i += 1;
                }
            }
            b'0'..=b'9' => {
                i = skip_number(bytes, i);
                out.literal();
            }
            b'.' if bytes.get(i + 1).is_some_and(u8::is_ascii_digit)
                && !out
                    .text
                    .ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '"') =>
            {
                i = skip_number(bytes, i);
                out.literal();
            }
            b'(' => {
                out.open_paren();
                i += 1;
            }
            b')' => {
                out.close_paren();
                i += 1;
            }
            b',' => {
                out.trim_space();
                let in_list = out.in_list;
                out.push_str(",");
                out.in_list = in_list;
                out.after_in = false;
                i += 1;
            }
            b'?' => {
                // `?` and `?1` placeholders; both are kept as written.
                let end = scan(bytes, i + 1, |c| c.is_ascii_digit());
                let in_list = out.in_list;
                out.push_str(&sql[i..end]);
                out.in_list = in_list;
                out.after_in = false;
                i = end;
            }
            _ if is_ident_start(b) => {
                let end = scan(bytes, i, is_ident_char);
                let word = &sql[i..end];
                // A one-letter prefix glued to a string: E'…', X'…', B'…', N'…'; U&'…'.
                if bytes.get(end) == Some(&b'\'') && word.len() == 1 {
                    let escapes = word.eq_ignore_ascii_case("e");
                    if matches!(
                        word.as_bytes()[0].to_ascii_lowercase(),
                        b'e' | b'x' | b'b' | b'n'
                    ) {
                        i = skip_string(bytes, end, escapes);
                        out.literal();
                        continue;
                    }
                }
                if word.eq_ignore_ascii_case("u")
                    && bytes.get(end) == Some(&b'&')
                    && bytes.get(end + 1) == Some(&b'\'')
                {
                    i = skip_string(bytes, end + 1, false);
                    out.literal();
                    continue;
                }
                if word.eq_ignore_ascii_case("true") || word.eq_ignore_ascii_case("false") {
                    out.literal();
                } else {
                    out.token(word);
                    out.after_in = word.eq_ignore_ascii_case("in");
                }
                i = end;
            }
            _ => {
                // Operators and other punctuation, one character at a time.
                let len = utf8_len(b);
                let end = (i + len).min(bytes.len());
                out.token(sql.get(i..end).unwrap_or("?"));
                i = end;
            }
        }
    }
    while out.text.ends_with(' ') {
        out.text.pop();
    }
    out.text
}
