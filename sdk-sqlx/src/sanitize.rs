//! SQL sanitizing and summaries: what a query span may carry without leaking data.
//!
//! [`sanitize`] makes one pass over the statement:
//!
//! - literals become `?`: strings (`'it''s'`, `E'\n'`, `X'1f'`, `N'…'`, `U&'…'`),
//!   dollar-quoted strings (`$$…$$`, `$tag$…$tag$`), numbers (`42`, `-1.5e3` keeps its sign
//!   outside, `.5`, `0x1F`) and `TRUE`/`FALSE`;
//! - placeholders stay: `$1`, `?`, `?1`, `:name`, `@p1`;
//! - comments (`-- …`, nested `/* … */`) are removed, runs of white space become one space;
//! - `IN (?, ?, ?)` becomes `IN (?)`, so statements differing only in list length match;
//! - the text is cut at [`MAX_TEXT_LEN`] bytes (at a character boundary).
//!
//! It also reads the operation (`SELECT`; for `WITH …` the main statement's) and the tables
//! after `FROM`, `JOIN`, `INTO`, `UPDATE` and `TABLE`, which give `db.operation.name`,
//! `db.collection.name` (when there is exactly one) and `db.query.summary`
//! (`SELECT users orders`), also the span name.
//!
//! [`QueryCache`] keeps results per statement text, so an application's repeated
//! statements are sanitized once.

use foldhash::fast::RandomState;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Longest sanitized text kept, in bytes.
pub const MAX_TEXT_LEN: usize = 2048;
/// Longest summary kept, in bytes (OpenTelemetry suggests 255).
pub const MAX_SUMMARY_LEN: usize = 255;
/// Most tables named in a summary.
const MAX_SUMMARY_TABLES: usize = 4;

/// SQL dialect rules the sanitizer needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// PostgreSQL (the default): `"…"` is an identifier, block comments nest.
    #[default]
    Postgres,
    /// SQLite: `"…"` may be a string (SQLite accepts it when no column has that name), so
    /// it is masked; block comments do not nest.
    Sqlite,
}

/// Longest statement whose sanitized form is cached, in bytes (longer ones are built with
/// inline data and would make the cache hold their text).
pub const MAX_CACHED_SQL_LEN: usize = 4096;

/// A statement as telemetry may show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SanitizedQuery {
    /// The text with literals replaced and comments removed (`db.query.text`).
    pub text: Arc<str>,
    /// Upper-case operation (`SELECT`, `INSERT`), when recognised (`db.operation.name`).
    pub operation: Option<&'static str>,
    /// The table, when the statement names exactly one (`db.collection.name`).
    pub collection: Option<Arc<str>>,
    /// Operation and tables, `SELECT users orders` (`db.query.summary`, the span name).
    pub summary: Arc<str>,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

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
        if !self.text.is_empty() && !self.text.ends_with(' ') && !self.text.ends_with('(') {
            self.push_str(" ");
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
        if self.text.ends_with(' ') {
            self.text.pop();
        }
        self.token(")");
    }
}

/// Sanitizes `sql` (PostgreSQL rules) and reads its operation, tables and summary.
pub fn sanitize(sql: &str) -> SanitizedQuery {
    sanitize_for(sql, Dialect::Postgres)
}

/// Sanitizes `sql` by the rules of `dialect` and reads its operation, tables and summary.
pub fn sanitize_for(sql: &str, dialect: Dialect) -> SanitizedQuery {
    let text = sanitize_text_for(sql, dialect);
    let (operation, tables) = shape(&text);
    let collection = match tables.as_slice() {
        [only] => Some(only.as_str().into()),
        _ => None,
    };
    let mut summary = String::new();
    if let Some(op) = &operation {
        summary.push_str(op);
        for table in tables.iter().take(MAX_SUMMARY_TABLES) {
            if summary.len() + 1 + table.len() > MAX_SUMMARY_LEN {
                break;
            }
            summary.push(' ');
            summary.push_str(table);
        }
    }
    SanitizedQuery {
        text: text.into(),
        operation,
        collection,
        summary: summary.into(),
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
                if out.text.ends_with(' ') {
                    out.text.pop();
                }
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

fn utf8_len(first: u8) -> usize {
    match first {
        0xf0..=0xff => 4,
        0xe0..=0xef => 3,
        0xc0..=0xdf => 2,
        _ => 1,
    }
}

fn scan(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < bytes.len() && keep(bytes[i]) {
        i += 1;
    }
    i
}

fn memchr_newline(bytes: &[u8], i: usize) -> usize {
    bytes[i..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |p| i + p + 1)
}

/// Skips `/* … */`, nested as PostgreSQL allows; an unterminated comment runs to the end.
fn skip_block_comment(bytes: &[u8], mut i: usize, nested: bool) -> usize {
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
fn skip_string(bytes: &[u8], start: usize, escapes: bool) -> usize {
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
fn skip_quoted(bytes: &[u8], start: usize, quote: u8) -> usize {
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
fn skip_dollar_quoted(bytes: &[u8], start: usize) -> Option<usize> {
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
fn skip_number(bytes: &[u8], start: usize) -> usize {
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

const OPERATIONS: &[&str] = &[
    "SELECT",
    "INSERT",
    "UPDATE",
    "DELETE",
    "MERGE",
    "UPSERT",
    "REPLACE",
    "CREATE",
    "DROP",
    "ALTER",
    "TRUNCATE",
    "BEGIN",
    "START",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "CALL",
    "EXPLAIN",
    "SET",
    "SHOW",
    "COPY",
    "VACUUM",
    "ANALYZE",
    "GRANT",
    "REVOKE",
    "LOCK",
    "PRAGMA",
    "VALUES",
    "LISTEN",
    "NOTIFY",
    "DO",
    "REFRESH",
    "REINDEX",
    "CLUSTER",
    "COMMENT",
    "DECLARE",
    "FETCH",
    "CLOSE",
    "PREPARE",
    "EXECUTE",
    "DEALLOCATE",
    "DISCARD",
    "ATTACH",
    "DETACH",
];

const MAIN_OPERATIONS: &[&str] = &["SELECT", "INSERT", "UPDATE", "DELETE", "MERGE"];

/// Words after `FROM`/`JOIN`/… that are not table names.
const NOT_TABLES: &[&str] = &[
    "ONLY",
    "IF",
    "NOT",
    "EXISTS",
    "LATERAL",
    "SELECT",
    "UNNEST",
    "TEMP",
    "TEMPORARY",
    "UNLOGGED",
    "OR",
    "IGNORE",
    "VALUES",
    "SET",
    "DEFAULT",
];

/// Operation and tables of a sanitized statement.
fn shape(text: &str) -> (Option<&'static str>, Vec<String>) {
    let mut words = Tokens { text, pos: 0 };
    let Some(first) = words.next() else {
        return (None, Vec::new());
    };
    let first_upper = first.to_ascii_uppercase();
    let mut operation = OPERATIONS.iter().copied().find(|op| *op == first_upper);
    if first_upper == "WITH" {
        operation = None;
    }
    let mut tables: Vec<String> = Vec::new();
    let mut depth = 0usize;
    let mut expect_table = false;
    let mut previous_upper = first_upper.clone();
    let rest = Tokens {
        text,
        pos: words.pos,
    };
    if first_upper == "UPDATE" {
        expect_table = true;
    }
    for token in rest {
        match token {
            "(" => {
                depth += 1;
                expect_table = false;
                continue;
            }
            ")" => {
                depth = depth.saturating_sub(1);
                expect_table = false;
                continue;
            }
            _ => {}
        }
        let upper = token.to_ascii_uppercase();
        if operation.is_none()
            && depth == 0
            && let Some(main) = MAIN_OPERATIONS.iter().copied().find(|op| *op == upper)
        {
            operation = Some(main);
            if upper == "UPDATE" {
                expect_table = true;
                previous_upper = upper;
                continue;
            }
        }
        if expect_table {
            if NOT_TABLES.contains(&upper.as_str()) {
                continue;
            }
            expect_table = false;
            let first_char = token.as_bytes()[0];
            if (is_ident_start(first_char) || first_char == b'"' || first_char == b'`')
                && tables.len() < MAX_SUMMARY_TABLES * 2
                && !tables.iter().any(|t| t == token)
            {
                tables.push(token.to_owned());
            }
        } else if matches!(upper.as_str(), "FROM" | "JOIN" | "INTO")
            || (upper == "TABLE" && previous_upper != "RETURNS")
        {
            expect_table = true;
        }
        previous_upper = upper;
    }
    (operation, tables)
}

/// Words (with dotted and quoted parts joined: `public."Users"`) and single punctuation.
struct Tokens<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let bytes = self.text.as_bytes();
        while self.pos < bytes.len() && bytes[self.pos] == b' ' {
            self.pos += 1;
        }
        if self.pos >= bytes.len() {
            return None;
        }
        let start = self.pos;
        let b = bytes[start];
        if is_ident_start(b) || b == b'"' || b == b'`' {
            let mut i = start;
            loop {
                match bytes.get(i) {
                    Some(&q @ (b'"' | b'`')) => i = skip_quoted(bytes, i, q),
                    Some(&c) if is_ident_start(c) => i = scan(bytes, i, is_ident_char),
                    _ => break,
                }
                if bytes.get(i) == Some(&b'.') {
                    i += 1;
                } else {
                    break;
                }
            }
            self.pos = i;
        } else {
            self.pos = start + utf8_len(b).min(bytes.len() - start);
        }
        self.text.get(start..self.pos)
    }
}

/// Sanitized statements by their original text, bounded.
///
/// Lookups take a shared lock and hash the text once; when `capacity` distinct statements
/// are cached (statements built with inline literals can be endless), new ones are
/// sanitized every time instead of growing the cache.
///
/// `T` is what is kept per statement: the [`SanitizedQuery`] itself by default, or a type
/// built from it (the pool keeps its metric handles next to it).
#[derive(Debug)]
pub struct QueryCache<T = SanitizedQuery> {
    entries: RwLock<HashMap<Box<str>, Arc<T>, RandomState>>,
    capacity: usize,
    dialect: Dialect,
}

impl<T> Default for QueryCache<T> {
    fn default() -> Self {
        Self::new(1024)
    }
}

impl QueryCache<SanitizedQuery> {
    /// The sanitized form of `sql`, from the cache when seen before.
    pub fn get(&self, sql: &str) -> Arc<SanitizedQuery> {
        self.get_with(sql, |query| query)
    }
}

impl<T> QueryCache<T> {
    /// A cache of at most `capacity` statements.
    pub fn new(capacity: usize) -> Self {
        Self::with_dialect(capacity, Dialect::Postgres)
    }

    /// A cache of at most `capacity` statements sanitized by the rules of `dialect`.
    pub fn with_dialect(capacity: usize, dialect: Dialect) -> Self {
        Self {
            entries: RwLock::new(HashMap::with_hasher(RandomState::default())),
            capacity,
            dialect,
        }
    }

    /// The entry of `sql`, made from its sanitized form by `make` when not seen before.
    pub fn get_with(&self, sql: &str, make: impl FnOnce(SanitizedQuery) -> T) -> Arc<T> {
        if let Some(found) = self.entries.read().ok().and_then(|m| m.get(sql).cloned()) {
            return found;
        }
        let entry = Arc::new(make(sanitize_for(sql, self.dialect)));
        if sql.len() <= MAX_CACHED_SQL_LEN
            && let Ok(mut entries) = self.entries.write()
            && entries.len() < self.capacity
        {
            entries.insert(sql.into(), Arc::clone(&entry));
        }
        entry
    }

    /// Number of cached statements.
    pub fn len(&self) -> usize {
        self.entries.read().map_or(0, |m| m.len())
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
