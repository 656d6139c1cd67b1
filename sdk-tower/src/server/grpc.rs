//! The gRPC status of a response (header or trailer), for servers that treat gRPC.

use super::finish::Request;
use crate::classify::{GRPC_SERVER_ERRORS, grpc_status};
use http::HeaderMap;
use sdk_core::semconv::{error, rpc};
use sdk_core::spans::AttrValue;

fn grpc_error_type(code: u16) -> &'static str {
    match code {
        2 => "UNKNOWN",
        4 => "DEADLINE_EXCEEDED",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        _ => error::OTHER,
    }
}

/// Reads the gRPC status from response headers or trailers, when the layer treats gRPC.
pub(crate) fn read_grpc_status(request: &mut Request, headers: &HeaderMap) {
    let Some(state) = request.state_mut() else {
        return;
    };
    if !state.config.grpc {
        return;
    }
    let Some(code) = grpc_status(headers) else {
        return;
    };
    if GRPC_SERVER_ERRORS.contains(&code) {
        state.fail(grpc_error_type(code));
    }
    request.record(|record| {
        record.set(rpc::GRPC_STATUS_CODE, AttrValue::I64(i64::from(code)));
    });
}
