//! Commands in CLI form with values masked, for `db.query.text`.
//!
//! Keys, fields and options stay readable; values become `?`:
//!
//! - credentials: everything after `AUTH`, and after `AUTH` inside `HELLO`; `CONFIG SET`
//!   values; `MIGRATE … AUTH/AUTH2` passwords;
//! - the value of `SET`, `SETNX`, `GETSET`, `APPEND`, `SETRANGE`, `PSETEX`/`SETEX` (third
//!   argument), `LSET`, `LPUSH`/`RPUSH`/`LPUSHX`/`RPUSHX`/`LINSERT`/`LREM`, `SADD`/`SREM`/
//!   `SISMEMBER`, `PUBLISH`;
//! - every value of `MSET`/`MSETNX`, `HSET`/`HMSET`/`HSETNX`;
//! - `ZADD` members (scores stay), `ZREM`/`ZSCORE`/`ZRANK` members;
//! - `EVAL`/`EVALSHA`/`FCALL` arguments (keys stay).
//!
//! Commands the masker does not know keep their name and first argument (usually the
//! key) and mask the rest, so a new command never leaks a value. Each argument is cut at
//! [`MAX_ARG_LEN`] bytes and the whole text at [`MAX_TEXT_LEN`]; binary arguments show
//! as `?`.

use std::fmt::Write;

/// Longest argument shown, in bytes.
pub const MAX_ARG_LEN: usize = 64;
/// Longest text, in bytes.
pub const MAX_TEXT_LEN: usize = 1024;

/// Which arguments (after the command name, 0-based) a command shows.
#[derive(Clone, Copy)]
enum Shape {
    /// Every argument is shown.
    All,
    /// The first `n` arguments are shown, the rest masked.
    First(usize),
    /// Key then alternating shown/masked pairs from `start` (`HSET k f v f v`).
    Pairs { shown_first: usize },
    /// `ZADD key [options] score member …`: members masked.
    Zadd,
    /// `EVAL script numkeys key… arg…`: keys shown, args masked.
    Eval,
    /// `HELLO [protover [AUTH user pass] [SETNAME name]]`.
    Hello,
    /// `CONFIG SET param value …`.
    ConfigSet,
}

fn shape(command: &str, subcommand: Option<&str>) -> Shape {
    match command {
        "AUTH" => Shape::First(0),
        "HELLO" => Shape::Hello,
        "CONFIG" if subcommand.is_some_and(|s| s.eq_ignore_ascii_case("SET")) => Shape::ConfigSet,
        "SET" | "SETNX" | "GETSET" | "APPEND" | "LPUSH" | "RPUSH" | "LPUSHX" | "RPUSHX"
        | "SADD" | "SREM" | "SISMEMBER" | "SMISMEMBER" | "PUBLISH" | "SPUBLISH" | "ZREM"
        | "ZSCORE" | "ZRANK" | "ZREVRANK" | "ZMSCORE" | "PFADD" | "GEOADD" => Shape::First(1),
        "SETEX" | "PSETEX" | "SETRANGE" | "LSET" | "LREM" | "LINSERT" | "HSETNX" | "ZINCRBY" => {
            Shape::First(2)
        }
        // Values, script bodies or member bounds: only the key (or subcommand) stays.
        "ECHO" => Shape::First(0),
        "SCRIPT" | "ZRANGE" | "ZREVRANGE" | "ZRANGEBYLEX" | "ZREVRANGEBYLEX" | "ZLEXCOUNT"
        | "ZREMRANGEBYLEX" => Shape::First(1),
        "MSET" | "MSETNX" => Shape::Pairs { shown_first: 0 },
        "HSET" | "HMSET" => Shape::Pairs { shown_first: 1 },
        "ZADD" => Shape::Zadd,
        "EVAL" | "EVALSHA" | "EVAL_RO" | "EVALSHA_RO" | "FCALL" | "FCALL_RO" => Shape::Eval,
        // Reads and commands whose arguments are keys, fields, counts or options.
        "GET" | "MGET" | "GETEX" | "GETDEL" | "EXISTS" | "DEL" | "UNLINK" | "EXPIRE"
        | "PEXPIRE" | "EXPIREAT" | "TTL" | "PTTL" | "PERSIST" | "TYPE" | "INCR" | "DECR"
        | "INCRBY" | "DECRBY" | "INCRBYFLOAT" | "HGET" | "HMGET" | "HGETALL" | "HDEL"
        | "HEXISTS" | "HKEYS" | "HVALS" | "HLEN" | "HINCRBY" | "LRANGE" | "LLEN" | "LPOP"
        | "RPOP" | "LINDEX" | "SMEMBERS" | "SCARD" | "ZCARD" | "ZCOUNT" | "ZRANGEBYSCORE"
        | "SCAN" | "SSCAN" | "HSCAN" | "ZSCAN" | "KEYS" | "PING" | "SELECT" | "DBSIZE"
        | "FLUSHDB" | "FLUSHALL" | "INFO" | "CLIENT" | "MULTI" | "EXEC" | "DISCARD" | "WATCH"
        | "UNWATCH" | "STRLEN" | "GETRANGE" | "SUBSCRIBE" | "UNSUBSCRIBE" | "PSUBSCRIBE"
        | "PUNSUBSCRIBE" | "TIME" | "OBJECT" | "MEMORY" | "XLEN" | "XRANGE" | "XREVRANGE"
        | "XREAD" => Shape::All,
        _ => Shape::First(1),
    }
}

/// Upper-case name of a command from its first argument (`GET`), bounded and ASCII.
pub fn command_name(first: &[u8]) -> String {
    upper_name(first, &mut [0; NAME_LEN]).to_owned()
}

/// Longest command name kept, in bytes.
pub(crate) const NAME_LEN: usize = 32;

/// [`command_name`] written into `buffer` instead of a new string.
pub(crate) fn upper_name<'b>(first: &[u8], buffer: &'b mut [u8; NAME_LEN]) -> &'b str {
    let mut len = 0;
    for byte in first.iter().take(NAME_LEN).filter(|b| b.is_ascii_graphic()) {
        buffer[len] = byte.to_ascii_uppercase();
        len += 1;
    }
    match std::str::from_utf8(&buffer[..len]) {
        Ok(name) if !name.is_empty() => name,
        _ => "?",
    }
}

/// The command `args` (name first) in CLI form with values masked.
pub fn masked_text<'a>(args: impl IntoIterator<Item = &'a [u8]>) -> String {
    let mut out = String::new();
    write_masked(&mut out, args);
    out
}

/// The masked text of each command in an encoded request (RESP arrays of bulk strings,
/// as redis-rs packs commands and pipelines); what does not decode ends the list.
pub fn masked_packed(request: &[u8]) -> Vec<String> {
    crate::arguments::decode_packed(request)
        .iter()
        .map(|command| masked_text(command.iter().map(Vec::as_slice)))
        .collect()
}

/// Appends the masked CLI form of `args` to `out`, bounded by [`MAX_TEXT_LEN`].
pub fn write_masked<'a>(out: &mut String, args: impl IntoIterator<Item = &'a [u8]>) {
    let mut args = args.into_iter();
    let Some(first) = args.next() else { return };
    let mut name = [0; NAME_LEN];
    let command = upper_name(first, &mut name);
    let rest: Vec<&[u8]> = args.collect();
    // Room for the whole command at once (the text is bounded by MAX_TEXT_LEN anyway).
    out.reserve(
        (command.len() + rest.iter().map(|a| a.len() + 1).sum::<usize>()).min(MAX_TEXT_LEN),
    );
    let subcommand = rest.first().and_then(|s| std::str::from_utf8(s).ok());
    let shape = shape(command, subcommand);
    push(out, command);
    // Index of the first masked member in ZADD: after the key and the options, pairs of
    // score (shown) and member (masked).
    let zadd_first_score = rest
        .iter()
        .skip(1)
        .position(|a| !is_zadd_option(a))
        .map(|p| p + 1);
    let eval_keys = match shape {
        Shape::Eval => rest
            .get(1)
            .and_then(|n| std::str::from_utf8(n).ok())
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0),
        _ => 0,
    };
    let mut after_auth = false;
    for (i, arg) in rest.iter().enumerate() {
        let shown = match shape {
            Shape::All => true,
            Shape::First(n) => i < n,
            Shape::Pairs { shown_first } => i < shown_first || (i - shown_first) % 2 == 0,
            Shape::Zadd => match zadd_first_score {
                Some(first) if i >= first => (i - first) % 2 == 0,
                _ => true,
            },
            Shape::Eval => i == 0 || i == 1 || i < eval_keys.saturating_add(2),
            Shape::Hello => {
                if after_auth {
                    false
                } else {
                    after_auth = arg.eq_ignore_ascii_case(b"AUTH");
                    true
                }
            }
            Shape::ConfigSet => i == 0 || i % 2 == 1,
        };
        out.push(' ');
        if shown {
            push_arg(out, arg, matches!(shape, Shape::Eval) && i == 0);
        } else {
            push(out, "?");
        }
        if out.len() >= MAX_TEXT_LEN {
            break;
        }
    }
    truncate(out);
}

fn is_zadd_option(arg: &[u8]) -> bool {
    ["NX", "XX", "GT", "LT", "CH", "INCR"]
        .iter()
        .any(|o| arg.eq_ignore_ascii_case(o.as_bytes()))
}

fn push(out: &mut String, s: &str) {
    out.push_str(s);
}

/// An argument as text: printable UTF-8 cut at [`MAX_ARG_LEN`]; anything else `?`. A
/// script body is summarised by its length.
fn push_arg(out: &mut String, arg: &[u8], script: bool) {
    if script {
        let _ = write!(out, "<script {} bytes>", arg.len());
        return;
    }
    match std::str::from_utf8(arg) {
        Ok(text) if !text.chars().any(char::is_control) => {
            let mut end = text.len().min(MAX_ARG_LEN);
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let quote = text.is_empty() || text.contains(' ') || text.contains('"');
            if quote {
                out.push('"');
                for c in text[..end].chars() {
                    if c == '"' {
                        out.push('\\');
                    }
                    out.push(c);
                }
                out.push('"');
            } else {
                out.push_str(&text[..end]);
            }
            if end < text.len() {
                out.push('…');
            }
        }
        _ => out.push('?'),
    }
}

fn truncate(out: &mut String) {
    if out.len() > MAX_TEXT_LEN {
        let mut end = MAX_TEXT_LEN;
        while !out.is_char_boundary(end) {
            end -= 1;
        }
        out.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn encoded_requests_are_masked_command_by_command() {
        let request =
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$6\r\nsecret\r\n*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n*1";
        assert_eq!(super::masked_packed(request), ["SET k ?", "AUTH ?"]);
        assert!(super::masked_packed(b"+OK\r\n").is_empty());
    }

    use super::*;

    fn m(args: &[&str]) -> String {
        masked_text(args.iter().map(|a| a.as_bytes()))
    }

    #[test]
    fn values_are_masked_keys_stay() {
        assert_eq!(
            m(&["set", "user:1", "secret", "EX", "60"]),
            "SET user:1 ? ? ?"
        );
        assert_eq!(m(&["GET", "user:1"]), "GET user:1");
        assert_eq!(m(&["MGET", "a", "b"]), "MGET a b");
        assert_eq!(m(&["SETEX", "k", "60", "secret"]), "SETEX k 60 ?");
        assert_eq!(m(&["MSET", "a", "1", "b", "2"]), "MSET a ? b ?");
        assert_eq!(
            m(&["HSET", "h", "f1", "v1", "f2", "v2"]),
            "HSET h f1 ? f2 ?"
        );
        assert_eq!(m(&["HMSET", "h", "f1", "v1"]), "HMSET h f1 ?");
        assert_eq!(m(&["HGET", "h", "f1"]), "HGET h f1");
        assert_eq!(
            m(&["ZADD", "z", "NX", "1.5", "alice", "2", "bob"]),
            "ZADD z NX 1.5 ? 2 ?"
        );
        assert_eq!(m(&["LPUSH", "l", "a", "b"]), "LPUSH l ? ?");
        assert_eq!(m(&["LSET", "l", "0", "v"]), "LSET l 0 ?");
        assert_eq!(
            m(&["EVAL", "return 1", "1", "k", "arg"]),
            "EVAL <script 8 bytes> 1 k ?"
        );
        assert_eq!(m(&["FROBNICATE", "k", "secret"]), "FROBNICATE k ?");
        assert_eq!(m(&["ZINCRBY", "board", "1", "alice"]), "ZINCRBY board 1 ?");
        assert_eq!(m(&["ECHO", "secret"]), "ECHO ?");
        assert_eq!(m(&["SCRIPT", "LOAD", "return 'secret'"]), "SCRIPT LOAD ?");
        assert_eq!(
            m(&["ZRANGE", "k", "[alice", "[bob", "BYLEX"]),
            "ZRANGE k ? ? ?"
        );
        assert_eq!(
            m(&["EVAL", "s", "18446744073709551615", "k"]),
            "EVAL <script 1 bytes> 18446744073709551615 k"
        );
    }

    #[test]
    fn credentials_are_always_masked() {
        assert_eq!(m(&["AUTH", "hunter2"]), "AUTH ?");
        assert_eq!(m(&["AUTH", "user", "hunter2"]), "AUTH ? ?");
        assert_eq!(
            m(&["HELLO", "3", "AUTH", "user", "hunter2", "SETNAME", "app"]),
            "HELLO 3 AUTH ? ? ? ?"
        );
        assert_eq!(
            m(&[
                "CONFIG",
                "SET",
                "requirepass",
                "hunter2",
                "maxmemory",
                "1gb"
            ]),
            "CONFIG SET requirepass ? maxmemory ?"
        );
        assert_eq!(m(&["CONFIG", "GET", "maxmemory"]), "CONFIG GET ?");
    }

    #[test]
    fn bounded_and_binary_safe() {
        let long = "k".repeat(200);
        let text = m(&["GET", &long]);
        assert!(text.len() < 80, "{text}");
        assert!(text.ends_with('…'));
        assert_eq!(masked_text([b"GET".as_slice(), &[0xff, 0x00]]), "GET ?");
        assert_eq!(m(&["GET", "has space"]), "GET \"has space\"");
        let many: Vec<String> = (0..1000).map(|i| format!("key{i}")).collect();
        let mut args = vec!["MGET"];
        args.extend(many.iter().map(String::as_str));
        assert!(m(&args).len() <= MAX_TEXT_LEN);
        assert_eq!(masked_text(std::iter::empty()), "");
    }
}
