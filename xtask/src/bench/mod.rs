//! `cargo xtask bench`: mio-pool against what users would pick instead.
//!
//! Every server does the same echo work with the same worker threads and
//! runs as its own release-built process: the `echo` example (mio-pool),
//! and the peers of [`crate::peer`] (tokio, a thread per connection, a bare
//! mio loop), and in TLS the `echo` example against a tokio-rustls peer
//! ([`tls`]). The uneven-work and big-transfer scenarios switch every echo
//! server to the bench request rule ([`crate::peer::requests`]) and add the
//! per-worker-loops peer. A closed-loop load generator in this process drives each
//! scenario ([`scenario`]); servers take turns, A B C D A B C D, and every
//! figure is also shown as a ratio to mio-pool's, since absolute figures
//! drift on a shared machine. External anchors ([`anchors`]) put the `http`
//! and `kv` examples next to nginx (HTTP and HTTPS) and redis-server when
//! those are installed.
//!
//! Output: a markdown table per scenario on stdout and in
//! `target/bench/report.md`, raw figures in `target/bench/report.json`, a
//! bar chart in `target/bench/chart.svg` and, where their scenarios ran,
//! curves of latency against load and of cost against connections and
//! message size ([`curves`]), server logs in `target/bench/logs/`.
//! `--charts-from report.json` draws the charts again from saved reports.
//!
//! `--quick` runs every scenario for a fraction of a second: a smoke test
//! for CI, with no thresholds. Every step is bounded in time, and a
//! watchdog ends the run (servers included) if it overruns anyway.

mod args;

/// Declares modules that exist only with the `bench` feature.
macro_rules! with_bench_feature {
    ($($module:ident),* $(,)?) => {
        $(#[cfg(feature = "bench")] mod $module;)*
    };
}

with_bench_feature!(
    anchors, chart, curves, latency, load, machine, perf, report, run, scenario, slowloris, stats,
    table, targets, tls, window,
);

pub use args::{BenchArgs, AFTER_HELP};

use std::process::ExitCode;

use crate::workspace::Workspace;

/// Runs the benchmark; see the module docs.
///
/// Without `--no-build` (and always in the light build, which has none of
/// the benchmark's code), it builds the servers and xtask in release mode,
/// with the `bench` feature, and hands the run over to that binary.
pub fn run(args: &BenchArgs) -> ExitCode {
    let ws = match Workspace::locate() {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.no_build {
        return ws.hand_over(true);
    }
    #[cfg(feature = "bench")]
    {
        if args.charts_from.is_empty() {
            measure(ws, args)
        } else {
            charts_from(&ws, args)
        }
    }
    #[cfg(not(feature = "bench"))]
    {
        eprintln!("xtask bench: this xtask was built without the `bench` feature; run `cargo xtask bench`");
        ExitCode::FAILURE
    }
}

/// The run itself, in the release build.
#[cfg(feature = "bench")]
fn measure(ws: Workspace, args: &BenchArgs) -> ExitCode {
    use crate::process::children;

    children::install_signal_handlers();
    let mut bench = match run::Bench::new(ws, args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    children::start_watchdog(bench.time_limit());
    if let Some(stand_in) = &args.server {
        bench.note(format!(
            "the mio-pool rows are a stand-in: `{stand_in}`, not the echo example"
        ));
    }
    let servers = echo_servers(&bench);
    let echo = scenario::echo_scenarios(bench.idle(), &bench.many());
    run_scenarios(&mut bench, &servers, echo);
    // Uneven work and big transfers, on servers in request mode.
    let request_servers = request_servers(&bench, &servers);
    run_scenarios(&mut bench, &request_servers, scenario::request_scenarios());
    latency::run(&mut bench, &servers);
    slowloris::run(&mut bench);
    tls::run(&mut bench);
    if args.no_anchors {
        bench.note("external anchors skipped (--no-anchors)".into());
    } else {
        anchors::http(&mut bench);
        anchors::redis(&mut bench);
    }
    bench.finish()
}

/// `--charts-from`: draws the charts of saved reports, measuring nothing.
#[cfg(feature = "bench")]
fn charts_from(ws: &Workspace, args: &BenchArgs) -> ExitCode {
    use crate::workspace::caller_path;

    let files: Vec<_> = args.charts_from.iter().map(|f| caller_path(f)).collect();
    let out = args
        .charts_to
        .as_deref()
        .map_or_else(|| ws.out_dir(), caller_path);
    let report = match report::read_merged(&files) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = std::fs::create_dir_all(&out) {
        eprintln!("xtask bench: {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    if run::write_charts(&report, &out) {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Runs `scenarios` on `servers`, taking turns within each round.
#[cfg(feature = "bench")]
fn run_scenarios(
    bench: &mut run::Bench,
    servers: &[crate::process::server::ServerSpec],
    scenarios: Vec<scenario::Scenario>,
) {
    let timing = *bench.timing();
    for sc in scenarios {
        if !bench.wanted(&sc.id) {
            continue;
        }
        let t = bench.add_table(&sc.id, &sc.title, sc.op, args::POOL);
        bench.in_rounds(&sc.id, servers, &[t], |bench, _, server, _| {
            vec![scenario::measure(server, sc.load, &timing, bench.perf())]
        });
    }
}

/// The echo servers switched to the bench request rule (the `echo`
/// example's `--bench-requests`, the peers' `--requests`), plus the
/// per-worker peer, which only these scenarios need. A `--server` stand-in
/// that is not a peer is kept as it is.
#[cfg(feature = "bench")]
fn request_servers(
    bench: &run::Bench,
    echo: &[crate::process::server::ServerSpec],
) -> Vec<crate::process::server::ServerSpec> {
    use crate::process::server::ServerSpec;

    let echo_bin = bench.release_bin("echo");
    let mut servers: Vec<ServerSpec> = echo.to_vec();
    let mut per_worker = ServerSpec::announcing(
        args::PER_WORKER,
        bench.release_bin("xtask"),
        &["peer", args::PER_WORKER],
        bench.args().workers,
    );
    per_worker.args.push("--requests".into());
    for spec in &mut servers {
        if spec.program == echo_bin {
            spec.args.insert(0, "--bench-requests".into());
        } else if spec.args.first().is_some_and(|a| a == "peer") {
            spec.args.push("--requests".into());
        }
    }
    servers.push(per_worker);
    servers
}

/// The echo servers, mio-pool first.
#[cfg(feature = "bench")]
fn echo_servers(bench: &run::Bench) -> Vec<crate::process::server::ServerSpec> {
    use crate::process::server::ServerSpec;
    use std::path::PathBuf;

    let xtask = bench.release_bin("xtask");
    let echo = bench.release_bin("echo");
    let args = bench.args();
    let workers = args.workers;
    let pool = match args.server.as_deref() {
        None => ServerSpec::announcing(args::POOL, echo.clone(), &[], workers),
        Some(spec) => match spec.strip_prefix("peer:") {
            Some(peer) => {
                ServerSpec::announcing(args::POOL, xtask.clone(), &["peer", peer], workers)
            }
            None => ServerSpec::announcing(args::POOL, PathBuf::from(spec), &[], workers),
        },
    };
    let mut servers = vec![pool];
    for v in &args.variant {
        let mut spec = ServerSpec::announcing(&v.name, echo.clone(), &[], workers);
        spec.args.extend(v.options.iter().cloned());
        servers.push(spec);
    }
    for peer in args::PEERS {
        servers.push(ServerSpec::announcing(
            peer,
            xtask.clone(),
            &["peer", peer],
            workers,
        ));
    }
    servers
}
