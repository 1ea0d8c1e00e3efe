//! Arbitrary bytes, split where the first byte says, through one
//! `kv::Session` (and its `resp::Parser`), as a connection would feed them:
//! no panic, the held input stays within the request limit, and nothing
//! closes without a reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mio_pool_examples::kv::{Server, Session};
use mio_pool_examples::resp::MAX_INLINE;

const MAX_REQUEST: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let step_len = usize::from(split % 32) + 1;
    let server = Server::new(6380);
    let mut session = Session::default();
    session.set_limits(MAX_REQUEST, 1 << 16);
    let (mut start, mut end) = (0, 0);
    while end < input.len() {
        end = (end + step_len).min(input.len());
        let mut out = Vec::new();
        let step = session.serve(&server, &input[start..end], &mut out);
        assert!(step.consumed <= end - start);
        if step.close {
            assert!(!out.is_empty(), "closed without a reply");
            return;
        }
        start += step.consumed;
        let held = &input[start..end];
        if held.first() == Some(&b'*') {
            assert!(held.len() <= MAX_REQUEST, "held {} bytes", held.len());
        } else {
            assert!(held.len() <= MAX_INLINE + step_len);
        }
    }
});
