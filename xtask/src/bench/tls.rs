//! The TLS scenarios (issue 10): the `echo` example with `--tls-cert` and
//! `--tls-key` against the tokio-rustls peer, both on rustls 0.23 with the
//! ring provider and the same certificate, driven by the rustls clients of
//! [`load::tls`](super::load::tls):
//!
//! | id | load | per operation |
//! |---|---|---|
//! | `tls-echo-64B-64c` | 64 TLS connections in 64-byte ping-pong | round trip |
//! | `tls-handshake` | connect, full handshake, one 64-byte round trip, close | connection |
//! | `tls-idle` | N idle TLS connections (1,000; `--quick`: 200), handshake and one round trip done | KiB of server RSS per connection |
//!
//! The HTTPS anchor ([`anchors`](super::anchors)) uses the same certificate
//! through [`TestCert`].

use std::fs;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use rustls::pki_types::CertificateDer;
use rustls::ClientConfig;

use super::anchors::TempDir;
use super::args::POOL;
use super::load::tls;
use super::run::Bench;
use super::scenario;
use super::stats::{Metric, Op};
use super::window::Measured;
use crate::process::procfs;
use crate::process::server::{RunningServer, ServerSpec};

/// Name of the peer's row.
pub const PEER: &str = "tokio-rustls";
/// Echo scenario id.
pub const ECHO: &str = "tls-echo-64B-64c";
/// Handshake scenario id.
pub const HANDSHAKE: &str = "tls-handshake";
/// Idle scenario id.
pub const IDLE: &str = "tls-idle";
/// Connections of the echo scenario.
const ECHO_CONNS: usize = 64;
/// Message size of every TLS scenario.
const SIZE: usize = 64;
/// Idle connections of the idle scenario (`--quick`: [`IDLE_QUICK`]).
const IDLE_CONNS: usize = 1000;
/// Idle connections with `--quick`.
const IDLE_QUICK: usize = 200;
/// Connections opened and closed before the idle scenario's first RSS
/// reading, so that worker threads, allocator arenas and the crypto code
/// are in place and only the per-connection cost is counted.
const IDLE_WARMUP: usize = 64;

/// A self-signed certificate for `localhost` (made with rcgen, ECDSA
/// P-256) in PEM files, and a client configuration that trusts it.
#[derive(Debug)]
pub struct TestCert {
    /// Holds the files; removed when dropped.
    dir: TempDir,
    /// The certificate in DER.
    der: CertificateDer<'static>,
}

impl TestCert {
    /// Makes the certificate and writes `cert.pem` and `key.pem` into a
    /// new temporary directory named after `name`.
    pub fn make(name: &str) -> Result<TestCert, String> {
        let made = rcgen::generate_simple_self_signed(vec![tls::SERVER_NAME.to_owned()])
            .map_err(|e| format!("making a certificate: {e}"))?;
        let dir = TempDir::new(name).map_err(|e| e.to_string())?;
        let cert = TestCert {
            dir,
            der: made.cert.der().clone(),
        };
        fs::write(cert.cert_path(), made.cert.pem()).map_err(|e| e.to_string())?;
        fs::write(cert.key_path(), made.signing_key.serialize_pem()).map_err(|e| e.to_string())?;
        Ok(cert)
    }

    /// The PEM certificate.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.path().join("cert.pem")
    }

    /// The PEM private key (PKCS#8).
    pub fn key_path(&self) -> PathBuf {
        self.dir.path().join("key.pem")
    }

    /// `--tls-cert CERT --tls-key KEY`, the options of the examples and the peer.
    pub fn options(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert_path().display().to_string(),
            "--tls-key".into(),
            self.key_path().display().to_string(),
        ]
    }

    /// A client configuration that trusts this certificate only.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, String> {
        tls::client_config(self.der.clone())
    }
}

/// Runs the TLS scenarios that `--only` wants, servers taking turns.
pub fn run(bench: &mut Bench) {
    let wanted: Vec<&str> = [ECHO, HANDSHAKE, IDLE]
        .into_iter()
        .filter(|id| bench.wanted(id))
        .collect();
    if wanted.is_empty() {
        return;
    }
    let setup = TestCert::make("tls").and_then(|cert| {
        let config = cert.client_config()?;
        Ok((cert, config))
    });
    let (cert, config) = match setup {
        Ok(s) => s,
        Err(e) => {
            for id in wanted {
                let t = bench.add_table(id, id, Op::ROUND_TRIP, POOL);
                bench.skip(t, format!("no TLS certificate: {e}"));
            }
            return;
        }
    };
    let servers = servers(bench, &cert);
    let timing = *bench.timing();
    let threads = timing.client_threads;
    let idle = if bench.args().quick {
        IDLE_QUICK
    } else {
        IDLE_CONNS
    };
    for id in wanted {
        let (title, op) = match id {
            ECHO => (
                format!("TLS echo: {SIZE}-byte ping-pong, {ECHO_CONNS} connections"),
                Op::ROUND_TRIP,
            ),
            HANDSHAKE => (
                format!(
                    "TLS handshakes: connect, full handshake, one {SIZE}-byte round trip, close ({} client threads)",
                    threads * 4
                ),
                Op::CONNECTION,
            ),
            _ => (
                format!("{idle} idle TLS connections (handshake and one round trip done)"),
                Op::CONNECTION,
            ),
        };
        let t = bench.add_table(id, &title, op, POOL);
        bench.in_rounds(id, &servers, &[t], |bench, _, server, _| {
            vec![match id {
                ECHO => scenario::measure_load(server, bench.perf(), &timing, |addr| {
                    tls::pingpong(addr, ECHO_CONNS, SIZE, &config)
                }),
                HANDSHAKE => scenario::measure_load(server, bench.perf(), &timing, |addr| {
                    tls::handshakes(addr, threads * 4, SIZE, &config)
                }),
                _ => measure_idle(server, idle, &config),
            }]
        });
    }
}

/// The two servers: the `echo` example and the peer, both in TLS with `cert`.
fn servers(bench: &Bench, cert: &TestCert) -> Vec<ServerSpec> {
    let workers = bench.args().workers;
    let mut pool = ServerSpec::announcing(POOL, bench.release_bin("echo"), &[], workers);
    let mut peer = ServerSpec::announcing(
        PEER,
        bench.release_bin("xtask"),
        &["peer", PEER],
        workers,
    );
    for spec in [&mut pool, &mut peer] {
        spec.args.extend(cert.options());
    }
    vec![pool, peer]
}

/// Opens `n` idle TLS connections to `server` and files the growth of its
/// RSS per connection (KiB), after [`IDLE_WARMUP`] connections opened and
/// closed first.
fn measure_idle(
    server: &mut RunningServer,
    n: usize,
    config: &Arc<ClientConfig>,
) -> Result<Measured, String> {
    let addr = server.addr;
    let pids = server.pids();
    let warm = tls::open_idle(addr, IDLE_WARMUP, SIZE, config)
        .map_err(|e| format!("warm-up connections: {e}"))?;
    for stream in warm {
        let _ = tls::close(stream);
    }
    let before = procfs::rss_sum(&pids);
    let started = Instant::now();
    let idle = tls::open_idle(addr, n, SIZE, config)
        .map_err(|e| format!("opening {n} idle TLS connections: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let after = procfs::rss_sum(&pids);
    if !server.is_running() {
        return Err("the server exited during the measurement".into());
    }
    let mut out = Measured::default();
    let per_conn = (after as f64 - before as f64) / idle.len() as f64 / 1024.0;
    out.figures.insert(Metric::IdleKibPerConn, per_conn);
    out.figures.insert(Metric::RssMib, after as f64 / (1 << 20) as f64);
    out.figures
        .insert(Metric::Throughput, idle.len() as f64 / seconds);
    drop(idle);
    Ok(out)
}
