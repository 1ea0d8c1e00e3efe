//! Arbitrary bytes, split where the first bytes say, through `kv::serve`
//! with one `resp::Parser`, as a connection would feed them: no panic, the
//! held input stays within the request limit, and whatever is consumed in
//! pieces is consumed whole too.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mio_pool_examples::kv::{self, Store};
use mio_pool_examples::resp::{Parser, MAX_INLINE};

const MAX_REQUEST: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let step_len = usize::from(split % 32) + 1;
    let store = Store::new();
    let mut parser = Parser::new();
    parser.set_max_request(MAX_REQUEST);
    let (mut start, mut end) = (0, 0);
    while end < input.len() {
        end = (end + step_len).min(input.len());
        let mut out = Vec::new();
        let step = kv::serve(&store, &mut parser, &input[start..end], &mut out, 1 << 16);
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
