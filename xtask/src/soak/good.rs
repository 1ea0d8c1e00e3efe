//! Well-behaved clients: every request's reply is checked, in order.
//!
//! Each client thread opens a connection, sends batches of pipelined
//! requests whose replies differ (so a reply out of order is a wrong
//! reply), reads every reply, and now and then closes and reconnects. A
//! batch once started is always read to its end, also when the soak is
//! stopping, so the only replies not read are lost ones.

use std::io::{BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::wire::{self, HttpResponse, Reply, Rng};
use super::Shared;

/// How long a client waits for a reply or a connection before it counts
/// the request as lost: generous, since the servers are under attack on
/// a shared 2-core machine.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// The body of `GET /` on the `http` example.
const HELLO: &[u8] = b"Hello from mio-pool!\n";

/// Longest value a kv client sets.
const MAX_VALUE: usize = 4096;

/// A request and the reply it must get.
trait Exchange {
    /// Appends the request to `out`.
    fn write(&self, out: &mut Vec<u8>);
    /// Reads the reply and says what is wrong with it, if anything; `true`
    /// if the server said it closes the connection after it (an HTTP
    /// server draining for a restart says `Connection: close`).
    fn check(&self, r: &mut BufReader<TcpStream>) -> std::io::Result<Result<bool, String>>;
}

/// An HTTP request of a well-behaved client.
enum Http {
    /// `GET /`: 200 and the greeting.
    Hello,
    /// `HEAD /`: 200, no body.
    Head,
    /// `GET /soak/N`: 404.
    Missing(u64),
}

impl Exchange for Http {
    fn write(&self, out: &mut Vec<u8>) {
        let line = match self {
            Http::Hello => "GET / HTTP/1.1".to_owned(),
            Http::Head => "HEAD / HTTP/1.1".to_owned(),
            Http::Missing(n) => format!("GET /soak/{n} HTTP/1.1"),
        };
        out.extend_from_slice(format!("{line}\r\nHost: soak\r\n\r\n").as_bytes());
    }

    fn check(&self, r: &mut BufReader<TcpStream>) -> std::io::Result<Result<bool, String>> {
        let got = wire::read_http(r, matches!(self, Http::Head))?;
        let (status, body): (u16, &[u8]) = match self {
            Http::Hello => (200, HELLO),
            Http::Head => (200, b""),
            Http::Missing(_) => (404, b"Not Found\n"),
        };
        Ok(
            if got
                == (HttpResponse {
                    status,
                    body: body.to_vec(),
                    close: got.close,
                })
            {
                Ok(got.close)
            } else {
                Err(format!(
                    "expected {status} {:?}, got {} {:?}",
                    String::from_utf8_lossy(body),
                    got.status,
                    String::from_utf8_lossy(&got.body)
                ))
            },
        )
    }
}

/// A RESP command of a well-behaved client and its reply.
struct Kv {
    /// The command's arguments.
    args: Vec<Vec<u8>>,
    /// The reply it must get.
    reply: Reply,
}

impl Exchange for Kv {
    fn write(&self, out: &mut Vec<u8>) {
        let args: Vec<&[u8]> = self.args.iter().map(Vec::as_slice).collect();
        wire::command(out, &args);
    }

    fn check(&self, r: &mut BufReader<TcpStream>) -> std::io::Result<Result<bool, String>> {
        let got = wire::read_reply(r, MAX_VALUE)?;
        Ok(if got == self.reply {
            Ok(false)
        } else {
            Err(format!(
                "{:?}: expected {:?}, got {got:?}",
                String::from_utf8_lossy(&self.args[0]),
                self.reply
            ))
        })
    }
}

/// State of one kv client: its own keys, so expected replies are exact.
struct KvState {
    /// Prefix of its keys.
    prefix: String,
    /// Value of its counter, as INCR has set it.
    counter: i64,
    /// Keys set so far, with their values (a few, reused).
    values: Vec<Option<Vec<u8>>>,
}

impl KvState {
    /// A random command on this client's keys, and its reply.
    fn next(&mut self, rng: &mut Rng, serial: u64) -> Kv {
        let slot = rng.range(0, self.values.len() - 1);
        let key = format!("{}:{slot}", self.prefix).into_bytes();
        let simple = |s: &str| Reply::Simple(s.to_owned());
        let (args, reply) = match rng.range(0, 5) {
            0 => {
                let len = rng.range(0, MAX_VALUE);
                let value = rng.bytes(len);
                self.values[slot] = Some(value.clone());
                (vec![b"SET".to_vec(), key, value], simple("OK"))
            }
            1 | 2 => (
                vec![b"GET".to_vec(), key],
                Reply::Bulk(self.values[slot].clone()),
            ),
            3 => {
                self.counter += 1;
                let ctr = format!("{}:ctr", self.prefix).into_bytes();
                (vec![b"INCR".to_vec(), ctr], Reply::Integer(self.counter))
            }
            4 => {
                let word = format!("soak-{serial}").into_bytes();
                (
                    vec![b"ECHO".to_vec(), word.clone()],
                    Reply::Bulk(Some(word)),
                )
            }
            _ => (vec![b"PING".to_vec()], simple("PONG")),
        };
        Kv { args, reply }
    }
}

/// Which server a client talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// The `http` example.
    Http,
    /// The `kv` example.
    Kv,
}

/// How a batch ended.
enum Outcome {
    /// Every reply came and was right.
    Done,
    /// The server said it closes after the reply to request `.0 - 1`: the
    /// client reconnects, and sends the requests from `.0` on again (they
    /// are idempotent: GET and HEAD).
    Closing(usize),
    /// A reply was lost or wrong; the connection cannot go on.
    Broken,
}

/// A well-behaved client thread: runs until `shared.stop`.
pub fn client(proto: Proto, addr: SocketAddr, id: usize, shared: &Shared) {
    let mut rng = Rng::new(id as u64 * 2 + 1);
    let mut kv = KvState {
        prefix: format!("soak:{id}:{}", rng.next() % 1_000_000),
        counter: 0,
        values: vec![None; 8],
    };
    let mut serial = 0u64;
    // Requests a closing server left unanswered, to send again first.
    // Each closing answers at least one request, so this ends.
    let mut carry: Vec<Box<dyn Exchange>> = Vec::new();
    while !shared.stopping() || !carry.is_empty() {
        let stream = match TcpStream::connect_timeout(&addr, PATIENCE) {
            Ok(s) => s,
            Err(e) => {
                shared.fail(&format!("good client {id}: connect: {e}"), &shared.refused);
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let _ = stream.set_read_timeout(Some(PATIENCE));
        let _ = stream.set_write_timeout(Some(PATIENCE));
        let mut writer = match stream.try_clone() {
            Ok(w) => w,
            Err(e) => {
                shared.fail(&format!("good client {id}: clone: {e}"), &shared.refused);
                continue;
            }
        };
        let mut reader = BufReader::new(stream);
        for _ in 0..rng.range(1, 40) {
            if shared.stopping() && carry.is_empty() {
                break;
            }
            let mut batch: Vec<Box<dyn Exchange>> = std::mem::take(&mut carry);
            if batch.is_empty() {
                batch = (0..rng.range(1, 16))
                    .map(|_| {
                        serial += 1;
                        match proto {
                            Proto::Http => Box::new(match rng.range(0, 2) {
                                0 => Http::Hello,
                                1 => Http::Head,
                                _ => Http::Missing(serial),
                            }) as Box<dyn Exchange>,
                            Proto::Kv => Box::new(kv.next(&mut rng, serial)),
                        }
                    })
                    .collect();
            }
            let mut out = Vec::new();
            for e in &batch {
                e.write(&mut out);
            }
            let outcome = match writer.write_all(&out) {
                Ok(()) => read_batch(&batch, &mut reader, id, shared),
                Err(e) => {
                    shared.fail(&format!("good client {id}: write: {e}"), &shared.lost);
                    shared
                        .lost
                        .fetch_add(batch.len() as u64 - 1, Ordering::Relaxed);
                    Outcome::Broken
                }
            };
            match outcome {
                Outcome::Done => {}
                Outcome::Closing(from) => {
                    carry = batch.split_off(from);
                    break;
                }
                Outcome::Broken => {
                    // Out of step or cut off: start afresh (a kv client's
                    // keys may now hold either value, so forget them).
                    kv.values.iter_mut().for_each(|v| *v = None);
                    kv.prefix = format!("soak:{id}:{}", rng.next() % 1_000_000);
                    kv.counter = 0;
                    break;
                }
            }
        }
    }
}

/// Reads and checks the replies of one batch.
fn read_batch(
    batch: &[Box<dyn Exchange>],
    reader: &mut BufReader<TcpStream>,
    id: usize,
    shared: &Shared,
) -> Outcome {
    for (i, e) in batch.iter().enumerate() {
        let left = (batch.len() - i - 1) as u64;
        match e.check(reader) {
            Ok(Ok(closing)) => {
                shared.answered.fetch_add(1, Ordering::Relaxed);
                if closing {
                    return Outcome::Closing(i + 1);
                }
            }
            Ok(Err(what)) => {
                shared.fail(
                    &format!("good client {id}: wrong reply: {what}"),
                    &shared.wrong,
                );
                // What follows cannot be trusted to be in step.
                shared.lost.fetch_add(left, Ordering::Relaxed);
                return Outcome::Broken;
            }
            Err(err) => {
                let counter = if err.kind() == std::io::ErrorKind::InvalidData {
                    &shared.wrong
                } else {
                    &shared.lost
                };
                shared.fail(&format!("good client {id}: reply: {err}"), counter);
                shared.lost.fetch_add(left, Ordering::Relaxed);
                return Outcome::Broken;
            }
        }
    }
    Outcome::Done
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::thread;
    use std::time::Instant;

    /// Runs one good client against a fake server that treats each
    /// connection with `serve`, until `done` says so (or 20 s pass).
    fn against(proto: Proto, serve: fn(TcpStream), done: fn(&Shared) -> bool) -> Arc<Shared> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for s in listener.incoming().flatten() {
                thread::spawn(move || serve(s));
            }
        });
        let shared = Arc::new(Shared::default());
        let client = {
            let shared = Arc::clone(&shared);
            thread::spawn(move || client(proto, addr, 1, &shared))
        };
        let until = Instant::now() + Duration::from_secs(20);
        while !done(&shared) && Instant::now() < until {
            thread::sleep(Duration::from_millis(10));
        }
        shared.stop.store(true, Ordering::SeqCst);
        client.join().unwrap();
        shared
    }

    /// Answers every HTTP request (one per read, at most) with a 200 and
    /// the greeting, whatever was asked.
    fn always_hello(mut s: TcpStream) {
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = s.read(&mut buf) {
            let requests = buf[..n].windows(4).filter(|w| w == b"\r\n\r\n").count();
            let one = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
                HELLO.len(),
                String::from_utf8_lossy(HELLO)
            );
            if s.write_all(one.repeat(requests).as_bytes()).is_err() {
                return;
            }
        }
    }

    /// Reads a request and closes without a reply.
    fn hang_up(mut s: TcpStream) {
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
    }

    #[test]
    fn a_wrong_http_reply_is_counted() {
        // HEAD gets a body and 404s are answered 200: both are wrong.
        let shared = against(Proto::Http, always_hello, |s| {
            s.wrong.load(Ordering::Relaxed) > 0
        });
        assert!(shared.wrong.load(Ordering::Relaxed) > 0);
    }

    /// Answers the first request of each connection rightly, with
    /// `Connection: close`, and closes: as an `http` server draining for a
    /// restart does.
    fn answer_one_and_close(mut s: TcpStream) {
        let mut buf = [0u8; 4096];
        let Ok(n) = s.read(&mut buf) else { return };
        let text = String::from_utf8_lossy(&buf[..n]);
        let (status, body) = if text.starts_with("GET / ") || text.starts_with("HEAD / ") {
            ("200 OK", String::from_utf8_lossy(HELLO).into_owned())
        } else {
            ("404 Not Found", "Not Found\n".to_owned())
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        let body = if text.starts_with("HEAD") { "" } else { &body };
        let _ = s.write_all(format!("{head}{body}").as_bytes());
        // A lingering close, as servers do: closing with requests unread
        // would reset the connection and could discard the reply.
        let _ = s.shutdown(std::net::Shutdown::Write);
        while let Ok(1..) = s.read(&mut buf) {}
    }

    #[test]
    fn requests_a_closing_server_left_are_sent_again() {
        let shared = against(Proto::Http, answer_one_and_close, |s| {
            s.answered.load(Ordering::Relaxed) >= 50
        });
        assert!(shared.answered.load(Ordering::Relaxed) >= 50);
        assert_eq!(shared.lost.load(Ordering::Relaxed), 0);
        assert_eq!(shared.wrong.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn a_reply_that_never_comes_is_lost() {
        let shared = against(Proto::Kv, hang_up, |s| s.lost.load(Ordering::Relaxed) > 0);
        assert!(shared.lost.load(Ordering::Relaxed) > 0);
        assert_eq!(shared.answered.load(Ordering::Relaxed), 0);
        assert_eq!(shared.wrong.load(Ordering::Relaxed), 0);
    }
}
