//! Delivering reports to user callbacks, after the engine's state is released, in order,
//! also when a callback causes more reports.

use std::cell::RefCell;
use std::rc::Rc;

use sdk_core::rum::VitalReport;

/// Receives a metric's reports.
pub(crate) type Callback = Rc<RefCell<dyn FnMut(&VitalReport)>>;

pub(super) type Delivery = (Callback, VitalReport);

thread_local! {
    /// Reports waiting for their callbacks; a callback that causes reports (by calling
    /// `routeChanged()`, say) has them delivered after it returns, not dropped.
    static QUEUE: RefCell<std::collections::VecDeque<Delivery>> = RefCell::default();
    static DELIVERING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

pub(super) fn deliver(out: Vec<Delivery>) {
    QUEUE.with(|queue| {
        if let Ok(mut queue) = queue.try_borrow_mut() {
            queue.extend(out);
        }
    });
    if DELIVERING.with(|d| d.replace(true)) {
        return;
    }
    while let Some((callback, report)) =
        QUEUE.with(|queue| queue.try_borrow_mut().ok()?.pop_front())
    {
        if let Ok(mut callback) = callback.try_borrow_mut() {
            callback(&report);
        }
    }
    DELIVERING.with(|d| d.set(false));
}
