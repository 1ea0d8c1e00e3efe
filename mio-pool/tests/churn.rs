//! Client churn: connect, one request, disconnect, many times over. Every
//! connection is accepted, served and closed; nothing leaks.

mod util;

use util::{client, echo_pool, round_trip, total, wait_stats};

fn churn(workers: usize) {
    let (addr, h) = echo_pool(workers);
    const CLIENTS: u64 = 300;
    for i in 0..CLIENTS {
        let mut c = client(addr);
        let msg = format!("client {i:04}");
        assert_eq!(round_trip(&mut c, msg.as_bytes()), msg.as_bytes());
    }
    // Each close reaches the handler as a read of 0 bytes: Ok(true).
    wait_stats(&h, "all connections closed", |s| {
        s.accepted == CLIENTS && s.closed == CLIENTS && s.open == 0
    });
    let stats = h.stats();
    assert_eq!(
        (stats.handler_errors, stats.panics, stats.accept_errors),
        (0, 0, 0)
    );
    assert_eq!(total(h.terminate()), 11 * CLIENTS as usize);
}

#[test]
fn churn_with_one_worker() {
    churn(1);
}

#[test]
fn churn_with_two_workers() {
    churn(2);
}
