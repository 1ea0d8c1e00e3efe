//! A thread-safe, `mio::Poll`-like poller (work in progress).
