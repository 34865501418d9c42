//! Resident memory of the server process, from /proc/PID/status.

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
    fn own_process_has_rss() {
        assert!(rss_kib(std::process::id()).expect("own status") > 0);
    }
}
