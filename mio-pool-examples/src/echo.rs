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
