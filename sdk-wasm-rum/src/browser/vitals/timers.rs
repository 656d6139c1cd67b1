//! Running engine work later, from a timer.

use wasm_bindgen::prelude::*;

use super::sys;

/// Runs `f` from a timer, outside the current event's handling.
pub(crate) fn schedule(ms: i32, f: impl FnOnce() + 'static) {
    sys::set_timeout(&Closure::once_into_js(f), ms);
}
