//! Whether a statement only reads, so that it may be explained.
//!
//! Read from the *sanitized* text (literals already `?`, comments gone, one space between
//! tokens), so a string such as `'DELETE'` cannot change the answer. Conservative: what
//! cannot be shown to only read is a [`StatementClass::Write`].

use crate::sanitize::MAX_TEXT_LEN;

/// What the planner may do with a statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StatementClass {
    /// A plain read; `params` is the highest `$n` placeholder (0: none).
    Read { params: u16 },
    /// Writes, or could not be shown to only read.
    Write,
}

/// Most parameters a statement explained with `EXECUTE stmt(NULL, …)` may have.
const MAX_PARAMS: u16 = 1024;

/// Words that make a statement a write wherever they stand.
const WRITE_WORDS: &[&str] = &["DELETE", "INSERT", "INTO", "MERGE", "UPDATE", "UPSERT"];

/// Words that may precede `(` without being a function call, and built-in functions that
/// only read (PostgreSQL and SQLite), lower case and sorted for a binary search.
const PAREN_WORDS: &[&str] = &[
    "abs",
    "age",
    "all",
    "and",
    "any",
    "array",
    "array_agg",
    "array_length",
    "array_position",
    "array_to_string",
    "as",
    "avg",
    "between",
    "bit",
    "bool_and",
    "bool_or",
    "btrim",
    "by",
    "cardinality",
    "case",
    "cast",
    "ceil",
    "ceiling",
    "char",
    "char_length",
    "character",
    "character_length",
    "coalesce",
    "concat",
    "concat_ws",
    "count",
    "cube",
    "cume_dist",
    "date",
    "date_part",
    "date_trunc",
    "datetime",
    "decimal",
    "dense_rank",
    "distinct",
    "else",
    "every",
    "except",
    "exists",
    "exp",
    "extract",
    "filter",
    "first_value",
    "float",
    "floor",
    "from",
    "greatest",
    "group_concat",
    "grouping",
    "having",
    "hex",
    "ifnull",
    "iif",
    "ilike",
    "in",
    "instr",
    "intersect",
    "interval",
    "is",
    "join",
    "json_agg",
    "json_array_elements",
    "json_build_object",
    "json_extract",
    "jsonb_agg",
    "jsonb_array_elements",
    "jsonb_build_object",
    "jsonb_each",
    "jsonb_extract_path",
    "jsonb_typeof",
    "julianday",
    "lag",
    "last_value",
    "lateral",
    "lead",
    "least",
    "left",
    "length",
    "like",
    "limit",
    "ln",
    "log",
    "lower",
    "ltrim",
    "materialized",
    "max",
    "md5",
    "min",
    "mod",
    "not",
    "now",
    "nth_value",
    "ntile",
    "nullif",
    "numeric",
    "octet_length",
    "offset",
    "on",
    "or",
    "over",
    "overlay",
    "partition",
    "percent_rank",
    "percentile_cont",
    "percentile_disc",
    "position",
    "power",
    "printf",
    "random",
    "range",
    "rank",
    "recursive",
    "regexp_match",
    "regexp_matches",
    "regexp_replace",
    "replace",
    "right",
    "rollup",
    "round",
    "row",
    "row_number",
    "rows",
    "rtrim",
    "select",
    "sets",
    "sign",
    "some",
    "split_part",
    "sqrt",
    "stddev",
    "strftime",
    "string_agg",
    "strpos",
    "substr",
    "substring",
    "sum",
    "then",
    "time",
    "timestamp",
    "timestamptz",
    "to_char",
    "to_date",
    "to_json",
    "to_jsonb",
    "to_number",
    "to_timestamp",
    "total",
    "trim",
    "trunc",
    "typeof",
    "union",
    "unnest",
    "upper",
    "using",
    "values",
    "varchar",
    "variance",
    "when",
    "where",
    "window",
    "with",
    "within",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token<'a> {
    Word(&'a str),
    Quoted,
    Param(u16),
    Punct(u8),
}

/// Classifies the sanitized text `text`.
pub(crate) fn classify(text: &str) -> StatementClass {
    // A text cut at the sanitizer's bound hides its end: it cannot be shown to only read.
    if text.len() + 4 > MAX_TEXT_LEN {
        return StatementClass::Write;
    }
    let mut tokens = tokens(text);
    while tokens.last() == Some(&Token::Punct(b';')) {
        tokens.pop();
    }
    if tokens.contains(&Token::Punct(b';')) {
        return StatementClass::Write;
    }
    let first = tokens.iter().find(|t| **t != Token::Punct(b'('));
    let reads = matches!(first, Some(Token::Word(w)) if ["SELECT", "WITH", "VALUES", "TABLE"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k)));
    if !reads {
        return StatementClass::Write;
    }
    let mut params = 0u16;
    for (i, token) in tokens.iter().enumerate() {
        let before = i.checked_sub(1).and_then(|j| tokens.get(j));
        let calls = tokens.get(i + 1) == Some(&Token::Punct(b'('));
        match *token {
            Token::Param(n) => params = params.max(n),
            Token::Word(word) => {
                if WRITE_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w)) {
                    return StatementClass::Write;
                }
                // FOR SHARE, FOR KEY SHARE (FOR [NO KEY] UPDATE is caught above).
                if word.eq_ignore_ascii_case("SHARE")
                    && matches!(before, Some(Token::Word(w)) if w.eq_ignore_ascii_case("FOR") || w.eq_ignore_ascii_case("KEY"))
                {
                    return StatementClass::Write;
                }
                if calls && !known_paren_word(word) && !column_list(&tokens, i, before) {
                    return StatementClass::Write;
                }
            }
            Token::Quoted => {
                if calls && !column_list(&tokens, i, before) {
                    return StatementClass::Write;
                }
            }
            Token::Punct(_) => {}
        }
    }
    if params > MAX_PARAMS {
        return StatementClass::Write;
    }
    StatementClass::Read { params }
}

fn known_paren_word(word: &str) -> bool {
    if word.len() > 24 {
        return false;
    }
    let lower = word.to_ascii_lowercase();
    PAREN_WORDS.binary_search(&lower.as_str()).is_ok()
}

/// `name (` that is not a call: an alias's column list (`AS t (a, b)`) or a common table
/// expression's (`WITH t (a, b) AS (…)`, `, t (a) AS MATERIALIZED (…)`). A call with an
/// alias (`SELECT nextval('s') AS id`, `f(x) AS y`) is neither: a common table
/// expression's name follows `WITH`, `RECURSIVE` or a comma, and its column list is
/// followed by `AS (`, `AS MATERIALIZED` or `AS NOT MATERIALIZED`.
fn column_list(tokens: &[Token<'_>], i: usize, before: Option<&Token<'_>>) -> bool {
    let word = |t: Option<&Token<'_>>, k: &str| matches!(t, Some(Token::Word(w)) if w.eq_ignore_ascii_case(k));
    if word(before, "AS") {
        return true;
    }
    let names_cte = word(before, "WITH")
        || word(before, "RECURSIVE")
        || matches!(before, Some(Token::Punct(b',')));
    if !names_cte {
        return false;
    }
    let mut depth = 0usize;
    for (j, token) in tokens.iter().enumerate().skip(i + 1) {
        match token {
            Token::Punct(b'(') => depth += 1,
            Token::Punct(b')') => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    let next = tokens.get(j + 2);
                    return word(tokens.get(j + 1), "AS")
                        && (matches!(next, Some(Token::Punct(b'(')))
                            || word(next, "MATERIALIZED")
                            || word(next, "NOT"));
                }
            }
            _ => {}
        }
    }
    false
}

fn tokens(text: &str) -> Vec<Token<'_>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 4);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'"' || b == b'`' {
            let mut j = i + 1;
            while j < bytes.len() {
                if bytes[j] == b {
                    if bytes.get(j + 1) == Some(&b) {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            out.push(Token::Quoted);
            i = j + 1;
        } else if b == b'$' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
            let end = scan(bytes, i + 1, |c| c.is_ascii_digit());
            let n = text
                .get(i + 1..end)
                .and_then(|digits| digits.parse::<u16>().ok())
                .unwrap_or(u16::MAX);
            out.push(Token::Param(n));
            i = end;
        } else if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            let end = scan(bytes, i, |c| {
                c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80
            });
            out.push(Token::Word(text.get(i..end).unwrap_or("")));
            i = end;
        } else {
            out.push(Token::Punct(b));
            i += 1;
        }
    }
    out
}

fn scan(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while i < bytes.len() && keep(bytes[i]) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sanitize::sanitize_text;

    fn class(sql: &str) -> StatementClass {
        classify(&sanitize_text(sql))
    }

    #[test]
    fn the_word_list_is_sorted() {
        assert!(PAREN_WORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn plain_reads_are_reads_with_their_parameter_count() {
        assert_eq!(
            class("SELECT * FROM t WHERE a = $1 AND b IN ($2, $3)"),
            StatementClass::Read { params: 3 }
        );
        assert_eq!(
            class("WITH x (a) AS (SELECT count(*) FROM t) SELECT a FROM x;"),
            StatementClass::Read { params: 0 }
        );
        assert_eq!(class("VALUES (1), (2)"), StatementClass::Read { params: 0 });
        assert_eq!(class("TABLE t"), StatementClass::Read { params: 0 });
        assert_eq!(
            class("SELECT 'DELETE FROM t; UPDATE x' FROM t AS u (a, b)"),
            StatementClass::Read { params: 0 }
        );
        assert_eq!(
            class("(SELECT lower(name) FROM t) UNION (SELECT 'x')"),
            StatementClass::Read { params: 0 }
        );
        assert_eq!(
            class(
                "WITH RECURSIVE a (i) AS (SELECT 1), b (j) AS MATERIALIZED (SELECT 2), \
                 c (k) AS NOT MATERIALIZED (SELECT 3) SELECT lower(x) AS y FROM a, b, c"
            ),
            StatementClass::Read { params: 0 }
        );
    }

    #[test]
    fn writes_and_the_unprovable_are_writes() {
        for sql in [
            "UPDATE t SET a = 1",
            "INSERT INTO t VALUES (1)",
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
            "SELECT * INTO new_t FROM t",
            "SELECT * FROM t FOR UPDATE",
            "SELECT * FROM t FOR KEY SHARE",
            "SELECT * FROM t FOR SHARE",
            "SELECT nextval('s')",
            "SELECT nextval('s') AS id",
            "SELECT pg_advisory_lock(1) AS l FROM t",
            "SELECT pg_terminate_backend(pid) AS k FROM pg_stat_activity",
            "SELECT a, my_func(a) AS b FROM t",
            "WITH x AS (SELECT my_func(1) AS v) SELECT v FROM x",
            "SELECT my_func($1)",
            "SELECT \"weird\"(1)",
            "SELECT 1; DROP TABLE t",
            "DELETE FROM t",
            "CREATE TABLE t (a int)",
            "EXPLAIN SELECT 1",
            "",
        ] {
            assert_eq!(class(sql), StatementClass::Write, "{sql}");
        }
        let long = format!("SELECT {} FROM t", "a, ".repeat(1000));
        assert_eq!(class(&long), StatementClass::Write);
    }
}
