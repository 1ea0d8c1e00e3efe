//! What xtask reads about a server process from `/proc`, and the
//! open-file limit it raises for itself and its children.

use std::fs;
use std::io;

/// CPU time and parent of one process, from `/proc/PID/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stat {
    /// Parent process id (field 4).
    pub ppid: u32,
    /// User-mode CPU time in clock ticks, all threads, live and exited (field 14).
    pub utime: u64,
    /// Kernel-mode CPU time in clock ticks (field 15).
    pub stime: u64,
}

/// Parses the text of `/proc/PID/stat`.
///
/// The second field is the command name in parentheses and may itself hold
/// spaces and parentheses, so fields are counted from the *last* `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // rest[0] is field 3 (state), so field n is rest[n - 3].
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        utime: fields.get(11)?.parse().ok()?,
        stime: fields.get(12)?.parse().ok()?,
    })
}

/// Reads and parses `/proc/PID/stat`.
pub fn stat(pid: u32) -> io::Result<Stat> {
    let text = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_stat(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "unparsable /proc/PID/stat"))
}

/// Parses the resident set size (`VmRSS`) out of `/proc/PID/status`, in bytes.
pub fn parse_rss(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let mut words = line["VmRSS:".len()..].split_whitespace();
    let value: u64 = words.next()?.parse().ok()?;
    match words.next() {
        Some("kB") | None => Some(value * 1024),
        Some(_) => None,
    }
}

/// Resident memory of a process in bytes.
pub fn rss(pid: u32) -> io::Result<u64> {
    let text = fs::read_to_string(format!("/proc/{pid}/status"))?;
    parse_rss(&text)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "no VmRSS in /proc/PID/status"))
}

/// Clock ticks per second, the unit of `utime` and `stime`.
pub fn clock_ticks() -> u64 {
    // SAFETY: sysconf only reads a configuration value.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if ticks > 0 {
        ticks as u64
    } else {
        100
    }
}

/// The process and its descendants (nginx serves from worker processes
/// forked by its master), found by scanning `/proc` for parent links.
pub fn tree(root: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            if let Ok(stat) = stat(pid) {
                parents.push((pid, stat.ppid));
            }
        }
    }
    descendants(root, &parents)
}

/// `root` followed by every process whose chain of parents in
/// `(pid, ppid)` pairs leads to it.
pub fn descendants(root: u32, parents: &[(u32, u32)]) -> Vec<u32> {
    let mut found = vec![root];
    let mut next = 0;
    while next < found.len() {
        let parent = found[next];
        found.extend(
            parents
                .iter()
                .filter(|&&(_, p)| p == parent)
                .map(|&(pid, _)| pid),
        );
        next += 1;
    }
    found
}

/// CPU time of a set of processes, split by mode, in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CpuTime {
    /// Time in user mode: the program's own code and its libraries.
    pub user: f64,
    /// Time in kernel mode: system calls, and the network stack's work
    /// charged to them (on loopback a `send` also delivers the segment).
    pub system: f64,
}

impl CpuTime {
    /// User plus system time.
    pub fn total(self) -> f64 {
        self.user + self.system
    }
}

impl std::ops::Add for CpuTime {
    type Output = CpuTime;

    fn add(self, other: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user + other.user,
            system: self.system + other.system,
        }
    }
}

impl std::ops::Sub for CpuTime {
    type Output = CpuTime;
    fn sub(self, earlier: CpuTime) -> CpuTime {
        CpuTime {
            user: self.user - earlier.user,
            system: self.system - earlier.system,
        }
    }
}

/// CPU time of a set of processes so far; processes that are gone are
/// skipped.
pub fn cpu_time(pids: &[u32]) -> CpuTime {
    let (user, system) = pids
        .iter()
        .filter_map(|&pid| stat(pid).ok())
        .fold((0u64, 0u64), |(u, s), st| (u + st.utime, s + st.stime));
    let hz = clock_ticks() as f64;
    CpuTime {
        user: user as f64 / hz,
        system: system as f64 / hz,
    }
}

/// Total resident memory of a set of processes, in bytes.
pub fn rss_sum(pids: &[u32]) -> u64 {
    pids.iter().filter_map(|&pid| rss(pid).ok()).sum()
}

/// Raises the soft open-file limit to the hard limit (children inherit it)
/// and returns the new soft limit.
pub fn raise_nofile() -> io::Result<u64> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        limit.rlim_cur = limit.rlim_max;
        // SAFETY: `limit` is a valid rlimit with soft <= hard.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(limit.rlim_cur)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_counts_fields_after_the_last_paren() {
        let text = "4242 (a (weird) name) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0 1234 1000000 500 18446744073709551615";
        assert_eq!(
            parse_stat(text),
            Some(Stat {
                ppid: 17,
                utime: 250,
                stime: 75
            })
        );
    }

    #[test]
    fn stat_rejects_truncated_text() {
        assert_eq!(parse_stat("1 (x) S 0 1"), None);
        assert_eq!(parse_stat("no parens at all"), None);
    }

    #[test]
    fn cpu_time_splits_user_and_system() {
        let later = CpuTime {
            user: 1.5,
            system: 4.0,
        };
        let earlier = CpuTime {
            user: 0.5,
            system: 1.0,
        };
        let spent = later - earlier;
        assert_eq!(
            spent,
            CpuTime {
                user: 1.0,
                system: 3.0
            }
        );
        assert_eq!(spent.total(), 4.0);
        let mine = cpu_time(&[std::process::id()]);
        assert!(mine.user >= 0.0 && mine.system >= 0.0);
    }

    #[test]
    fn stat_of_self_is_readable() {
        let me = stat(std::process::id()).expect("own stat");
        assert!(me.ppid > 0);
    }

    #[test]
    fn rss_reads_kilobytes() {
        let status = "Name:\txtask\nVmPeak:\t  9000 kB\nVmRSS:\t    1234 kB\nThreads:\t1\n";
        assert_eq!(parse_rss(status), Some(1234 * 1024));
        assert_eq!(parse_rss("Name:\tkthreadd\n"), None);
        assert!(rss(std::process::id()).expect("own rss") > 0);
    }

    #[test]
    fn descendants_follow_parent_links() {
        let parents = [(10, 1), (11, 10), (12, 10), (13, 11), (20, 1)];
        assert_eq!(descendants(10, &parents), vec![10, 11, 12, 13]);
        assert_eq!(descendants(20, &parents), vec![20]);
    }
}
