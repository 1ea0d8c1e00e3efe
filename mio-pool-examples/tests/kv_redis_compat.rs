//! `kv` against a real `redis-server`, reply by reply, on a script that
//! covers every supported command with its options and its errors (wrong
//! arity, arguments of the wrong type, overflow), in RESP2 and in RESP3.
//!
//! Each script line is `MODE COMMAND ARGS...`, arguments separated by
//! spaces, with `''` for an empty argument, `\s` for a space inside one and
//! `$V` for the protocol version of the run. A leading `2:` sends the
//! command on a second connection (`WATCH` conflicts). The modes:
//!
//! * `=` the replies are equal, byte for byte.
//! * `~` same shape (kinds and lengths all the way down), values may differ:
//!   client ids, `HELLO`'s id, millisecond TTLs, `RANDOMKEY`.
//! * `^` same kind of reply only: `INFO` (fewer fields), `COMMAND` (fewer
//!   commands), `SCAN` from cursors that mean different places.
//! * `o` equal once sorted: `KEYS` (hash order).
//! * `S` a whole `SCAN` iteration from the given cursor: the same keys, each
//!   once (cursors differ by nature).
//! * `!` sent to `kv` only (a command redis-server 7.0 lacks).

mod util;

use std::path::Path;

use util::resp::{Client, Reply};
use util::{redis_server::RedisServer, stock_client, Server};

const SCRIPT: &str = r"
= PING
= PING hello
= PING a b
= ECHO hi
= ECHO
= SELECT 0
= SELECT 16
= SELECT 007
= SELECT -0
= SELECT x
~ HELLO
~ HELLO $V SETNAME myname
= CLIENT GETNAME
= CLIENT SETNAME other
= CLIENT GETNAME
= CLIENT SETNAME ''
= CLIENT GETNAME
= CLIENT SETNAME bad\sname
= CLIENT SETNAME
= CLIENT GETNAME extra
~ CLIENT ID
= CLIENT NOSUCH
! CLIENT SETINFO LIB-NAME mio-pool-test
! CLIENT SETINFO LIB-VER 1.0
= HELLO 4
= HELLO x
= HELLO 007
= HELLO $V SETNAME
= HELLO $V BOGUS
~ HELLO $V AUTH default whatever
= HELLO $V AUTH someone whatever
^ INFO
^ INFO server
^ INFO keyspace
^ INFO all
= CONFIG GET
= CONFIG GET save
= CONFIG GET appendonly
= CONFIG GET nosuchparameter
= CONFIG NOSUCH
^ COMMAND COUNT
^ COMMAND DOCS get
= COMMAND NOSUCH
= GET k
= SET k v
= GET k
= SET k v2 NX
= SET k v2 XX
= SET k v3 GET
= SET new v GET
= SET k v4 NX GET
= SET k v NX XX
= SET k v KEEPTTL EX 10
= SET k v EX 10 PX 10
= SET k v EX
= SET k v EX 0
= SET k v EX -1
= SET k v EX 007
= SET k v EX -0
= SET k v EX -00
= SET k v EX x
= SET k v PX 9223372036854775807
= SET k v EX 9223372036854775
= SET k v EX 10 EX 100
= SET k v BOGUS
= SET k v EX 100
= TTL k
= SET k v KEEPTTL
= TTL k
= SET k v
= TTL k
= SET k v EXAT 1
= GET k
= SET k v PXAT 99999999999999
~ TTL k
= SET k v PXAT 0
= SET
= SET k
= GET
= GET a b
= SETNX k v
= SETNX k2 v
= SETNX k2
= SETEX k3 100 v
= TTL k3
= SETEX k3 0 v
= SETEX k3 x v
= SETEX k3 9223372036854775807 v
= SETEX k3 100
= PSETEX k3 100000 v
= TTL k3
= PSETEX k3 -1 v
= GETSET k3 new
= GETSET missing new
= TTL k3
= GETSET k3
= GETDEL k3
= GETDEL k3
= GETDEL
= SET k v EX 100
= GETEX k
= TTL k
= GETEX k PERSIST
= TTL k
= GETEX k EX 50
= TTL k
= GETEX k PX 0
= GETEX k EX 1 PX 1
= GETEX k NX
= GETEX k EX
= GETEX k EX x
= GETEX missing EX 10
= GETEX k EXAT 1
= GET k
= GETEX
= APPEND s hello
= APPEND s \sworld
= GET s
= APPEND s
= STRLEN s
= STRLEN missing
= STRLEN
= GETRANGE s 0 4
= GETRANGE s -5 -1
= GETRANGE s 5 2
= GETRANGE s -1 -5
= GETRANGE s 0 100
= GETRANGE s -100 100
= GETRANGE missing 0 -1
= GETRANGE s x 1
= GETRANGE s 0 y
= GETRANGE s 0
= SETRANGE s 6 there
= GET s
= SETRANGE s 20 pad
= GET s
= SETRANGE s -1 x
= SETRANGE s x x
= SETRANGE s 0 ''
= SETRANGE new2 0 ''
= EXISTS new2
= SETRANGE new3 2 ab
= GET new3
= SETRANGE s 536870912 x
= SETRANGE s 0
= INCR n
= INCRBY n 10
= DECR n
= DECRBY n 5
= INCRBY n 007
= INCRBY n -0
= INCRBY n -00
= INCRBY n x
= INCRBY n 1.5
= INCRBY n 9223372036854775808
= DECRBY n -9223372036854775808
= DECRBY n x
= SET n 9223372036854775807
= INCR n
= INCRBY n 1
= SET n -9223372036854775808
= DECR n
= DECRBY n 1
= SET n 007
= INCR n
= SET n -0
= INCR n
= SET n abc
= DECR n
= SET n ''
= INCR n
= INCR
= INCRBY n
= DECRBY n
= DECR
= INCRBYFLOAT f 0.1
= INCRBYFLOAT f 0.2
= INCRBYFLOAT f 2e0
= INCRBYFLOAT f 1e3
= INCRBYFLOAT f 0.0001
= INCRBYFLOAT g 1e400
= INCRBYFLOAT g -1e400
= INCRBYFLOAT g 1e5000
= INCRBYFLOAT g 1e-5000
= INCRBYFLOAT g 3.14159265358979323846264338327950288
= INCRBYFLOAT g -123456789.987654321e-3
= INCRBYFLOAT g 1E2
= INCRBYFLOAT g +7
= INCRBYFLOAT g -inf
= INCRBYFLOAT g 1e
= INCRBYFLOAT g 1.2.3
= INCRBYFLOAT f -1.3
= INCRBYFLOAT f 1.5e-3
= INCRBYFLOAT f 5.
= INCRBYFLOAT f .5
= INCRBYFLOAT f abc
= INCRBYFLOAT f inf
= INCRBYFLOAT f ''
= INCRBYFLOAT f \s1
= SET f abc
= INCRBYFLOAT f 1
= SET f 10.50
= INCRBYFLOAT f 0.1
= INCRBYFLOAT f
= MSET a 1 b 2 c 3
= MGET a b missing c
= MSET a 1 b
= MSET a
= MSETNX a 1 z 2
= MSETNX y 1 z 2
= MSETNX y 1 z
= MGET y z
= MGET
= DEL a missing b
= UNLINK c y
= EXISTS z z missing
= DEL
= UNLINK
= EXISTS
= TYPE z
= TYPE missing
= TYPE
= EXPIRE z 100
= TTL z
= PTTL missing
= TTL missing
= TTL
= PTTL
= EXPIRE z 100 NX
= EXPIRE z 200 XX
= EXPIRE z 100 GT
= EXPIRE z 300 GT
= EXPIRE z 400 LT
= EXPIRE z 50 LT
= TTL z
= EXPIRE z 10 NX XX
= EXPIRE z 10 GT LT
= EXPIRE z 10 BOGUS
= EXPIRE z x
= EXPIRE z 007
= EXPIRE z 9223372036854775807
= PEXPIRE z 9223372036854775807
= EXPIRE missing 10
= EXPIRE z
= PERSIST z
= PERSIST z
= PERSIST missing
= PERSIST
= EXPIRE z 10 XX
= EXPIRE z 10 GT
= EXPIRE z 10 LT
= TTL z
= PEXPIRE z 100000
= TTL z
= EXPIREAT z 99999999999
~ TTL z
= PEXPIREAT z 99999999999999
~ PTTL z
= EXPIREAT z x
= EXPIREAT z 1
= EXISTS z
= SET z v
= PEXPIREAT z 1
= EXISTS z
= SET z v
= EXPIRE z -1
= EXISTS z
= EXPIRE
= PEXPIRE z
= EXPIREAT
= PEXPIREAT z
= MSET user:1 a user:2 b other c
o KEYS user:*
o KEYS *
= KEYS nomatch*
o KEYS user:[12]
o KEYS ?ther
o KEYS user:\*
o KEYS *[^1]
= KEYS
S SCAN 0
S SCAN 0 MATCH user:*
S SCAN 0 COUNT 1
S SCAN 0 COUNT 2 MATCH *
S SCAN 0 TYPE string
S SCAN 0 TYPE list
= SCAN x
^ SCAN -1
^ SCAN +0
= SCAN 18446744073709551616
= SCAN 1-
= SCAN 0 COUNT 0
= SCAN 0 COUNT x
= SCAN 0 BOGUS 1
= SCAN 0 MATCH
= SCAN
~ RANDOMKEY
= RANDOMKEY x
= RENAME other renamed
= GET renamed
= RENAME missing x
= RENAMENX renamed user:1
= RENAMENX renamed fresh
= RENAME fresh fresh
= RENAMENX fresh fresh
= RENAMENX missing x
= RENAME
= RENAMENX a
= SET ttlkey v EX 100
= RENAME ttlkey moved
= TTL moved
= DBSIZE
= DBSIZE x
= FLUSHDB
= DBSIZE
= FLUSHDB BOGUS
= FLUSHALL ASYNC
= FLUSHALL SYNC
= FLUSHALL BOGUS
= MULTI
= SET t 1
= INCR t
= GET t
= EXEC
= MULTI
= MULTI
= WATCH t
= SET t 2
= NOSUCH
= GET
= EXEC
= EXEC
= DISCARD
= MULTI
= SET t 3
= DISCARD
= GET t
= MULTI extra
= EXEC extra
= MULTI
= SET t 4
= MULTI extra
= EXEC
= MULTI
= DISCARD extra
= EXEC extra
= EXEC
= WATCH t
= 2:SET t changed
= MULTI
= SET t mine
= EXEC
= GET t
= WATCH t
= UNWATCH
= 2:SET t changed2
= MULTI
= GET t
= EXEC
= WATCH t other
= MULTI
= PING
= INCR t
= SET t 5
= INCR t
= EXEC
= WATCH t
= 2:DEL t
= MULTI
= GET t
= EXEC
= WATCH
= UNWATCH x
= MULTI
= PING
= RESET
= EXEC
= NOSUCH a b
= nosuch
= QUIT extra
";

/// One line of the script: how to compare, which connection, the command.
struct Line<'a> {
    mode: char,
    second: bool,
    args: Vec<String>,
    text: &'a str,
}

fn parse<'a>(line: &'a str, version: &str) -> Line<'a> {
    let (mode, rest) = line.split_at(1);
    let rest = rest.trim();
    let (second, rest) = match rest.strip_prefix("2:") {
        Some(r) => (true, r),
        None => (false, rest),
    };
    let args = rest
        .split(' ')
        .map(|a| match a {
            "''" => String::new(),
            "$V" => version.to_string(),
            a => a.replace("\\s", " "),
        })
        .collect();
    Line {
        mode: mode.chars().next().expect("a mode"),
        second,
        args,
        text: line,
    }
}

/// A whole `SCAN` iteration: the keys returned, sorted, and whether one
/// came twice.
fn scan_all(c: &mut Client, args: &[String]) -> Result<Vec<Vec<u8>>, String> {
    let mut cursor = args[1].clone();
    let mut keys = Vec::new();
    for _ in 0..10_000 {
        let mut call = args.to_vec();
        call[1] = cursor;
        match c.call(&call) {
            Reply::Array(Some(parts)) => match &parts[..] {
                [Reply::Bulk(Some(next)), Reply::Array(Some(found))] => {
                    for k in found {
                        match k {
                            Reply::Bulk(Some(k)) => keys.push(k.clone()),
                            other => return Err(format!("key {other:?}")),
                        }
                    }
                    cursor = String::from_utf8(next.clone()).expect("cursor");
                    if cursor == "0" {
                        let n = keys.len();
                        keys.sort();
                        keys.dedup();
                        if keys.len() != n {
                            return Err("a key came twice".into());
                        }
                        return Ok(keys);
                    }
                }
                other => return Err(format!("SCAN replied {other:?}")),
            },
            other => return Err(format!("SCAN replied {other:?}")),
        }
    }
    Err("SCAN never ended".into())
}

/// Runs the script on both servers in protocol `version`; returns the
/// differences.
fn compare(kv: &Server, redis: &RedisServer, version: &str) -> Vec<String> {
    let connect = |addr| Client::connect(addr).expect("connect");
    let (mut k1, mut k2) = (connect(kv.addr), connect(kv.addr));
    let (mut r1, mut r2) = (connect(redis.addr), connect(redis.addr));
    for c in [&mut k1, &mut r1] {
        assert!(matches!(c.call(&["FLUSHALL"]), Reply::Simple(_)));
        let hello = c.call(&["HELLO", version]);
        assert!(
            matches!(hello, Reply::Map(_) | Reply::Array(Some(_))),
            "{hello:?}"
        );
    }
    let mut diffs = Vec::new();
    for text in SCRIPT.lines().filter(|l| !l.trim().is_empty()) {
        let line = parse(text, version);
        let (k, r) = if line.second {
            (&mut k2, &mut r2)
        } else {
            (&mut k1, &mut r1)
        };
        let same = match line.mode {
            '!' => {
                let got = k.call(&line.args);
                assert!(!matches!(got, Reply::Error(_)), "{text}: {got:?}");
                continue;
            }
            'S' => {
                let (a, b) = (scan_all(k, &line.args), scan_all(r, &line.args));
                if a != b {
                    diffs.push(format!(
                        "RESP{version} {text}\n  kv:    {a:?}\n  redis: {b:?}"
                    ));
                }
                continue;
            }
            _ => {
                let (a, b) = (k.call(&line.args), r.call(&line.args));
                let same = match line.mode {
                    '=' => a == b,
                    '~' => a.same_shape(&b),
                    '^' => a.kind() == b.kind(),
                    'o' => a.sorted() == b.sorted(),
                    m => panic!("unknown mode {m:?} in {text}"),
                };
                (same, a, b)
            }
        };
        if !same.0 {
            diffs.push(format!(
                "RESP{version} {}\n  kv:    {:?}\n  redis: {:?}",
                line.text, same.1, same.2
            ));
        }
    }
    diffs
}

fn redis_server() -> Option<std::path::PathBuf> {
    stock_client("redis-server")
}

fn start_both(redis: &Path) -> (Server, RedisServer) {
    (
        Server::start(env!("CARGO_BIN_EXE_kv")),
        RedisServer::start(redis),
    )
}

#[test]
fn every_command_replies_as_redis_server_does_in_resp2_and_resp3() {
    let Some(bin) = redis_server() else { return };
    let (kv, redis) = start_both(&bin);
    let mut diffs = compare(&kv, &redis, "2");
    diffs.extend(compare(&kv, &redis, "3"));
    assert!(
        diffs.is_empty(),
        "{} replies differ from redis-server's:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// Issue 14: an unknown command with 10,000 arguments gets an error that
/// quotes at most 128 bytes of them, as Redis's does.
#[test]
fn a_huge_unknown_command_gets_redis_short_error() {
    let Some(bin) = redis_server() else { return };
    let (kv, redis) = start_both(&bin);
    let mut args = vec!["NOSUCHCOMMAND".to_string()];
    args.extend((0..10_000).map(|i| format!("argument-number-{i}")));
    let mut long = args.clone();
    long[3] = "x".repeat(1000);
    for args in [args, long] {
        let a = Client::connect(kv.addr).unwrap().call(&args);
        let b = Client::connect(redis.addr).unwrap().call(&args);
        assert_eq!(a, b);
        let Reply::Error(msg) = a else {
            panic!("not an error: {a:?}")
        };
        assert!(msg.len() < 300, "{} bytes", msg.len());
    }
}
