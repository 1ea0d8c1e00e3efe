//! The `echo` server's protocol: every byte received is sent back.

use mio_pool::Step;

/// Appends all of `input` to `out` and consumes it.
///
/// ```
/// let mut out = Vec::new();
/// let step = mio_pool_examples::echo::serve(b"hi", &mut out);
/// assert_eq!((step.consumed, step.close, &out[..]), (2, false, &b"hi"[..]));
/// ```
pub fn serve(input: &[u8], out: &mut Vec<u8>) -> Step {
    out.extend_from_slice(input);
    Step::keep(input.len())
}

/// Length of a request of [`serve_requests`], in bytes.
pub const REQUEST_LEN: usize = 64;

/// CPU time an `S` request of [`serve_requests`] costs before its reply.
pub const SPIN: std::time::Duration = std::time::Duration::from_millis(1);

/// Longest reply an `L` request of [`serve_requests`] gets, in bytes.
pub const MAX_REPLY: usize = 1 << 20;

/// The bench request rule (`echo --bench-requests`, for `cargo xtask
/// bench`'s uneven-work and big-transfer scenarios; every peer server there
/// answers by the same rule): `input` is 64-byte requests, each answered by
/// its first byte. `S`: spin 1 ms of CPU, then echo the request. `L`: reply
/// with as many bytes as the `u32` little-endian in bytes 1..5 says, at most
/// [`MAX_REPLY`]. Anything else: echo. A partial request is left unconsumed.
///
/// ```
/// use mio_pool_examples::echo::{serve_requests, REQUEST_LEN};
/// let mut large = [0u8; REQUEST_LEN];
/// large[0] = b'L';
/// large[1..5].copy_from_slice(&100u32.to_le_bytes());
/// let mut input = large.to_vec();
/// input.extend_from_slice(&[1, 2, 3]); // the start of the next request
/// let mut out = Vec::new();
/// let step = serve_requests(&input, &mut out);
/// assert_eq!((step.consumed, out.len()), (REQUEST_LEN, 100));
/// ```
pub fn serve_requests(input: &[u8], out: &mut Vec<u8>) -> Step {
    let whole = input.len() / REQUEST_LEN * REQUEST_LEN;
    for request in input[..whole].chunks_exact(REQUEST_LEN) {
        match request[0] {
            b'S' => {
                let started = std::time::Instant::now();
                while started.elapsed() < SPIN {
                    std::hint::spin_loop();
                }
                out.extend_from_slice(request);
            }
            b'L' => {
                let len = u32::from_le_bytes([request[1], request[2], request[3], request[4]]);
                let len = usize::try_from(len).map_or(MAX_REPLY, |n| n.min(MAX_REPLY));
                out.resize(out.len() + len, b'x');
            }
            _ => out.extend_from_slice(request),
        }
    }
    Step::keep(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_requests_cost_their_cpu_and_echo() {
        let mut input = vec![b'S'; REQUEST_LEN];
        input.extend_from_slice(&[9; REQUEST_LEN]);
        let mut out = Vec::new();
        let started = std::time::Instant::now();
        let step = serve_requests(&input, &mut out);
        assert!(started.elapsed() >= SPIN);
        assert_eq!((step.consumed, &out[..]), (2 * REQUEST_LEN, &input[..]));
    }

    #[test]
    fn large_replies_are_capped() {
        let mut input = vec![0u8; REQUEST_LEN];
        input[0] = b'L';
        input[1..5].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut out = Vec::new();
        serve_requests(&input, &mut out);
        assert_eq!(out.len(), MAX_REPLY);
    }
}
