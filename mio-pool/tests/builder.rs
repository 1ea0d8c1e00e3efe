//! Builder options: thread names, events per poll, the stats handle.

mod util;

use std::collections::BTreeSet;
use std::io::{self, Read, Write};
use std::thread;

use mio_pool::PoolBuilder;
use util::{client, round_trip, wait_stats, within_hang};

/// Echoes, and remembers which worker thread served.
fn named_echo(c: &mut mio::net::TcpStream, names: &mut BTreeSet<String>) -> io::Result<bool> {
    let mut buf = [0u8; 256];
    let n = c.read(&mut buf)?;
    if n == 0 {
        return Ok(true);
    }
    c.write_all(&buf[..n])?;
    names.insert(thread::current().name().unwrap_or("?").to_owned());
    Ok(false)
}

fn worker_names(prefix: Option<&str>) -> BTreeSet<String> {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let mut builder = PoolBuilder::from(server).unwrap();
    if let Some(p) = prefix {
        builder = builder.set_thread_name_prefix(p);
    }
    let h = builder
        .with_state(BTreeSet::new())
        .and_return(|names| names)
        .run(3, named_echo);
    let mut c = client(addr);
    round_trip(&mut c, b"who");
    h.terminate().into_iter().flat_map(|r| r.unwrap()).collect()
}

#[test]
fn workers_are_named_prefix_and_index() {
    let names = worker_names(None);
    assert_eq!(names.len(), 1);
    let name = names.into_iter().next().unwrap();
    assert!(
        ["pool-0", "pool-1", "pool-2"].contains(&name.as_str()),
        "{name}"
    );

    let name = worker_names(Some("echo-")).into_iter().next().unwrap();
    assert!(
        ["echo-0", "echo-1", "echo-2"].contains(&name.as_str()),
        "{name}"
    );
}

#[test]
fn one_event_per_poll_still_serves_everyone() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = PoolBuilder::from(server)
        .unwrap()
        .set_events_per_poll(1)
        .with_state(Vec::new())
        .and_return(|v| v)
        .run(4, util::echo);
    let sent = within_hang("clients", move || {
        let clients: Vec<_> = (0..20)
            .map(|i| {
                thread::spawn(move || {
                    let mut c = client(addr);
                    let msg = format!("client {i:02}");
                    for _ in 0..50 {
                        assert_eq!(round_trip(&mut c, msg.as_bytes()), msg.as_bytes());
                    }
                    50 * msg.len()
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .sum::<usize>()
    });
    assert_eq!(util::total(h.terminate()), sent);
}

#[test]
fn the_stats_handle_from_the_builder_sees_the_running_pool() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let builder = PoolBuilder::from(server).unwrap();
    let stats = builder.stats_handle();
    let h = builder
        .with_state(Vec::new())
        .and_return(|v| v)
        .run(2, util::echo);
    for _ in 0..3 {
        let mut c = client(addr);
        round_trip(&mut c, b"count me");
    }
    wait_stats(&h, "three closed", |s| s.closed == 3);
    assert_eq!(stats.snapshot(), h.stats());
    assert_eq!(stats.snapshot().accepted, 3);
    h.terminate();
}
