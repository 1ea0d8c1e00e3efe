//! The atomics of the pool's lock-free handshakes, swapped for loom's under
//! `cfg(mio_pool_loom)` so that the loom models (`worker/cap/loom_models.rs`)
//! explore every interleaving of the real code. Run them with
//! `RUSTFLAGS="--cfg mio_pool_loom" CARGO_TARGET_DIR=target/loom
//! cargo test -p mio-pool --lib --release loom`.

pub(crate) mod atomic {
    #[cfg(not(all(mio_pool_loom, test)))]
    pub(crate) use std::sync::atomic::{AtomicU64, Ordering};

    #[cfg(all(mio_pool_loom, test))]
    pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
}
