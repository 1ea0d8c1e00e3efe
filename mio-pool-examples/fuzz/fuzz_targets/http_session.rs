//! Arbitrary bytes, split where the first byte says, through `http::serve`
//! with one `Session`, as a connection would feed them (flushing output
//! after each call): no panic, at most one head of input held, at most the
//! output limit plus one response queued per call.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mio_pool::PoolStats;
use mio_pool_examples::http::{self, Limits, Session};

fuzz_target!(|data: &[u8]| {
    let Some((&split, input)) = data.split_first() else {
        return;
    };
    let step_len = usize::from(split % 64) + 1;
    let limits = Limits {
        max_head: 512,
        max_body: 4096,
        max_output: 1024,
    };
    let mut session = Session::new();
    let (mut start, mut end) = (0, 0);
    while end < input.len() {
        end = (end + step_len).min(input.len());
        loop {
            let mut out = Vec::new();
            let step = http::serve(&mut session, &limits, &input[start..end], &mut out, PoolStats::default);
            assert!(step.consumed <= end - start);
            assert!(out.len() <= limits.max_output + 1024, "{} queued", out.len());
            start += step.consumed;
            if step.close {
                assert!(!out.is_empty(), "closed without a response");
                return;
            }
            if out.len() < limits.max_output || step.consumed == 0 {
                break;
            }
        }
        assert!(end - start <= limits.max_head + 1, "held {} bytes", end - start);
    }
});
