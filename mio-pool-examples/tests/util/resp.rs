//! A blocking RESP2/RESP3 client for the tests: sends commands as arrays
//! of bulk strings, reads replies of every RESP3 type.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};

use super::TIMEOUT;

/// A reply, RESP2 or RESP3.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+`
    Simple(String),
    /// `-`
    Error(String),
    /// `:`
    Int(i64),
    /// `$`, `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*`, `None` for `*-1`.
    Array(Option<Vec<Reply>>),
    /// `_`
    Null,
    /// `%`
    Map(Vec<(Reply, Reply)>),
    /// `~`
    Set(Vec<Reply>),
    /// `,`
    Double(String),
    /// `#`
    Bool(bool),
    /// `=`: the format and the text.
    Verbatim(String, Vec<u8>),
}

impl Reply {
    /// The kind, for comparing shapes.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Simple(_) => "simple",
            Reply::Error(_) => "error",
            Reply::Int(_) => "int",
            Reply::Bulk(Some(_)) => "bulk",
            Reply::Bulk(None) => "null-bulk",
            Reply::Array(Some(_)) => "array",
            Reply::Array(None) => "null-array",
            Reply::Null => "null",
            Reply::Map(_) => "map",
            Reply::Set(_) => "set",
            Reply::Double(_) => "double",
            Reply::Bool(_) => "bool",
            Reply::Verbatim(..) => "verbatim",
        }
    }

    /// Whether `self` and `other` have the same kinds all the way down
    /// (and aggregates the same lengths), whatever the values.
    pub fn same_shape(&self, other: &Reply) -> bool {
        if self.kind() != other.kind() {
            return false;
        }
        let pairs = |a: &[(Reply, Reply)], b: &[(Reply, Reply)]| {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((k1, v1), (k2, v2))| k1.same_shape(k2) && v1.same_shape(v2))
        };
        let all = |a: &[Reply], b: &[Reply]| {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.same_shape(y))
        };
        match (self, other) {
            (Reply::Array(Some(a)), Reply::Array(Some(b))) | (Reply::Set(a), Reply::Set(b)) => {
                all(a, b)
            }
            (Reply::Map(a), Reply::Map(b)) => pairs(a, b),
            _ => true,
        }
    }

    /// The elements of an array or set, sorted (for replies in no order).
    pub fn sorted(&self) -> Reply {
        match self {
            Reply::Array(Some(a)) => {
                let mut a = a.clone();
                a.sort_by_key(|r| format!("{r:?}"));
                Reply::Array(Some(a))
            }
            other => other.clone(),
        }
    }
}

/// A client connection.
pub struct Client {
    w: TcpStream,
    r: BufReader<TcpStream>,
}

/// One command as an array of bulk strings.
pub fn encode<A: AsRef<[u8]>>(args: &[A]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        let a = a.as_ref();
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> std::io::Result<Client> {
        let w = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        w.set_read_timeout(Some(TIMEOUT))?;
        w.set_write_timeout(Some(TIMEOUT))?;
        w.set_nodelay(true)?;
        let r = BufReader::new(w.try_clone()?);
        Ok(Client { w, r })
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).expect("send");
    }

    /// Sends one command.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        self.send_raw(&encode(args));
    }

    /// Sends one command and reads its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Reply {
        self.send(args);
        self.reply()
    }

    fn line(&mut self) -> String {
        let mut line = Vec::new();
        self.r.read_until(b'\n', &mut line).expect("reply line");
        assert!(line.ends_with(b"\r\n"), "truncated reply {line:?}");
        line.truncate(line.len() - 2);
        String::from_utf8(line).expect("reply line is UTF-8")
    }

    fn payload(&mut self, len: &str) -> Vec<u8> {
        let mut data = vec![0; len.parse::<usize>().expect("length") + 2];
        self.r.read_exact(&mut data).expect("payload");
        data.truncate(data.len() - 2);
        data
    }

    /// Reads one reply.
    pub fn reply(&mut self) -> Reply {
        let line = self.line();
        let (kind, rest) = line.split_at(1);
        let count = |rest: &str| rest.parse::<usize>().expect("count");
        match kind {
            "+" => Reply::Simple(rest.to_string()),
            "-" => Reply::Error(rest.to_string()),
            ":" => Reply::Int(rest.parse().expect("integer")),
            "$" if rest == "-1" => Reply::Bulk(None),
            "$" => Reply::Bulk(Some(self.payload(rest))),
            "*" if rest == "-1" => Reply::Array(None),
            "*" => Reply::Array(Some((0..count(rest)).map(|_| self.reply()).collect())),
            "_" => Reply::Null,
            "%" => Reply::Map(
                (0..count(rest))
                    .map(|_| (self.reply(), self.reply()))
                    .collect(),
            ),
            "~" => Reply::Set((0..count(rest)).map(|_| self.reply()).collect()),
            "," => Reply::Double(rest.to_string()),
            "#" => Reply::Bool(rest == "t"),
            "=" => {
                let data = self.payload(rest);
                Reply::Verbatim(
                    String::from_utf8_lossy(&data[..3]).into_owned(),
                    data[4..].to_vec(),
                )
            }
            _ => panic!("bad reply line {line:?}"),
        }
    }
}
