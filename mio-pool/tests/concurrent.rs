//! Many clients at once on many workers: every byte is echoed exactly once
//! and every worker's state comes back from `terminate`.

mod util;

use std::thread;

use util::{client, echo_pool, round_trip, total, within_hang};

#[test]
fn fifty_clients_on_ten_workers() {
    let (addr, h) = echo_pool(10);
    const CLIENTS: usize = 50;
    const ROUNDS: usize = 100;
    let sent = within_hang("50 clients", move || {
        let clients: Vec<_> = (0..CLIENTS)
            .map(|i| {
                thread::spawn(move || {
                    let mut c = client(addr);
                    let mut sent = 0;
                    for r in 0..ROUNDS {
                        let msg = format!("client {i} round {r}");
                        assert_eq!(round_trip(&mut c, msg.as_bytes()), msg.as_bytes());
                        sent += msg.len();
                    }
                    sent
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .sum::<usize>()
    });
    let results = h.terminate();
    assert_eq!(results.len(), 10, "one result per worker");
    assert_eq!(total(results), sent);
}
