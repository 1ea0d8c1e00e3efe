//! The `kv` binary, driven by a plain `std::net::TcpStream` RESP client.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use util::{Server, TIMEOUT};

fn server() -> Server {
    Server::start(env!("CARGO_BIN_EXE_kv"))
}

/// A RESP2 reply.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reply {
    Simple(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(Some(s.as_bytes().to_vec()))
}

fn simple(s: &str) -> Reply {
    Reply::Simple(s.to_string())
}

struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

impl Client {
    fn new(s: &Server) -> Client {
        let w = s.connect();
        let r = BufReader::new(w.try_clone().unwrap());
        Client { w, r }
    }

    /// Sends one command as an array of bulk strings.
    fn send(&mut self, args: &[&str]) {
        self.w.write_all(&encode(args)).unwrap();
    }

    fn call(&mut self, args: &[&str]) -> Reply {
        self.send(args);
        self.reply()
    }

    fn line(&mut self) -> String {
        let mut line = String::new();
        self.r.read_line(&mut line).expect("reply line");
        assert!(line.ends_with("\r\n"), "truncated reply {line:?}");
        line.truncate(line.len() - 2);
        line
    }

    fn reply(&mut self) -> Reply {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(rest.parse().unwrap()),
            "$" if rest == "-1" => Reply::Bulk(None),
            "$" => {
                let mut data = vec![0; rest.parse::<usize>().unwrap() + 2];
                self.r.read_exact(&mut data).unwrap();
                data.truncate(data.len() - 2);
                Reply::Bulk(Some(data))
            }
            "*" => Reply::Array((0..rest.parse().unwrap()).map(|_| self.reply()).collect()),
            _ => panic!("bad reply line {line:?}"),
        }
    }

    fn assert_closed(&mut self) {
        let mut rest = Vec::new();
        assert_eq!(
            self.r.read_to_end(&mut rest).unwrap(),
            0,
            "bytes after close: {rest:?}"
        );
    }
}

fn encode(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    out
}

#[test]
fn basic_commands() {
    let s = server();
    let mut c = Client::new(&s);
    assert_eq!(c.call(&["PING"]), simple("PONG"));
    assert_eq!(c.call(&["ECHO", "hi there"]), bulk("hi there"));
    assert_eq!(c.call(&["SET", "k", "v"]), simple("OK"));
    assert_eq!(c.call(&["GET", "k"]), bulk("v"));
    assert_eq!(c.call(&["GET", "nope"]), Reply::Bulk(None));
    assert_eq!(c.call(&["EXISTS", "k", "nope"]), Reply::Int(1));
    assert_eq!(c.call(&["MSET", "a", "1", "b", "2"]), simple("OK"));
    assert_eq!(
        c.call(&["MGET", "a", "nope", "b"]),
        Reply::Array(vec![bulk("1"), Reply::Bulk(None), bulk("2")])
    );
    assert_eq!(c.call(&["INCR", "a"]), Reply::Int(2));
    assert_eq!(c.call(&["DBSIZE"]), Reply::Int(3));
    assert_eq!(c.call(&["DEL", "a", "b", "nope"]), Reply::Int(2));
    assert_eq!(c.call(&["FLUSHALL"]), simple("OK"));
    assert_eq!(c.call(&["DBSIZE"]), Reply::Int(0));
    assert!(matches!(c.call(&["COMMAND", "COUNT"]), Reply::Int(n) if n > 40));
}

#[test]
fn the_store_is_shared_between_connections() {
    let s = server();
    let mut a = Client::new(&s);
    let mut b = Client::new(&s);
    assert_eq!(a.call(&["SET", "shared", "yes"]), simple("OK"));
    assert_eq!(b.call(&["GET", "shared"]), bulk("yes"));
}

#[test]
fn errors_keep_the_connection_open() {
    let s = server();
    let mut c = Client::new(&s);
    assert_eq!(
        c.call(&["NOSUCH", "x"]),
        Reply::Error("ERR unknown command 'NOSUCH', with args beginning with: 'x' ".into())
    );
    assert_eq!(
        c.call(&["GET"]),
        Reply::Error("ERR wrong number of arguments for 'get' command".into())
    );
    assert_eq!(c.call(&["PING"]), simple("PONG"));
}

#[test]
fn expiry() {
    let s = server();
    let mut c = Client::new(&s);
    assert_eq!(c.call(&["SET", "t", "v", "PX", "100"]), simple("OK"));
    assert_eq!(c.call(&["SET", "forever", "v"]), simple("OK"));
    assert!(matches!(c.call(&["PTTL", "t"]), Reply::Int(1..=100)));
    let deadline = Instant::now() + TIMEOUT;
    while c.call(&["GET", "t"]) != Reply::Bulk(None) {
        assert!(Instant::now() < deadline, "key never expired");
        thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(c.call(&["DBSIZE"]), Reply::Int(1));
    assert_eq!(c.call(&["SET", "s", "v", "EX", "100"]), simple("OK"));
    assert!(matches!(c.call(&["TTL", "s"]), Reply::Int(99..=100)));
}

#[test]
fn pipelined_and_inline_commands_are_answered_in_order() {
    let s = server();
    let mut c = Client::new(&s);
    let mut batch = Vec::new();
    for i in 0..100 {
        batch.extend_from_slice(&encode(&["SET", &format!("k{i}"), &i.to_string()]));
        batch.extend_from_slice(format!("GET k{i}\r\n").as_bytes());
    }
    batch.extend_from_slice(b"PING\r\n");
    c.w.write_all(&batch).unwrap();
    for i in 0..100 {
        assert_eq!(c.reply(), simple("OK"));
        assert_eq!(c.reply(), bulk(&i.to_string()));
    }
    assert_eq!(c.reply(), simple("PONG"));
}

#[test]
fn a_command_split_across_segments_is_answered() {
    let s = server();
    let mut c = Client::new(&s);
    for piece in encode(&["ECHO", "split across many segments"]).chunks(4) {
        c.w.write_all(piece).unwrap();
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(c.reply(), bulk("split across many segments"));
}

#[test]
fn a_large_value_round_trips() {
    let s = server();
    let mut c = Client::new(&s);
    let value: String = (0..2_000_000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    assert_eq!(c.call(&["SET", "big", &value]), simple("OK"));
    assert_eq!(c.call(&["GET", "big"]), bulk(&value));
}

#[test]
fn a_protocol_error_replies_then_closes() {
    let s = server();
    let mut c = Client::new(&s);
    c.w.write_all(b"*1\r\n$x\r\n").unwrap();
    assert_eq!(
        c.reply(),
        Reply::Error("ERR Protocol error: invalid bulk length".into())
    );
    c.assert_closed();
}

#[test]
fn quit_replies_then_closes() {
    let s = server();
    let mut c = Client::new(&s);
    assert_eq!(c.call(&["QUIT"]), simple("OK"));
    c.assert_closed();
}

/// The stress case: 50 clients each doing 200 `INCR` on one key.
#[test]
fn concurrent_incr_loses_no_increment() {
    const CLIENTS: usize = 50;
    const EACH: i64 = 200;
    let s = server();
    let threads: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut c = Client::new(&s);
            thread::spawn(move || {
                let mut last = 0;
                for _ in 0..EACH {
                    match c.call(&["INCR", "counter"]) {
                        Reply::Int(n) => {
                            assert!(n > last, "INCR went backwards");
                            last = n;
                        }
                        other => panic!("INCR replied {other:?}"),
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut c = Client::new(&s);
    assert_eq!(
        c.call(&["GET", "counter"]),
        bulk(&(CLIENTS as i64 * EACH).to_string())
    );
}

#[test]
fn sigterm_exits_cleanly() {
    util::sigterm_exits_cleanly(env!("CARGO_BIN_EXE_kv"), |s| {
        let mut c = Client::new(s);
        assert_eq!(c.call(&["PING"]), simple("PONG"));
    });
}

#[test]
fn a_command_over_max_request_is_refused_before_its_bytes_arrive() {
    let s = Server::start_with(
        env!("CARGO_BIN_EXE_kv"),
        &["--workers", "2", "--max-request", "1k"],
    );
    let mut c = Client::new(&s);
    assert_eq!(c.call(&["SET", "small", &"v".repeat(900)]), simple("OK"));
    // Only the announcement of a 2000-byte value is sent: the refusal
    // comes without waiting for (or buffering) the value.
    c.w.write_all(b"*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$2000\r\n")
        .unwrap();
    assert_eq!(
        c.reply(),
        Reply::Error("ERR Protocol error: request larger than 1024 bytes".into())
    );
    c.assert_closed();
}

#[test]
fn a_client_flooding_get_without_reading_is_answered_in_full_once_it_reads() {
    let s = server();
    let mut c = Client::new(&s);
    let big = "b".repeat(100_000);
    assert_eq!(c.call(&["SET", "big", &big]), simple("OK"));
    const N: usize = 300;
    let mut w = c.w.try_clone().unwrap();
    // 30 MB of replies: the server stops executing once its output limit
    // is reached, and resumes as we read.
    let writer = thread::spawn(move || {
        w.write_all(&encode(&["GET", "big"]).repeat(N)).unwrap();
        w.write_all(&encode(&["PING"])).unwrap();
    });
    for _ in 0..N {
        assert_eq!(c.reply(), Reply::Bulk(Some(big.as_bytes().to_vec())));
    }
    assert_eq!(c.reply(), simple("PONG"));
    writer.join().unwrap();
}

/// `EXEC` runs its commands with no other connection's command in between,
/// whichever worker that connection is on: another client keeps
/// overwriting `x`, yet each transaction reads back exactly what it wrote.
#[test]
fn exec_is_atomic_with_respect_to_other_connections() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let s = server();
    let stop = Arc::new(AtomicBool::new(false));
    let mut noisy: Vec<_> = (0..2)
        .map(|_| {
            let mut c = Client::new(&s);
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    // Pipelined, so that these commands are always ready.
                    let batch: Vec<u8> = (0..32)
                        .flat_map(|_| encode(&["SET", "x", "other"]))
                        .collect();
                    c.w.write_all(&batch).unwrap();
                    for _ in 0..32 {
                        assert_eq!(c.reply(), simple("OK"));
                    }
                    n += 32;
                }
                n
            })
        })
        .collect();
    let mut c = Client::new(&s);
    const APPENDS: usize = 1000;
    for i in 0..30 {
        let a = format!("a{i}");
        let mut tx = encode(&["MULTI"]);
        tx.extend_from_slice(&encode(&["SET", "x", &a]));
        for _ in 0..APPENDS {
            tx.extend_from_slice(&encode(&["APPEND", "x", "+"]));
        }
        tx.extend_from_slice(&encode(&["GET", "x"]));
        tx.extend_from_slice(&encode(&["EXEC"]));
        c.w.write_all(&tx).unwrap();
        assert_eq!(c.reply(), simple("OK"));
        for _ in 0..APPENDS + 2 {
            assert_eq!(c.reply(), simple("QUEUED"));
        }
        let mut want = vec![simple("OK")];
        want.extend((1..=APPENDS).map(|k| Reply::Int((a.len() + k) as i64)));
        want.push(bulk(&format!("{a}{}", "+".repeat(APPENDS))));
        // Not assert_eq: the reply has 1002 elements.
        assert!(
            c.reply() == Reply::Array(want),
            "transaction {i} saw another client's write"
        );
    }
    stop.store(true, Ordering::Relaxed);
    let writes: usize = noisy.drain(..).map(|t| t.join().unwrap()).sum();
    assert!(writes > 0);
}

/// Keys that expire are removed in the background although nobody reads
/// them again: `INFO`'s `expired_keys` counts only those removals.
#[test]
fn expired_keys_are_removed_without_being_read() {
    let s = server();
    let mut c = Client::new(&s);
    let batch: Vec<u8> = (0..1000)
        .flat_map(|i| encode(&["SET", &format!("t{i}"), "v", "PX", "30"]))
        .collect();
    c.w.write_all(&batch).unwrap();
    for _ in 0..1000 {
        assert_eq!(c.reply(), simple("OK"));
    }
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let Reply::Bulk(Some(info)) = c.call(&["INFO", "stats"]) else {
            panic!("INFO is a bulk string in RESP2")
        };
        let info = String::from_utf8(info).unwrap();
        if info.contains("\r\nexpired_keys:1000\r\n") {
            break;
        }
        assert!(Instant::now() < deadline, "keys not expired: {info}");
        thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.call(&["DBSIZE"]), Reply::Int(0));
}

/// `--help` says exactly what is supported and what is not.
#[test]
fn help_lists_what_is_supported_and_what_is_not() {
    let out = util::run_with_timeout(
        std::process::Command::new(env!("CARGO_BIN_EXE_kv")).arg("--help"),
        TIMEOUT,
    );
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for word in [
        "HELLO",
        "MULTI",
        "WATCH",
        "GETEX",
        "INCRBYFLOAT",
        "SCAN",
        "RENAMENX",
        "INFO",
        "Not supported",
        "persistence",
        "replication",
        "cluster",
        "other data types",
    ] {
        assert!(
            help.contains(word),
            "--help does not mention {word}:\n{help}"
        );
    }
}
