//! The Redis serialization protocol: parsing client commands, and encoding
//! replies in RESP2 ([`simple`], [`bulk`]...) or, per connection, in the
//! version it asked for ([`Reply`]: RESP2 or RESP3).
//!
//! Clients send arrays of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`),
//! or inline commands (`GET k\r\n`). [`parse_command`] handles both, over a
//! read buffer that may hold a partial command or many pipelined ones:
//!
//! ```
//! use mio_pool_examples::resp::parse_command;
//!
//! let buf = b"*1\r\n$4\r\nPING\r\nECHO hi\r\n*2\r\n$3\r\nGET";
//! let (args, len) = parse_command(buf).unwrap().unwrap();
//! assert_eq!(args, [&b"PING"[..]]);
//! let (args, len2) = parse_command(&buf[len..]).unwrap().unwrap();
//! assert_eq!(args, [&b"ECHO"[..], b"hi"]);
//! // The third command is not all there yet.
//! assert_eq!(parse_command(&buf[len + len2..]), Ok(None));
//! ```

mod encode;
mod parse;
mod reply;

pub use encode::{array_len, bulk, bulk_or_null, error, integer, null, simple};
pub use parse::{
    parse_command, split_args, Args, Parser, ProtocolError, MAX_ARGS, MAX_BULK, MAX_INLINE,
    MAX_REQUEST,
};
pub use reply::{Proto, Reply};

#[cfg(test)]
mod tests;
