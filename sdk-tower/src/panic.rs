//! Message and location of a panic caught in a handler.
//!
//! A panic hook (installed once, chaining whatever hook was there) remembers the last
//! panic's location on the panicking thread; the server future reads it right after
//! `catch_unwind` on the same thread.

use std::any::Any;
use std::cell::RefCell;
use std::sync::Once;

thread_local! {
    static LAST_LOCATION: RefCell<Option<String>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

pub(crate) fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            LAST_LOCATION.with(|last| *last.borrow_mut() = location);
            previous(info);
        }));
    });
}

/// The location recorded by the hook for this thread's last panic.
pub(crate) fn take_location() -> Option<String> {
    LAST_LOCATION.with(|last| last.borrow_mut().take())
}

/// The panic message, when the payload is a string.
pub(crate) fn message(payload: &(dyn Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        (*text).to_owned()
    } else if let Some(text) = payload.downcast_ref::<String>() {
        text.clone()
    } else {
        "panic with a non-string payload".to_owned()
    }
}
