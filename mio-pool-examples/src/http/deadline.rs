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
        conn.state_mut().refresh(mid_request, timeout);
    }

    /// What [`HeadDeadline::update`] does, for a protocol state that holds
    /// a `HeadDeadline`: `mid_request` is whether the connection holds part
    /// of a request.
    pub fn refresh(&mut self, mid_request: bool, timeout: Option<Duration>) {
        self.deadline = match (mid_request, timeout, self.deadline) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use mio_pool::{Connection, Step};
    use std::io::{Read, Write};
    use std::os::unix::net::UnixStream;

    /// A driver on one end of a socket pair, a blocking client on the other.
    fn pair() -> (Driver<mio::net::UnixStream, HeadDeadline>, UnixStream) {
        let (server, client) = UnixStream::pair().unwrap();
        server.set_nonblocking(true).unwrap();
        (Driver::new(mio::net::UnixStream::from_std(server)), client)
    }

    /// Answers `x\n` requests with `ok\n`, leaving a partial one.
    fn lines(_: &mut HeadDeadline, input: &[u8], out: &mut Vec<u8>) -> Step {
        let mut used = 0;
        while let Some(i) = input[used..].iter().position(|&b| b == b'\n') {
            used += i + 1;
            out.extend_from_slice(b"ok\n");
        }
        Step::keep(used)
    }

    #[test]
    fn the_deadline_runs_from_a_request_start_until_it_is_whole() {
        let (mut conn, mut client) = pair();
        let timeout = Some(Duration::from_secs(10));

        client.write_all(b"par").unwrap();
        let before = Instant::now();
        assert!(conn.drive(lines).is_err());
        HeadDeadline::update(&mut conn, timeout);
        let started = conn.state().deadline().expect("a request has started");
        assert!(started >= before + Duration::from_secs(10));

        // More bytes of the same request do not move it.
        client.write_all(b"tial").unwrap();
        assert!(conn.drive(lines).is_err());
        HeadDeadline::update(&mut conn, timeout);
        assert_eq!(conn.state().deadline(), Some(started));

        // Whole: no deadline between requests.
        client.write_all(b"\n").unwrap();
        assert!(conn.drive(lines).is_err());
        HeadDeadline::update(&mut conn, timeout);
        assert_eq!(conn.state().deadline(), None);

        // Off: never one.
        client.write_all(b"next").unwrap();
        assert!(conn.drive(lines).is_err());
        HeadDeadline::update(&mut conn, None);
        assert_eq!(Connection::deadline(&conn), None);
    }

    #[test]
    fn a_passed_deadline_answers_408_and_closes() {
        let (mut conn, mut client) = pair();
        client.write_all(b"GET / HT").unwrap();
        assert!(conn.drive(lines).is_err());
        // A zero timeout: passed as soon as it is set; the pool then calls
        // on_deadline.
        HeadDeadline::update(&mut conn, Some(Duration::ZERO));
        assert!(Connection::deadline(&conn).is_some_and(|d| d <= Instant::now()));
        conn.on_deadline();
        // Sent, write side shut down, lingering until the client closes.
        client.shutdown(std::net::Shutdown::Write).unwrap();
        conn.poll_close().unwrap();
        let mut reply = String::new();
        client.read_to_string(&mut reply).unwrap();
        assert!(
            reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{reply}"
        );
        assert!(reply.contains("\r\nConnection: close\r\n"), "{reply}");
    }
}
