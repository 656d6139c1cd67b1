//! A command's arguments as byte slices, read from a redis-rs [`Cmd`] or from the encoded
//! request a blocking connection receives.

use redis::{Arg, Cmd, Value};

/// Arguments of a command as byte slices (cursor arguments show as `0`).
pub(crate) fn cmd_arguments(cmd: &Cmd) -> Vec<&[u8]> {
    cmd.args_iter()
        .map(|arg| match arg {
            Arg::Simple(bytes) => bytes,
            _ => b"0".as_slice(),
        })
        .collect()
}

/// Commands in an encoded request: each an array of bulk strings, as redis-rs packs them.
pub(crate) fn decode_packed(bytes: &[u8]) -> Vec<Vec<Vec<u8>>> {
    let mut reader = std::io::Cursor::new(bytes);
    let mut parser = redis::Parser::new();
    let mut commands = Vec::new();
    // The parser buffers what it has read, so it is asked until it has nothing left.
    while let Ok(Value::Array(items)) = parser.parse_value(&mut reader) {
        commands.push(
            items
                .into_iter()
                .map(|item| match item {
                    Value::BulkString(arg) => arg,
                    Value::SimpleString(arg) => arg.into_bytes(),
                    _ => b"?".to_vec(),
                })
                .collect(),
        );
    }
    commands
}
