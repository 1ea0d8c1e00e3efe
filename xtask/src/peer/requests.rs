//! The bench request rule (`--requests`), the same in every server: the
//! uneven-work and big-transfer scenarios send 64-byte requests whose first
//! byte says what to do.
//!
//! | first byte | reply |
//! |---|---|
//! | `S` | spin [`SPIN`] of CPU (measured with `Instant`), then echo the request |
//! | `L` | `u32` little-endian in bytes 1..5 bytes (at most [`MAX_REPLY`]) |
//! | anything else | echo the request |
//!
//! The `echo` example implements the same rule behind `--bench-requests`.

use std::time::{Duration, Instant};

/// Length of every request, in bytes.
pub const REQUEST_LEN: usize = 64;

/// CPU time an `S` request costs before its reply.
pub const SPIN: Duration = Duration::from_millis(1);

/// Longest reply an `L` request gets: bounds a client's cost to the server.
pub const MAX_REPLY: usize = 1 << 20;

/// The bytes of every `L` reply.
static FILLER: [u8; MAX_REPLY] = [b'x'; MAX_REPLY];

/// Answers every whole request at the front of `input` into `out` and
/// removes them from `input`, leaving a partial one for the next read.
pub fn answer(input: &mut Vec<u8>, out: &mut Vec<u8>) {
    let whole = input.len() / REQUEST_LEN * REQUEST_LEN;
    for request in input[..whole].chunks_exact(REQUEST_LEN) {
        match request[0] {
            b'S' => {
                let started = Instant::now();
                while started.elapsed() < SPIN {
                    std::hint::spin_loop();
                }
                out.extend_from_slice(request);
            }
            b'L' => {
                let len = u32::from_le_bytes([request[1], request[2], request[3], request[4]]);
                out.extend_from_slice(&FILLER[..(len as usize).min(MAX_REPLY)]);
            }
            _ => out.extend_from_slice(request),
        }
    }
    input.drain(..whole);
}

/// One connection's request state: a partial request and a reply buffer.
#[derive(Debug, Default)]
pub struct Answerer {
    /// Bytes of a request not yet whole.
    input: Vec<u8>,
    /// The reply being built.
    out: Vec<u8>,
}

impl Answerer {
    /// The reply to `read`, the bytes just read (empty until a request is whole).
    pub fn reply(&mut self, read: &[u8]) -> &[u8] {
        self.input.extend_from_slice(read);
        self.out.clear();
        answer(&mut self.input, &mut self.out);
        &self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_answered_whole_and_by_their_first_byte() {
        let mut large = vec![0u8; REQUEST_LEN];
        large[0] = b'L';
        large[1..5].copy_from_slice(&1000u32.to_le_bytes());
        let mut spin = vec![7u8; REQUEST_LEN];
        spin[0] = b'S';
        let mut input = [vec![1u8; REQUEST_LEN], large, spin.clone(), vec![2u8; 10]].concat();
        let mut out = Vec::new();
        let started = Instant::now();
        answer(&mut input, &mut out);
        assert!(started.elapsed() >= SPIN);
        assert_eq!(input, vec![2u8; 10], "the partial request waits");
        assert_eq!(out.len(), REQUEST_LEN + 1000 + REQUEST_LEN);
        assert_eq!(&out[..REQUEST_LEN], &[1u8; REQUEST_LEN][..]);
        assert!(out[REQUEST_LEN..REQUEST_LEN + 1000]
            .iter()
            .all(|&b| b == b'x'));
        assert_eq!(&out[REQUEST_LEN + 1000..], &spin[..]);
    }

    #[test]
    fn a_large_reply_is_capped() {
        let mut input = vec![0u8; REQUEST_LEN];
        input[0] = b'L';
        input[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut out = Vec::new();
        answer(&mut input, &mut out);
        assert_eq!(out.len(), MAX_REPLY);
    }
}
