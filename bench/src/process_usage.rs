//! Resident memory, CPU time and TCP connections of a process, from /proc.

use std::collections::HashSet;

use crate::error::BenchError;

/// VmRSS of `pid` in KiB.
pub fn rss_kib(pid: u32) -> Result<u64, BenchError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    vm_rss_kib(&status)
        .ok_or_else(|| BenchError::Protocol(format!("no VmRSS line in /proc/{pid}/status")))
}

/// Reads the `VmRSS:   1234 kB` line of a /proc status file.
pub fn vm_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let mut words = line.split_whitespace().skip(1);
    let amount = words.next()?.parse().ok()?;
    (words.next()? == "kB").then_some(amount)
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// Clock ticks per second in /proc/PID/stat (USER_HZ, 100 on every Linux
/// architecture this runs on).
const TICKS_PER_SECOND: f64 = 100.0;

/// User plus system CPU time `pid` has used so far, in seconds.
pub fn cpu_seconds(pid: u32) -> Result<f64, BenchError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    stat_cpu_seconds(&stat).ok_or_else(|| BenchError::Protocol(format!("odd /proc/{pid}/stat")))
}

/// Reads utime and stime (fields 14 and 15) of a /proc stat line. The
/// command name (field 2) may hold spaces and parentheses, so counting
/// starts after its last `)`.
pub fn stat_cpu_seconds(stat: &str) -> Option<f64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / TICKS_PER_SECOND)
}

/// CPU time this tool and, when known, the server used during one phase,
/// to show whether the client took a large share of the machine.
pub struct CpuMeter {
    server_pid: Option<u32>,
    client_start: f64,
    server_start: Option<f64>,
}

impl CpuMeter {
    pub fn start(server_pid: Option<u32>) -> Self {
        Self {
            server_pid,
            client_start: cpu_seconds(std::process::id()).unwrap_or_default(),
            server_start: server_pid.and_then(|pid| cpu_seconds(pid).ok()),
        }
    }

    /// "cpu client 0.52 s, server 1.80 s" since `start`.
    pub fn describe(&self) -> String {
        let client = cpu_seconds(std::process::id()).unwrap_or_default() - self.client_start;
        let server = self
            .server_pid
            .and_then(|pid| cpu_seconds(pid).ok())
            .zip(self.server_start)
            .map(|(now, start)| format!(", server {:.2} s", now - start))
            .unwrap_or_default();
        format!("cpu client {client:.2} s{server}")
    }
}

/// How many established TCP connections `pid` holds to `port` on the
/// remote side: its sockets (the `socket:[INODE]` links in /proc/PID/fd)
/// found in /proc/net/tcp and tcp6.
pub fn connections_to(pid: u32, port: u16) -> Result<usize, BenchError> {
    let mut inodes = HashSet::new();
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd"))? {
        // A descriptor may close while we look; it no longer counts.
        let Ok(link) = std::fs::read_link(entry?.path()) else {
            continue;
        };
        if let Some(inode) = socket_inode(&link.to_string_lossy()) {
            inodes.insert(inode);
        }
    }
    let mut count = 0;
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        count += established_to(&text, port, &inodes);
    }
    Ok(count)
}

/// The inode of a `socket:[12345]` descriptor link.
fn socket_inode(link: &str) -> Option<u64> {
    link.strip_prefix("socket:[")?
        .strip_suffix(']')?
        .parse()
        .ok()
}

/// Counts the lines of a /proc/net/tcp table in state ESTABLISHED (`01`)
/// whose remote port is `port` and whose inode is one of `inodes`.
pub fn established_to(table: &str, port: u16, inodes: &HashSet<u64>) -> usize {
    table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(remote), Some(state), Some(inode)) =
                (fields.get(2), fields.get(3), fields.get(9))
            else {
                return false;
            };
            let remote_port = remote
                .rsplit(':')
                .next()
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            *state == "01"
                && remote_port == Some(port)
                && inode.parse().is_ok_and(|inode| inodes.contains(&inode))
        })
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_vm_rss() {
        let status =
            "Name:\tkube-apiserver\nVmPeak:\t  99999 kB\nVmRSS:\t   20480 kB\nThreads:\t4\n";
        assert_eq!(vm_rss_kib(status), Some(20480));
        assert_eq!(mib(20480), 20.0);
    }

    #[test]
    fn missing_or_odd_line_is_none() {
        assert_eq!(vm_rss_kib("Name:\tx\n"), None);
        assert_eq!(vm_rss_kib("VmRSS:\tlots\n"), None);
    }

    #[test]
    fn reads_cpu_time_after_the_command_name() {
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 4 0 100";
        assert_eq!(stat_cpu_seconds(stat), Some(3.0));
        assert_eq!(stat_cpu_seconds("42 (x) S 1"), None);
    }

    #[test]
    fn established_connections_to_a_port_are_counted_by_inode() {
        let table = "\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:9C40 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 111 1 0 20 4 30 10 -1
   1: 0100007F:9C41 0100007F:1F90 01 00000000:00000000 00:00000000 00000000  1000        0 222 1 0 20 4 30 10 -1
   2: 0100007F:9C42 0100007F:1F90 06 00000000:00000000 00:00000000 00000000  1000        0 333 1 0 20 4 30 10 -1
   3: 0100007F:1F90 0100007F:9C40 01 00000000:00000000 00:00000000 00000000  1000        0 444 1 0 20 4 30 10 -1
";
        let ours: HashSet<u64> = [111, 333, 444].into();
        // 0x1F90 = 8080: line 0 is ours and established; line 1 is not
        // ours, line 2 not established, line 3 the server's side.
        assert_eq!(established_to(table, 8080, &ours), 1);
        assert_eq!(socket_inode("socket:[111]"), Some(111));
        assert_eq!(socket_inode("pipe:[111]"), None);
    }

    #[test]
    fn own_process_has_rss() {
        assert!(rss_kib(std::process::id()).expect("own status") > 0);
    }
}
