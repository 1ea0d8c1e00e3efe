//! The locks this crate uses, swapped for loom's under `cfg(loom)` so that the
//! model tests in `tests/loom.rs` explore every interleaving of the real code.

#[cfg(not(loom))]
pub(crate) use parking_lot::Mutex;

#[cfg(loom)]
pub(crate) use self::loom_shim::Mutex;

#[cfg(loom)]
mod loom_shim {
    /// `parking_lot`'s API (no poisoning) over loom's mutex.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> loom::sync::MutexGuard<'_, T> {
            self.0.lock().unwrap()
        }
    }
}
