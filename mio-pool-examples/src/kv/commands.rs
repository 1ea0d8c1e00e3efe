//! The command table of the `kv` server: each command's name, arity, flags
//! and code, and the error replies they share, worded as Redis words them.

use super::{connection, keyspace, strings, transaction, Server, Session};
use crate::resp::Reply;

/// What the connection does after a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Keep serving.
    Continue,
    /// Close once the reply is sent (`QUIT`).
    Close,
}

/// What a command runs with.
#[derive(Debug)]
pub struct Ctx<'a> {
    /// The state every connection shares.
    pub server: &'a Server,
    /// This connection's state.
    pub session: &'a mut Session,
    /// Where the reply goes.
    pub out: Reply<'a>,
}

/// The code of a command: `args[0]` is its name; the arity is checked.
pub(crate) type Run = fn(&mut Ctx<'_>, &[&[u8]]) -> Outcome;

/// Runs with the store gate held shared (see `Store`'s locking notes):
/// every command that reads or writes keys.
pub(crate) const KEYS: u8 = 1;
/// Runs at once even inside `MULTI` (it is not queued): `EXEC`, `DISCARD`,
/// `MULTI`, `WATCH`, `QUIT`, `RESET`, as in Redis.
pub(crate) const TX_CONTROL: u8 = 2;

/// A command: its lower-case name, Redis-style arity (exact count including
/// the name when positive, minimum when negative), flags, the positions of
/// its first and last key and the step between keys (for `COMMAND INFO`;
/// last `-1` means the last argument), its group, the syntax of its
/// arguments and a one-line summary (for `COMMAND DOCS`), and its code.
#[derive(Debug)]
pub(crate) struct Spec {
    pub name: &'static str,
    pub arity: i32,
    pub flags: u8,
    pub keys: (i32, i32, i32),
    pub group: &'static str,
    pub syntax: &'static str,
    pub summary: &'static str,
    pub run: Run,
}

macro_rules! spec {
    ($name:literal, $arity:expr, $flags:expr, $keys:expr, $group:literal, $syntax:literal, $summary:literal, $run:expr) => {
        Spec {
            name: $name,
            arity: $arity,
            flags: $flags,
            keys: $keys,
            group: $group,
            syntax: $syntax,
            summary: $summary,
            run: $run,
        }
    };
}

const NO_KEYS: (i32, i32, i32) = (0, 0, 0);
const ONE_KEY: (i32, i32, i32) = (1, 1, 1);
const ALL_KEYS: (i32, i32, i32) = (1, -1, 1);

/// Every command the server knows.
pub(crate) const COMMANDS: &[Spec] = &[
    // Strings.
    spec!("get", 2, KEYS, ONE_KEY, "string", "key", "Returns the string value of a key.", strings::get),
    spec!("set", -3, KEYS, ONE_KEY, "string", "key value [NX|XX] [GET] [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|KEEPTTL]", "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.", strings::set),
    spec!("setnx", 3, KEYS, ONE_KEY, "string", "key value", "Set the string value of a key only when the key doesn't exist.", strings::setnx),
    spec!("setex", 4, KEYS, ONE_KEY, "string", "key seconds value", "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.", strings::setex),
    spec!("psetex", 4, KEYS, ONE_KEY, "string", "key milliseconds value", "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.", strings::psetex),
    spec!("getset", 3, KEYS, ONE_KEY, "string", "key value", "Returns the previous string value of a key after setting it to a new value.", strings::getset),
    spec!("getdel", 2, KEYS, ONE_KEY, "string", "key", "Returns the string value of a key after deleting the key.", strings::getdel),
    spec!("getex", -2, KEYS, ONE_KEY, "string", "key [EX seconds|PX milliseconds|EXAT unix-time-seconds|PXAT unix-time-milliseconds|PERSIST]", "Returns the string value of a key after setting its expiration time.", strings::getex),
    spec!("append", 3, KEYS, ONE_KEY, "string", "key value", "Appends a string to the value of a key. Creates the key if it doesn't exist.", strings::append),
    spec!("strlen", 2, KEYS, ONE_KEY, "string", "key", "Returns the length of a string value.", strings::strlen),
    spec!("getrange", 4, KEYS, ONE_KEY, "string", "key start end", "Returns a substring of the string stored at a key.", strings::getrange),
    spec!("setrange", 4, KEYS, ONE_KEY, "string", "key offset value", "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.", strings::setrange),
    spec!("incr", 2, KEYS, ONE_KEY, "string", "key", "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", strings::incr),
    spec!("incrby", 3, KEYS, ONE_KEY, "string", "key increment", "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.", strings::incrby),
    spec!("decr", 2, KEYS, ONE_KEY, "string", "key", "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.", strings::decr),
    spec!("decrby", 3, KEYS, ONE_KEY, "string", "key decrement", "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.", strings::decrby),
    spec!("incrbyfloat", 3, KEYS, ONE_KEY, "string", "key increment", "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.", strings::incrbyfloat),
    spec!("mget", -2, KEYS, ALL_KEYS, "string", "key [key ...]", "Atomically returns the string values of one or more keys.", strings::mget),
    spec!("mset", -3, KEYS, (1, -1, 2), "string", "key value [key value ...]", "Atomically creates or modifies the string values of one or more keys.", strings::mset),
    spec!("msetnx", -3, KEYS, (1, -1, 2), "string", "key value [key value ...]", "Atomically modifies the string values of one or more keys only when all keys don't exist.", strings::msetnx),
    // Keys.
    spec!("del", -2, KEYS, ALL_KEYS, "generic", "key [key ...]", "Deletes one or more keys.", keyspace::del),
    spec!("unlink", -2, KEYS, ALL_KEYS, "generic", "key [key ...]", "Asynchronously deletes one or more keys.", keyspace::del),
    spec!("exists", -2, KEYS, ALL_KEYS, "generic", "key [key ...]", "Determines whether one or more keys exist.", keyspace::exists),
    spec!("type", 2, KEYS, ONE_KEY, "generic", "key", "Determines the type of value stored at a key.", keyspace::type_),
    spec!("expire", -3, KEYS, ONE_KEY, "generic", "key seconds [NX|XX|GT|LT]", "Sets the expiration time of a key in seconds.", keyspace::expire),
    spec!("pexpire", -3, KEYS, ONE_KEY, "generic", "key milliseconds [NX|XX|GT|LT]", "Sets the expiration time of a key in milliseconds.", keyspace::pexpire),
    spec!("expireat", -3, KEYS, ONE_KEY, "generic", "key unix-time-seconds [NX|XX|GT|LT]", "Sets the expiration time of a key to a Unix timestamp.", keyspace::expireat),
    spec!("pexpireat", -3, KEYS, ONE_KEY, "generic", "key unix-time-milliseconds [NX|XX|GT|LT]", "Sets the expiration time of a key to a Unix milliseconds timestamp.", keyspace::pexpireat),
    spec!("ttl", 2, KEYS, ONE_KEY, "generic", "key", "Returns the expiration time in seconds of a key.", keyspace::ttl),
    spec!("pttl", 2, KEYS, ONE_KEY, "generic", "key", "Returns the expiration time in milliseconds of a key.", keyspace::pttl),
    spec!("persist", 2, KEYS, ONE_KEY, "generic", "key", "Removes the expiration time of a key.", keyspace::persist),
    spec!("keys", 2, KEYS, NO_KEYS, "generic", "pattern", "Returns all key names that match a pattern.", keyspace::keys),
    spec!("scan", -2, KEYS, NO_KEYS, "generic", "cursor [MATCH pattern] [COUNT count] [TYPE type]", "Iterates over the key names in the database.", keyspace::scan),
    spec!("randomkey", 1, KEYS, NO_KEYS, "generic", "", "Returns a random key name from the database.", keyspace::randomkey),
    spec!("rename", 3, KEYS, (1, 2, 1), "generic", "key newkey", "Renames a key and overwrites the destination.", keyspace::rename),
    spec!("renamenx", 3, KEYS, (1, 2, 1), "generic", "key newkey", "Renames a key only when the target key name doesn't exist.", keyspace::renamenx),
    spec!("dbsize", 1, KEYS, NO_KEYS, "server", "", "Returns the number of keys in the database.", keyspace::dbsize),
    spec!("flushdb", -1, KEYS, NO_KEYS, "server", "[ASYNC|SYNC]", "Remove all keys from the current database.", keyspace::flush),
    spec!("flushall", -1, KEYS, NO_KEYS, "server", "[ASYNC|SYNC]", "Removes all keys from all databases.", keyspace::flush),
    // Transactions.
    spec!("multi", 1, TX_CONTROL, NO_KEYS, "transactions", "", "Starts a transaction.", transaction::multi),
    spec!("exec", 1, TX_CONTROL, NO_KEYS, "transactions", "", "Executes all commands in a transaction.", transaction::exec),
    spec!("discard", 1, TX_CONTROL, NO_KEYS, "transactions", "", "Discards a transaction.", transaction::discard),
    spec!("watch", -2, TX_CONTROL | KEYS, ALL_KEYS, "transactions", "key [key ...]", "Monitors changes to keys to determine the execution of a transaction.", transaction::watch),
    spec!("unwatch", 1, 0, NO_KEYS, "transactions", "", "Forgets about watched keys of a transaction.", transaction::unwatch),
    // Connection and server.
    spec!("ping", -1, 0, NO_KEYS, "connection", "[message]", "Returns the server's liveliness response.", connection::ping),
    spec!("echo", 2, 0, NO_KEYS, "connection", "message", "Returns the given string.", connection::echo),
    spec!("hello", -1, 0, NO_KEYS, "connection", "[protover [AUTH username password] [SETNAME clientname]]", "Handshakes with the Redis server.", connection::hello),
    spec!("client", -2, 0, NO_KEYS, "connection", "ID|GETNAME|SETNAME connection-name|SETINFO LIB-NAME|LIB-VER value|INFO", "A container for client connection commands.", connection::client),
    spec!("select", 2, 0, NO_KEYS, "connection", "index", "Changes the selected database.", connection::select),
    spec!("quit", -1, TX_CONTROL, NO_KEYS, "connection", "", "Closes the connection.", connection::quit),
    spec!("reset", 1, TX_CONTROL, NO_KEYS, "connection", "", "Resets the connection.", connection::reset),
    spec!("info", -1, KEYS, NO_KEYS, "server", "[section [section ...]]", "Returns information and statistics about the server.", connection::info),
    spec!("command", -1, 0, NO_KEYS, "server", "[COUNT|LIST|INFO [command-name ...]|DOCS [command-name ...]]", "Returns detailed information about all commands.", connection::command),
    spec!("config", -2, 0, NO_KEYS, "server", "GET parameter [parameter ...]", "A container for server configuration commands.", connection::config),
];

/// The command called `name`, in any case.
pub(crate) fn lookup(name: &[u8]) -> Option<&'static Spec> {
    COMMANDS
        .iter()
        .find(|c| c.name.as_bytes().eq_ignore_ascii_case(name))
}

/// Whether `n` arguments (the name included) fit `arity`.
pub(crate) fn arity_ok(arity: i32, n: usize) -> bool {
    let n = n as i64;
    let arity = i64::from(arity);
    (arity > 0 && n == arity) || (arity < 0 && n >= -arity)
}

/// The error for a command that does not exist or gets the wrong number of
/// arguments, as Redis words it; `None` if `args` may run.
pub(crate) fn check(args: &[&[u8]]) -> Result<&'static Spec, String> {
    match lookup(args[0]) {
        None => Err(unknown_command(args)),
        Some(spec) if !arity_ok(spec.arity, args.len()) => Err(wrong_arity(spec.name)),
        Some(spec) => Ok(spec),
    }
}

/// How much of each argument an error message quotes.
const QUOTE: usize = 128;

fn quote(b: &[u8]) -> String {
    String::from_utf8_lossy(&b[..b.len().min(QUOTE)]).into_owned()
}

/// Redis's reply to an unknown command: the name cut to 128 bytes, then
/// the arguments quoted one after another until the quoted text reaches
/// 128 bytes, the last one cut to fit (so the reply stays short, whatever
/// the command's size).
pub(crate) fn unknown_command(args: &[&[u8]]) -> String {
    let mut quoted = String::new();
    for a in &args[1..] {
        if quoted.len() >= QUOTE {
            break;
        }
        let room = QUOTE - quoted.len();
        quoted.push_str(&format!("'{}' ", quote(&a[..a.len().min(room)])));
    }
    format!(
        "ERR unknown command '{}', with args beginning with: {quoted}",
        quote(args[0])
    )
}

/// `ERR wrong number of arguments for 'name' command`; `name` is
/// `command|subcommand` for a subcommand.
pub(crate) fn wrong_arity(name: &str) -> String {
    format!("ERR wrong number of arguments for '{name}' command")
}

/// `ERR unknown subcommand 'x'. Try CMD HELP.`
pub(crate) fn unknown_subcommand(cmd: &str, sub: &[u8]) -> String {
    format!("ERR unknown subcommand '{}'. Try {cmd} HELP.", quote(sub))
}

/// The reply to a value that should be an integer.
pub(crate) const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
/// The reply to arguments in a wrong order or combination.
pub(crate) const SYNTAX: &str = "ERR syntax error";

impl Ctx<'_> {
    /// Replies `msg` as an error and goes on.
    pub(crate) fn error(&mut self, msg: &str) -> Outcome {
        self.out.error(msg);
        Outcome::Continue
    }

    /// Replies `+OK` and goes on.
    pub(crate) fn ok(&mut self) -> Outcome {
        self.out.ok();
        Outcome::Continue
    }

    /// Replies an integer and goes on.
    pub(crate) fn integer(&mut self, n: i64) -> Outcome {
        self.out.integer(n);
        Outcome::Continue
    }

    /// Parses an integer argument, replying [`NOT_INTEGER`] if it is not.
    pub(crate) fn int_arg(&mut self, arg: &[u8]) -> Option<i64> {
        let n = super::numbers::parse_i64(arg);
        if n.is_none() {
            self.out.error(NOT_INTEGER);
        }
        n
    }
}
