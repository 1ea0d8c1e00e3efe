//! The request-head deadline: a client has a bounded time to send a request
//! head once it started one (slow-loris defence).

use std::time::{Duration, Instant, SystemTime};

use mio_pool::{Driver, ProtocolState};

use super::response::{http_date, Persistence, Response, Status};

/// The `http` server's per-connection state: when the request that is
/// arriving must be complete.
///
/// | connection | deadline |
/// |------------|----------|
/// | between requests (nothing unconsumed), or paused on its output | none (the pool's idle timeout applies) |
/// | holds part of a request | first seen + `--header-timeout`; not moved by more bytes |
///
/// When it passes, the pool calls [`ProtocolState::on_deadline`]: the
/// client gets `408 Request Timeout` and the connection closes gracefully.
/// A body still arriving counts as part of the request until bodies are
/// streamed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HeadDeadline {
    deadline: Option<Instant>,
}

impl HeadDeadline {
    /// Updates the deadline of `conn` after a `drive`: starts it (`timeout`
    /// from now) when the connection holds part of a request and had none,
    /// clears it when it holds none. `timeout: None` never sets one.
    pub fn update<S>(conn: &mut Driver<S, HeadDeadline>, timeout: Option<Duration>) {
        let mid_request = conn.is_mid_request();
        let state = conn.state_mut();
        state.deadline = match (mid_request, timeout, state.deadline) {
            (true, Some(_), Some(running)) => Some(running),
            (true, Some(timeout), None) => Some(Instant::now() + timeout),
            _ => None,
        };
    }
}

impl ProtocolState for HeadDeadline {
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Appends `408 Request Timeout` (with `Connection: close`).
    fn on_deadline(&mut self, output: &mut Vec<u8>) {
        log::debug!("request head deadline passed: 408");
        let mut r = Response::text(Status::RequestTimeout, "Request Timeout\n");
        r.persistence = Persistence::Close;
        r.write_to(output, &http_date(SystemTime::now()));
        self.deadline = None;
    }
}
