//! Command tests through [`serve`]: replies, errors, pipelining, garbage.

use super::*;

/// Serves `input` on a new connection.
fn serve(server: &Server, input: &[u8], out: &mut Vec<u8>) -> Step {
    Session::default().serve(server, input, out)
}

fn new_server() -> Server {
    Server::new(6380)
}

/// Runs inline commands (one per line) on a new connection and returns the
/// replies.
fn run(server: &Server, input: &str) -> String {
    let mut out = Vec::new();
    let step = serve(server, input.as_bytes(), &mut out);
    assert_eq!(step.consumed, input.len(), "unconsumed input");
    String::from_utf8(out).unwrap()
}

#[test]
fn strings_and_counters() {
    let s = new_server();
    assert_eq!(
        run(&s, "PING\r\nping hi\r\nECHO \"a b\"\r\n"),
        "+PONG\r\n$2\r\nhi\r\n$3\r\na b\r\n"
    );
    assert_eq!(
        run(&s, "GET k\r\nSET k v\r\nGET k\r\n"),
        "$-1\r\n+OK\r\n$1\r\nv\r\n"
    );
    assert_eq!(
        run(&s, "INCR n\r\nINCRBY n 10\r\nDECR n\r\nDECRBY n 5\r\n"),
        ":1\r\n:11\r\n:10\r\n:5\r\n"
    );
    assert_eq!(
        run(&s, "EXISTS k n k missing\r\nDBSIZE\r\n"),
        ":3\r\n:2\r\n"
    );
    assert_eq!(run(&s, "DEL k missing\r\nDBSIZE\r\n"), ":1\r\n:1\r\n");
    assert_eq!(run(&s, "FLUSHALL\r\nDBSIZE\r\n"), "+OK\r\n:0\r\n");
}

#[test]
fn set_options_reply_like_redis() {
    let s = new_server();
    assert_eq!(
        run(&s, "SET k 1 XX\r\nSET k 1 NX\r\nSET k 2 NX\r\n"),
        "$-1\r\n+OK\r\n$-1\r\n"
    );
    assert_eq!(
        run(&s, "SET k 3 GET\r\nSET k 4 NX GET\r\n"),
        "$1\r\n1\r\n$1\r\n3\r\n"
    );
    assert_eq!(run(&s, "SET k v EX 100\r\nTTL k\r\n"), "+OK\r\n:100\r\n");
    assert_eq!(run(&s, "SET k v PX 100000\r\nTTL k\r\n"), "+OK\r\n:100\r\n");
    assert_eq!(
        run(&s, "SET k v\r\nTTL k\r\nTTL none\r\n"),
        "+OK\r\n:-1\r\n:-2\r\n"
    );
    assert_eq!(
        run(&s, "SET k v EX 0\r\nSET k v EX x\r\nSET k v NX XX\r\nSET k v EX\r\nSET k v EX 1 PX 1\r\nSET k v BOGUS\r\n"),
        "-ERR invalid expire time in 'set' command\r\n\
         -ERR value is not an integer or out of range\r\n\
         -ERR syntax error\r\n-ERR syntax error\r\n-ERR syntax error\r\n-ERR syntax error\r\n"
    );
}

#[test]
fn expiry_through_commands() {
    let s = new_server();
    assert_eq!(
        run(&s, "SET a 1 PX 20\r\nSET b 1\r\nDBSIZE\r\n"),
        "+OK\r\n+OK\r\n:2\r\n"
    );
    std::thread::sleep(std::time::Duration::from_millis(40));
    assert_eq!(
        run(&s, "DBSIZE\r\nGET a\r\nEXISTS a\r\n"),
        ":1\r\n$-1\r\n:0\r\n"
    );
}

#[test]
fn many_key_commands() {
    let s = new_server();
    assert_eq!(
        run(&s, "MSET a 1 b 2\r\nMGET a x b\r\n"),
        "+OK\r\n*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n2\r\n"
    );
    assert_eq!(
        run(&s, "MSET a 1 b\r\n"),
        "-ERR wrong number of arguments for 'mset' command\r\n"
    );
}

#[test]
fn errors_are_worded_like_redis() {
    let s = new_server();
    assert_eq!(
        run(&s, "FOO bar baz\r\n"),
        "-ERR unknown command 'FOO', with args beginning with: 'bar' 'baz' \r\n"
    );
    assert_eq!(
        run(&s, "GET\r\n"),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        run(&s, "get a b\r\n"),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(
        run(&s, "PING a b\r\n"),
        "-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(
        run(&s, "SET x abc\r\nINCR x\r\nSET x 9223372036854775807\r\nINCR x\r\n"),
        "+OK\r\n-ERR value is not an integer or out of range\r\n+OK\r\n-ERR increment or decrement would overflow\r\n"
    );
    assert_eq!(
        run(&s, "SELECT 0\r\nSELECT 1\r\n"),
        "+OK\r\n-ERR DB index is out of range\r\n"
    );
}

#[test]
fn client_startup_commands() {
    let s = new_server();
    assert_eq!(
        run(&s, "COMMAND COUNT\r\n"),
        format!(":{}\r\n", commands::COMMANDS.len())
    );
    assert!(
        run(&s, "COMMAND DOCS get\r\n").starts_with("*2\r\n$3\r\nget\r\n*6\r\n$7\r\nsummary\r\n")
    );
    assert_eq!(
        run(
            &s,
            "CONFIG GET save\r\nCONFIG GET appendonly\r\nCONFIG GET nosuch\r\n"
        ),
        "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n*0\r\n"
    );
}

/// `redis-cli` builds its hints from `COMMAND DOCS`' argument names.
#[test]
fn command_docs_give_redis_cli_its_hints() {
    let s = new_server();
    let docs = run(&s, "COMMAND DOCS expire\r\n");
    assert!(
        docs.contains(
            "$9\r\narguments\r\n*1\r\n*4\r\n$4\r\nname\r\n$25\r\nkey seconds [NX|XX|GT|LT]\r\n"
        ),
        "{docs}"
    );
}

#[test]
fn quit_replies_then_closes_and_ignores_the_rest() {
    let s = new_server();
    let mut out = Vec::new();
    let input = b"PING\r\nQUIT\r\nSET late 1\r\n";
    let step = serve(&s, input, &mut out);
    assert_eq!(step, Step::close(12));
    assert_eq!(out, b"+PONG\r\n+OK\r\n");
    assert_eq!(s.store.dbsize(), 0);
}

#[test]
fn pipelined_and_split_input() {
    let s = new_server();
    let input: Vec<u8> = (0..10)
        .flat_map(|_| b"*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n".iter().copied())
        .collect();
    // Feed it in 7-byte pieces, as a slow network would.
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut session = Session::default();
    for piece in input.chunks(7) {
        buf.extend_from_slice(piece);
        let step = session.serve(&s, &buf, &mut out);
        buf.drain(..step.consumed);
    }
    assert!(buf.is_empty());
    let expected: String = (1..=10).map(|i| format!(":{i}\r\n")).collect();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn a_protocol_error_replies_and_closes() {
    let s = new_server();
    let mut out = Vec::new();
    let step = serve(&s, b"PING\r\n*1\r\n$x\r\nPING\r\n", &mut out);
    assert!(step.close);
    assert_eq!(
        out,
        b"+PONG\r\n-ERR Protocol error: invalid bulk length\r\n"
    );
}

#[test]
fn random_splits_give_the_same_replies_as_one_read() {
    let commands: &[&[u8]] = &[
        b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$4\r\nx\r\ny\r\n",
        b"*2\r\n$3\r\nGET\r\n$1\r\na\r\n",
        b"INCR n\r\n",
        b"*2\r\n$4\r\nINCR\r\n$1\r\nn\r\n",
        b"MSET a 1 b \"two words\"\r\n",
        b"*3\r\n$4\r\nMGET\r\n$1\r\na\r\n$1\r\nb\r\n",
        b"\r\n",
        b"*0\r\n",
        b"NOPE\r\n",
        b"DEL a\r\n",
        b"DBSIZE\n",
    ];
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let mut below = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..below(12) {
            input.extend_from_slice(commands[below(commands.len())]);
        }
        let mut whole = Vec::new();
        let step = serve(&new_server(), &input, &mut whole);
        assert_eq!(
            step,
            Step::keep(input.len()),
            "{:?} -> {:?}",
            String::from_utf8_lossy(&input),
            String::from_utf8_lossy(&whole)
        );

        let store = new_server();
        let mut session = Session::default();
        let (mut buf, mut pieces, mut pos) = (Vec::new(), Vec::new(), 0);
        while pos < input.len() {
            let n = 1 + below(16);
            buf.extend_from_slice(&input[pos..(pos + n).min(input.len())]);
            pos += n;
            let step = session.serve(&store, &buf, &mut pieces);
            buf.drain(..step.consumed);
        }
        assert!(buf.is_empty());
        assert_eq!(whole, pieces, "{input:?}");
    }
}

#[test]
fn random_garbage_never_panics() {
    let alphabet = b"*$:+-\r\n0123456789-abcSETGET\"' \\x";
    let mut seed = 7u64;
    let mut below = |n: usize| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % n as u64) as usize
    };
    let store = new_server();
    for _ in 0..3000 {
        let input: Vec<u8> = (0..below(120))
            .map(|_| alphabet[below(alphabet.len())])
            .collect();
        let mut out = Vec::new();
        let step = serve(&store, &input, &mut out);
        assert!(step.consumed <= input.len());
    }
}

/// Issue 14's cases, with the replies redis-server 7.0 gives (the
/// integration test `kv_redis_compat` checks them against a real one too).
#[test]
fn integers_overflow_and_expire_times_are_refused_like_redis() {
    let s = new_server();
    const NOT_INT: &str = "-ERR value is not an integer or out of range\r\n";
    for bad in ["007", "-0", "-00"] {
        assert_eq!(
            run(&s, &format!("INCRBY n {bad}\r\n")),
            NOT_INT,
            "INCRBY {bad}"
        );
        assert_eq!(
            run(&s, &format!("SET k v EX {bad}\r\n")),
            NOT_INT,
            "SET EX {bad}"
        );
        assert_eq!(
            run(&s, &format!("SELECT {bad}\r\n")),
            NOT_INT,
            "SELECT {bad}"
        );
        assert_eq!(
            run(&s, &format!("SET n {bad}\r\nINCR n\r\n")),
            format!("+OK\r\n{NOT_INT}"),
            "INCR on {bad}"
        );
    }
    assert_eq!(
        run(&s, "SET k v PX 9223372036854775807\r\n"),
        "-ERR invalid expire time in 'set' command\r\n"
    );
    assert_eq!(
        run(&s, "DECRBY n -9223372036854775808\r\n"),
        "-ERR decrement would overflow\r\n"
    );
    assert_eq!(
        run(&s, "CONFIG GET\r\n"),
        "-ERR wrong number of arguments for 'config|get' command\r\n"
    );
}

#[test]
fn an_unknown_command_quotes_at_most_128_bytes_of_its_arguments() {
    let s = new_server();
    let mut cmd = vec!["NOSUCH".to_string()];
    cmd.extend((0..10_000).map(|i| format!("arg{i}")));
    let mut out = Vec::new();
    let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
    Session::default().execute(&s, &args, &mut out);
    // What redis-server 7.0 replies: arguments quoted while the quoted text
    // is under 128 bytes, the last one cut to what is left of the 128.
    let quoted: String = (0..17).map(|i| format!("'arg{i}' ")).collect::<String>() + "'ar' ";
    assert_eq!(quoted.len(), 131);
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!("-ERR unknown command 'NOSUCH', with args beginning with: {quoted}\r\n")
    );
}

#[test]
fn hello_3_switches_replies_to_resp3() {
    let s = new_server();
    let mut session = Session::default();
    let mut out = Vec::new();
    let input = b"GET x\r\nHELLO 3\r\nGET x\r\nCONFIG GET save\r\nHELLO 2\r\nGET x\r\n";
    session.serve(&s, input, &mut out);
    let id = session.id();
    let hello = |proto: u8| {
        format!(
            "{}$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$6\r\n7.0.15\r\n$5\r\nproto\r\n:{proto}\r\n\
             $2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
             $7\r\nmodules\r\n*0\r\n",
            if proto == 3 { "%7\r\n" } else { "*14\r\n" }
        )
    };
    assert_eq!(
        String::from_utf8(out).unwrap(),
        format!(
            "$-1\r\n{}_\r\n%1\r\n$4\r\nsave\r\n$0\r\n\r\n{}$-1\r\n",
            hello(3),
            hello(2)
        )
    );
    assert_eq!(
        run(
            &s,
            "HELLO 4\r\nHELLO 3 AUTH someone pw\r\nHELLO 3 SETNAME\r\n"
        ),
        "-NOPROTO unsupported protocol version\r\n\
         -WRONGPASS invalid username-password pair or user is disabled.\r\n\
         -ERR Syntax error in HELLO option 'SETNAME'\r\n"
    );
}

#[test]
fn client_names_and_reset() {
    let s = new_server();
    assert_eq!(
        run(
            &s,
            "CLIENT GETNAME\r\nCLIENT SETNAME app\r\nCLIENT GETNAME\r\nCLIENT SETNAME \"a b\"\r\n\
             HELLO 3 SETNAME other\r\nRESET\r\nCLIENT GETNAME\r\nGET nothing\r\n"
        )
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .filter(|l| l.starts_with(['+', '-', '$', '_']))
        .collect::<Vec<_>>(),
        [
            "$-1",
            "+OK",
            "$3",
            "-ERR Client names cannot contain spaces, newlines or special characters.",
            // HELLO's map holds bulk strings too; RESET ends RESP3 and the name.
            "$6",
            "$5",
            "$7",
            "$6",
            "$5",
            "$2",
            "$4",
            "$10",
            "$4",
            "$6",
            "$7",
            "+RESET",
            "$-1",
            "$-1",
        ]
    );
}

#[test]
fn transactions_queue_abort_and_watch() {
    let s = new_server();
    let mut a = Session::default();
    let mut b = Session::default();
    let run_on = |session: &mut Session, input: &str| {
        let mut out = Vec::new();
        session.serve(&s, input.as_bytes(), &mut out);
        String::from_utf8(out).unwrap()
    };
    assert_eq!(
        run_on(&mut a, "MULTI\r\nSET t 1\r\nINCR t\r\nEXEC\r\n"),
        "+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n+OK\r\n:2\r\n"
    );
    assert_eq!(
        run_on(&mut a, "MULTI\r\nSET t 5\r\nGET\r\nEXEC\r\nGET t\r\n"),
        "+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'get' command\r\n\
         -EXECABORT Transaction discarded because of previous errors.\r\n$1\r\n2\r\n"
    );
    // WATCH, another connection writes, EXEC does nothing and says null.
    assert_eq!(run_on(&mut a, "WATCH t\r\n"), "+OK\r\n");
    assert_eq!(run_on(&mut b, "SET t theirs\r\n"), "+OK\r\n");
    assert_eq!(
        run_on(&mut a, "MULTI\r\nSET t mine\r\nEXEC\r\nGET t\r\n"),
        "+OK\r\n+QUEUED\r\n*-1\r\n$6\r\ntheirs\r\n"
    );
    // Unwatched after EXEC: the next transaction runs.
    assert_eq!(
        run_on(&mut a, "MULTI\r\nSET t mine\r\nEXEC\r\n"),
        "+OK\r\n+QUEUED\r\n*1\r\n+OK\r\n"
    );
    // Deletion and expiry count as changes; RESP3 says null as `_`.
    assert!(run_on(&mut a, "HELLO 3\r\nWATCH t\r\n").ends_with("+OK\r\n"));
    assert_eq!(run_on(&mut b, "PEXPIRE t 1\r\n"), ":1\r\n");
    std::thread::sleep(std::time::Duration::from_millis(5));
    assert_eq!(
        run_on(&mut a, "MULTI\r\nGET t\r\nEXEC\r\n"),
        "+OK\r\n+QUEUED\r\n_\r\n"
    );
    assert_eq!(
        run_on(
            &mut a,
            "EXEC\r\nDISCARD\r\nMULTI\r\nMULTI\r\nWATCH x\r\nDISCARD\r\n"
        ),
        "-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n+OK\r\n\
         -ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n+OK\r\n"
    );
}

#[test]
fn scan_keys_and_rename() {
    let s = new_server();
    assert_eq!(
        run(&s, "MSET user:1 a user:2 b other c\r\nKEYS user:[2]\r\nRENAME other x\r\nRENAME other y\r\nRENAMENX x user:1\r\n"),
        "+OK\r\n*1\r\n$6\r\nuser:2\r\n+OK\r\n-ERR no such key\r\n:0\r\n"
    );
    assert_eq!(
        run(
            &s,
            "SCAN 0 COUNT 100 MATCH x\r\nSCAN x\r\nSCAN 0 COUNT 0\r\n"
        ),
        "*2\r\n$1\r\n0\r\n*1\r\n$1\r\nx\r\n-ERR invalid cursor\r\n-ERR syntax error\r\n"
    );
}

#[test]
fn replies_past_the_output_limit_pause_execution_per_command() {
    let s = new_server();
    let big = "x".repeat(1000);
    run(&s, &format!("SET big {big}\r\n"));
    let input = b"GET big\r\nGET big\r\nGET big\r\nINCR n\r\n";
    let mut session = Session::default();
    session.set_limits(resp::MAX_REQUEST, 1500);
    let mut out = Vec::new();
    let step = session.serve(&s, input, &mut out);
    // The second reply crossed the limit: the rest waits, unexecuted.
    assert_eq!(step, Step::keep(18));
    assert_eq!(out.len(), 2 * (1000 + 9));
    out.clear();
    let step = session.serve(&s, &input[18..], &mut out);
    assert_eq!(step, Step::keep(input.len() - 18));
    assert!(out.ends_with(b":1\r\n"));
}

#[test]
fn a_command_over_the_request_limit_gets_an_error_and_closes() {
    let s = new_server();
    let mut session = Session::default();
    session.set_limits(64, OUTPUT_LIMIT);
    let mut out = Vec::new();
    let step = session.serve(
        &s,
        b"PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n",
        &mut out,
    );
    assert!(step.close);
    assert_eq!(
        out,
        b"+PONG\r\n-ERR Protocol error: request larger than 64 bytes\r\n"
    );
    // RESET keeps the limits.
    let mut out = Vec::new();
    let mut session = Session::default();
    session.set_limits(64, OUTPUT_LIMIT);
    session.serve(&s, b"RESET\r\n", &mut out);
    assert!(session.serve(&s, b"*1\r\n$100\r\n", &mut out).close);
}
