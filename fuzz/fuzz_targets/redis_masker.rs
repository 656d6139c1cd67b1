//! The Redis masker: commands that carry credentials or values — `AUTH`, `HELLO … AUTH`,
//! `MIGRATE … AUTH/AUTH2`, `CONFIG SET`, `SET` and its options, `MSET`, `HSET`, and
//! commands it does not know — with marker-carrying secrets in every secret position and
//! any case of the command name: the masked text never holds a marker and stays within
//! its bound, given directly or as the encoded request a connection sends.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use sdk_redis::mask::{MAX_TEXT_LEN, masked_packed, masked_text};

const MARKER: &[u8] = b"s3cr3t";

#[derive(Debug, Arbitrary)]
enum Command {
    Auth(Vec<Vec<u8>>),
    Hello {
        version: u8,
        user: Vec<u8>,
        password: Vec<u8>,
        name: Vec<u8>,
    },
    Migrate {
        host: Vec<u8>,
        key: Vec<u8>,
        password: Vec<u8>,
        user: Option<Vec<u8>>,
    },
    ConfigSet(Vec<(Vec<u8>, Vec<u8>)>),
    Set {
        key: Vec<u8>,
        value: Vec<u8>,
        options: Vec<u8>,
    },
    Mset(Vec<(Vec<u8>, Vec<u8>)>),
    Hset {
        key: Vec<u8>,
        pairs: Vec<(Vec<u8>, Vec<u8>)>,
    },
    Unknown {
        name: Vec<u8>,
        key: Vec<u8>,
        values: Vec<Vec<u8>>,
    },
}

/// A secret: the marker first, then anything.
fn secret(bytes: &[u8]) -> Vec<u8> {
    [MARKER, bytes].concat()
}

/// Text that may be shown: anything without the marker.
fn shown(bytes: &[u8]) -> Vec<u8> {
    if bytes
        .windows(MARKER.len())
        .any(|w| w.eq_ignore_ascii_case(MARKER))
    {
        b"k".to_vec()
    } else {
        bytes.to_vec()
    }
}

fn args(command: &Command, lower: bool) -> Vec<Vec<u8>> {
    let name = |n: &str| {
        if lower {
            n.to_lowercase()
        } else {
            n.to_owned()
        }
        .into_bytes()
    };
    match command {
        Command::Auth(parts) => std::iter::once(name("AUTH"))
            .chain(parts.iter().map(|p| secret(p)))
            .collect(),
        Command::Hello {
            version,
            user,
            password,
            name: client,
        } => vec![
            name("HELLO"),
            (version % 4).to_string().into_bytes(),
            name("AUTH"),
            secret(user),
            secret(password),
            name("SETNAME"),
            shown(client),
        ],
        Command::Migrate {
            host,
            key,
            password,
            user,
        } => {
            let mut args = vec![
                name("MIGRATE"),
                shown(host),
                b"6379".to_vec(),
                shown(key),
                b"0".to_vec(),
                b"5000".to_vec(),
            ];
            match user {
                Some(user) => args.extend([name("AUTH2"), secret(user), secret(password)]),
                None => args.extend([name("AUTH"), secret(password)]),
            }
            args
        }
        Command::ConfigSet(pairs) => {
            let mut args = vec![name("CONFIG"), name("SET")];
            for (parameter, value) in pairs {
                args.extend([shown(parameter), secret(value)]);
            }
            args
        }
        Command::Set {
            key,
            value,
            options,
        } => {
            let mut args = vec![name("SET"), shown(key), secret(value)];
            let option = ["EX", "PX", "NX", "XX", "KEEPTTL", "GET"];
            args.extend(
                options
                    .iter()
                    .map(|o| name(option[usize::from(*o) % option.len()])),
            );
            args
        }
        Command::Mset(pairs) => std::iter::once(name("MSET"))
            .chain(pairs.iter().flat_map(|(k, v)| [shown(k), secret(v)]))
            .collect(),
        Command::Hset { key, pairs } => [name("HSET"), shown(key)]
            .into_iter()
            .chain(pairs.iter().flat_map(|(f, v)| [shown(f), secret(v)]))
            .collect(),
        Command::Unknown {
            name: command,
            key,
            values,
        } => {
            // A name the masker does not know: letters only, not one of its commands.
            let command: Vec<u8> = command
                .iter()
                .copied()
                .filter(u8::is_ascii_alphabetic)
                .take(12)
                .collect();
            let command = [b"XUNKNOWN".as_slice(), &command].concat();
            [command, shown(key)]
                .into_iter()
                .chain(values.iter().map(|v| secret(v)))
                .collect()
        }
    }
}

/// The RESP encoding of one command (an array of bulk strings).
fn encode(args: &[Vec<u8>], out: &mut Vec<u8>) {
    out.extend(format!("*{}\r\n", args.len()).bytes());
    for arg in args {
        out.extend(format!("${}\r\n", arg.len()).bytes());
        out.extend(arg);
        out.extend(b"\r\n");
    }
}

fn assert_masked(text: &str, args: &[Vec<u8>]) {
    assert!(
        !text
            .as_bytes()
            .windows(MARKER.len())
            .any(|w| w.eq_ignore_ascii_case(MARKER)),
        "a secret leaked: {text}\n  from {:?}",
        args.iter()
            .map(|a| String::from_utf8_lossy(a))
            .collect::<Vec<_>>()
    );
    assert!(text.len() <= MAX_TEXT_LEN, "{} bytes", text.len());
}

fuzz_target!(|input: (Vec<Command>, bool)| {
    let (commands, lower) = input;
    let mut request = Vec::new();
    let all: Vec<Vec<Vec<u8>>> = commands.iter().map(|c| args(c, lower)).collect();
    for args in &all {
        assert_masked(&masked_text(args.iter().map(Vec::as_slice)), args);
        encode(args, &mut request);
    }
    let texts = masked_packed(&request);
    assert_eq!(texts.len(), all.len(), "every encoded command decodes");
    for (text, args) in texts.iter().zip(&all) {
        assert_masked(text, args);
    }
});
