//! The panic guards: user code (the handler, the adapter,
//! `Listener::accept`, a connection's `Drop`) runs inside them, so that its
//! panic closes one connection or pauses accepting but never kills a worker.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use crate::stats::Counters;

/// Runs `f`; a panic in it is logged with `what`, counted in
/// `PoolStats::panics` and returned as `None`.
pub(crate) fn catch<T>(counters: &Counters, what: &str, f: impl FnOnce() -> T) -> Option<T> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(value) => Some(value),
        Err(payload) => {
            log::error!("mio-pool: {what} panicked ({})", panic_message(&*payload));
            Counters::bump(&counters.panics);
            None
        }
    }
}

/// Drops a connection (or a reference to one) with a panic in its `Drop`
/// caught, logged and counted.
pub(crate) fn drop_guarded<T>(conn: T, counters: &Counters) {
    catch(counters, "dropping a closed connection", move || drop(conn));
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a non-string panic payload"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_messages_are_readable() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(&*p), "boom 1");
        let p = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_message(&*p), "static");
    }

    #[test]
    fn a_caught_panic_is_counted() {
        let counters = Counters::default();
        assert_eq!(catch(&counters, "test", || 7), Some(7));
        assert_eq!(catch(&counters, "test", || panic!("x")), None::<u8>);
        assert_eq!(
            counters.panics.load(std::sync::atomic::Ordering::Acquire),
            1
        );
    }
}
