//! The locks this crate uses, swapped for loom's under `cfg(loom)` so that the
//! loom models (`token_table/loom_models.rs`, `handoff/loom_models.rs`)
//! explore every interleaving of the real code.
//!
//! The API is `parking_lot`'s: no poisoning, `Condvar::wait(&mut guard)`,
//! and [`unlocked`] to run a closure with a guard's lock released.

#[cfg(not(loom))]
pub(crate) use parking_lot::{Condvar, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use self::loom_shim::{Condvar, Mutex, MutexGuard};

/// Runs `f` with `guard`'s lock released, and takes the lock again after.
#[cfg(not(loom))]
pub(crate) fn unlocked<T, R>(guard: &mut MutexGuard<'_, T>, f: impl FnOnce() -> R) -> R {
    MutexGuard::unlocked(guard, f)
}

#[cfg(loom)]
pub(crate) use self::loom_shim::unlocked;

#[cfg(loom)]
mod loom_shim {
    use std::fmt;
    use std::ops::{Deref, DerefMut};
    use std::time::Instant;

    /// `parking_lot`'s API (no poisoning) over loom's mutex.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Mutex<T> {
            Mutex(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard {
                mutex: &self.0,
                inner: Some(self.0.lock().unwrap()),
            }
        }
    }

    /// A guard that can give its lock up for a while and take it back,
    /// as `parking_lot`'s can. `inner` is `None` only inside [`unlocked`]
    /// and [`Condvar::wait`].
    pub(crate) struct MutexGuard<'a, T> {
        mutex: &'a loom::sync::Mutex<T>,
        inner: Option<loom::sync::MutexGuard<'a, T>>,
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.inner.as_ref().expect("guard is locked")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.inner.as_mut().expect("guard is locked")
        }
    }

    impl<T: fmt::Debug> fmt::Debug for MutexGuard<'_, T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            fmt::Debug::fmt(&**self, f)
        }
    }

    pub(crate) fn unlocked<T, R>(guard: &mut MutexGuard<'_, T>, f: impl FnOnce() -> R) -> R {
        drop(guard.inner.take());
        let result = f();
        guard.inner = Some(guard.mutex.lock().unwrap());
        result
    }

    /// What a timed wait reports.
    pub(crate) struct WaitTimeoutResult(bool);

    impl WaitTimeoutResult {
        pub(crate) fn timed_out(&self) -> bool {
            self.0
        }
    }

    /// `parking_lot`'s condition variable API over loom's.
    ///
    /// loom has no clock, so the model decides what a timer does: **every
    /// timed wait times out at once** (it gives the lock up, lets any other
    /// thread run, takes it back, and reports a timeout). That explores the
    /// paths that only a timer reaches (a follower taking the leader's role,
    /// a follower turning patient) in every interleaving; the one it cannot
    /// reach, a timed waiter woken by a notification, ends the same way as
    /// the timeout (the waiter looks at the shared state again), only later.
    /// Untimed waits are loom's own: a wake-up nobody sends is a deadlock
    /// that loom reports.
    #[derive(Debug)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Condvar {
            Condvar(loom::sync::Condvar::new())
        }

        pub(crate) fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let inner = guard.inner.take().expect("guard is locked");
            guard.inner = Some(self.0.wait(inner).unwrap());
        }

        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _deadline: Instant,
        ) -> WaitTimeoutResult {
            unlocked(guard, || ());
            WaitTimeoutResult(true)
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }

        pub(crate) fn notify_all(&self) {
            self.0.notify_all();
        }
    }
}
