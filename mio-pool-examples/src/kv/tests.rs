//! Command tests through [`serve`]: replies, errors, pipelining, garbage.

use super::*;

/// Runs inline commands (one per line) and returns the replies.
fn run(store: &Store, input: &str) -> String {
    let mut out = Vec::new();
    let step = serve(
        store,
        &mut Parser::new(),
        input.as_bytes(),
        &mut out,
        usize::MAX,
    );
    assert_eq!(step.consumed, input.len(), "unconsumed input");
    String::from_utf8(out).unwrap()
}

#[test]
fn strings_and_counters() {
    let s = Store::new();
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
    let s = Store::new();
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
    let s = Store::new();
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
    let s = Store::new();
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
    let s = Store::new();
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
    let s = Store::new();
    assert_eq!(run(&s, "COMMAND DOCS\r\nCOMMAND\r\n"), "*0\r\n*0\r\n");
    assert_eq!(
        run(
            &s,
            "CONFIG GET save\r\nCONFIG GET appendonly\r\nCONFIG GET maxmemory\r\n"
        ),
        "*2\r\n$4\r\nsave\r\n$0\r\n\r\n*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n*0\r\n"
    );
}

#[test]
fn quit_replies_then_closes_and_ignores_the_rest() {
    let s = Store::new();
    let mut out = Vec::new();
    let input = b"PING\r\nQUIT\r\nSET late 1\r\n";
    let step = serve(&s, &mut Parser::new(), input, &mut out, usize::MAX);
    assert_eq!(step, Step::close(12));
    assert_eq!(out, b"+PONG\r\n+OK\r\n");
    assert_eq!(s.dbsize(), 0);
}

#[test]
fn pipelined_and_split_input() {
    let s = Store::new();
    let input: Vec<u8> = (0..10)
        .flat_map(|_| b"*2\r\n$4\r\nINCR\r\n$1\r\nc\r\n".iter().copied())
        .collect();
    // Feed it in 7-byte pieces, as a slow network would.
    let mut buf = Vec::new();
    let mut out = Vec::new();
    let mut parser = Parser::new();
    for piece in input.chunks(7) {
        buf.extend_from_slice(piece);
        let step = serve(&s, &mut parser, &buf, &mut out, usize::MAX);
        buf.drain(..step.consumed);
    }
    assert!(buf.is_empty());
    let expected: String = (1..=10).map(|i| format!(":{i}\r\n")).collect();
    assert_eq!(String::from_utf8(out).unwrap(), expected);
}

#[test]
fn a_protocol_error_replies_and_closes() {
    let s = Store::new();
    let mut out = Vec::new();
    let step = serve(
        &s,
        &mut Parser::new(),
        b"PING\r\n*1\r\n$x\r\nPING\r\n",
        &mut out,
        usize::MAX,
    );
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
        let step = serve(
            &Store::new(),
            &mut Parser::new(),
            &input,
            &mut whole,
            usize::MAX,
        );
        assert_eq!(
            step,
            Step::keep(input.len()),
            "{:?} -> {:?}",
            String::from_utf8_lossy(&input),
            String::from_utf8_lossy(&whole)
        );

        let store = Store::new();
        let (mut buf, mut pieces, mut pos) = (Vec::new(), Vec::new(), 0);
        let mut parser = Parser::new();
        while pos < input.len() {
            let n = 1 + below(16);
            buf.extend_from_slice(&input[pos..(pos + n).min(input.len())]);
            pos += n;
            let step = serve(&store, &mut parser, &buf, &mut pieces, usize::MAX);
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
    let store = Store::new();
    for _ in 0..3000 {
        let input: Vec<u8> = (0..below(120))
            .map(|_| alphabet[below(alphabet.len())])
            .collect();
        let mut out = Vec::new();
        let step = serve(&store, &mut Parser::new(), &input, &mut out, usize::MAX);
        assert!(step.consumed <= input.len());
    }
}

#[test]
fn replies_past_the_output_limit_pause_execution_per_command() {
    let s = Store::new();
    let big = "x".repeat(1000);
    run(&s, &format!("SET big {big}\r\n"));
    let input = b"GET big\r\nGET big\r\nGET big\r\nINCR n\r\n";
    let mut parser = Parser::new();
    let mut out = Vec::new();
    let step = serve(&s, &mut parser, input, &mut out, 1500);
    // The second reply crossed the limit: the rest waits, unexecuted.
    assert_eq!(step, Step::keep(18));
    assert_eq!(out.len(), 2 * (1000 + 9));
    out.clear();
    let step = serve(&s, &mut parser, &input[18..], &mut out, 1500);
    assert_eq!(step, Step::keep(input.len() - 18));
    assert!(out.ends_with(b":1\r\n"));
}

#[test]
fn a_command_over_the_request_limit_gets_an_error_and_closes() {
    let s = Store::new();
    let mut parser = Parser::new();
    parser.set_max_request(64);
    let mut out = Vec::new();
    let step = serve(
        &s,
        &mut parser,
        b"PING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$100\r\n",
        &mut out,
        usize::MAX,
    );
    assert!(step.close);
    assert_eq!(
        out,
        b"+PONG\r\n-ERR Protocol error: request larger than 64 bytes\r\n"
    );
}
