//! Single flight: the loads in progress, by key, shared by every request that misses the
//! key (and by the background refresh of a stale value) while the load runs.

use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OnceCell;

/// The cell of one load; its value is the caller's `Result<T, Arc<E>>`.
pub(crate) type Cell<T, E> = Arc<OnceCell<Result<T, Arc<E>>>>;

/// Loads in progress, by key.
#[derive(Default)]
pub(crate) struct Flights {
    by_key: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl Flights {
    /// How many keys have a load in progress.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// The cell of the load in progress for `key` (a new one if there is none, or if the
    /// one in progress has another value type).
    pub(crate) fn join<T, E>(&self, key: &str) -> Cell<T, E>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let mut flights = self.lock();
        if let Some(existing) = flights.get(key)
            && let Ok(cell) = Arc::clone(existing).downcast::<OnceCell<Result<T, Arc<E>>>>()
        {
            return cell;
        }
        let cell = Arc::new(OnceCell::new());
        flights.insert(
            key.to_owned(),
            Arc::clone(&cell) as Arc<dyn Any + Send + Sync>,
        );
        cell
    }

    /// A new cell for `key`, unless a load of `key` (of any type) is in progress: the
    /// refresh of a stale value starts only when nobody is loading the key already.
    pub(crate) fn start<T, E>(&self, key: &str) -> Option<Cell<T, E>>
    where
        T: Send + Sync + 'static,
        E: Send + Sync + 'static,
    {
        let mut flights = self.lock();
        if flights.contains_key(key) {
            return None;
        }
        let cell = Arc::new(OnceCell::new());
        flights.insert(
            key.to_owned(),
            Arc::clone(&cell) as Arc<dyn Any + Send + Sync>,
        );
        Some(cell)
    }

    /// Removes `key`'s flight if it is still the one at `cell_addr`.
    fn land(&self, key: &str, cell_addr: usize) {
        let mut flights = self.lock();
        if flights
            .get(key)
            .is_some_and(|c| Arc::as_ptr(c) as *const () as usize == cell_addr)
        {
            flights.remove(key);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn Any + Send + Sync>>> {
        self.by_key.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Ends a flight when dropped: when its load ends, also when the leading request is
/// dropped mid-load, the loader panics, or a background refresh is dropped unpolled (then
/// the next miss starts a new flight).
pub(crate) struct Landing {
    flights: Arc<Flights>,
    key: String,
    cell_addr: usize,
}

impl Landing {
    /// The landing of `cell`, the flight of `key`.
    pub(crate) fn new<T, E>(flights: &Arc<Flights>, key: &str, cell: &Cell<T, E>) -> Self {
        Self {
            flights: Arc::clone(flights),
            key: key.to_owned(),
            cell_addr: Arc::as_ptr(cell) as *const () as usize,
        }
    }
}

impl Drop for Landing {
    fn drop(&mut self) {
        self.flights.land(&self.key, self.cell_addr);
    }
}
