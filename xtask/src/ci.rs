//! `cargo xtask ci`: the checks that `.ci/run` runs, in the same order.

use std::process::{Command, ExitCode};

/// One check: cargo's arguments and extra environment.
struct Step {
    args: &'static [&'static str],
    env: &'static [(&'static str, &'static str)],
}

/// What `.ci/run` runs after installing the stock clients, in its order.
const STEPS: [Step; 8] = [
    Step {
        args: &["fmt", "--all", "--check"],
        env: &[],
    },
    Step {
        args: &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        env: &[],
    },
    Step {
        args: &["test", "--workspace"],
        env: &[],
    },
    Step {
        args: &["xtask", "bench", "--quick"],
        env: &[],
    },
    Step {
        args: &["xtask", "soak", "--quick"],
        env: &[],
    },
    // The library crates as crates.io would get them, in dependency order
    // (cargo builds mio-pool against the packaged mio-pool-poll).
    Step {
        args: &[
            "package",
            "-p",
            "mio-pool-poll",
            "-p",
            "mio-pool",
            "--allow-dirty",
        ],
        env: &[],
    },
    // The loom models, in a target directory of their own so that the
    // `--cfg loom` build does not invalidate the normal one.
    Step {
        args: &["test", "-p", "mio-pool-poll", "--lib", "--release", "loom"],
        env: &[
            ("RUSTFLAGS", "--cfg loom"),
            ("CARGO_TARGET_DIR", "target/loom"),
        ],
    },
    // The pool's (the connection cap's handshake), under a cfg of its own
    // so that the poller is built as itself, not as its loom model.
    Step {
        args: &["test", "-p", "mio-pool", "--lib", "--release", "loom"],
        env: &[
            ("RUSTFLAGS", "--cfg mio_pool_loom"),
            ("CARGO_TARGET_DIR", "target/loom-pool"),
        ],
    },
];

impl Step {
    /// The step as a shell line: `VAR="value" cargo args...`.
    fn line(&self) -> String {
        let shown: Vec<String> = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v:?} "))
            .collect();
        format!("{}cargo {}", shown.concat(), self.args.join(" "))
    }
}

/// The steps, one shell line each, for `cargo xtask ci --help`.
pub fn steps_help() -> String {
    let lines: Vec<String> = STEPS.iter().map(|s| format!("  {}", s.line())).collect();
    format!(
        "Runs, in this order, stopping at the first failure:\n{}",
        lines.join("\n")
    )
}

/// Runs the steps of `.ci/run` (format, lints, tests, the benchmark's smoke
/// test, the soak, packaging, the loom models), stopping at the first failure.
pub fn run() -> ExitCode {
    for step in &STEPS {
        let line = step.line();
        eprintln!("$ {line}");
        let status = Command::new(cargo())
            .args(step.args)
            .envs(step.env.iter().copied())
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => {
                eprintln!("xtask ci: `{line}` failed ({s})");
                return ExitCode::FAILURE;
            }
            Err(e) => {
                eprintln!("xtask ci: could not run cargo: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// The cargo that runs us (`$CARGO`), or the one on `PATH`.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `.ci/run` is the contract; this keeps `cargo xtask ci` in step with it.
    #[test]
    fn every_step_appears_in_ci_run() {
        let script = include_str!("../../.ci/run");
        for step in &STEPS {
            let command = format!("cargo {}", step.args.join(" "));
            assert!(script.contains(&command), "{command} is not in .ci/run");
        }
    }

    #[test]
    fn help_lists_every_step() {
        let help = steps_help();
        for step in &STEPS {
            assert!(help.contains(&step.line()), "{help}");
        }
    }
}
