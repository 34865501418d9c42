//! ClusterIP allocation from `--service-cluster-ip-range`.
//!
//! Like upstream's allocator, the first and (for IPv4) last addresses of the
//! range are never handed out, and dynamic allocation prefers the upper part
//! of the range so the lower band stays free for Services that ask for a
//! fixed address (upstream reserves 1/16 of the range, 16 to 256 addresses).
//!
//! The set of taken addresses lives in memory; the Service strategy fills
//! it (see `ServiceStrategy` for how it survives restarts and deletes).

use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Mutex;

/// Why a requested address cannot be given to a Service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The address lies outside the configured range (or is its network or
    /// broadcast address).
    NotInRange,
    /// Another Service holds it.
    Taken,
}

/// One service CIDR and the addresses handed out from it.
pub struct Allocator {
    cidr: String,
    base: u128,
    is_v6: bool,
    /// Usable offsets are `1..=last`.
    last: u128,
    /// Offsets below this are preferred only for fixed requests.
    static_band: u128,
    /// Address offset to owner (`namespace/name`). A std mutex: held only for
    /// map lookups, never across an await.
    taken: Mutex<HashMap<u128, String>>,
}

impl Allocator {
    pub fn new(cidr: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid service cluster IP range {cidr:?}: want an address/prefix such as 10.96.0.0/12")
        };
        let (address, prefix) = cidr.split_once('/').ok_or_else(bad)?;
        let address: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let prefix: u32 = prefix.trim().parse().map_err(|_| bad())?;
        let (bits, value, is_v6) = match address {
            IpAddr::V4(a) => (32, u128::from(u32::from(a)), false),
            IpAddr::V6(a) => (128, u128::from(a), true),
        };
        if prefix > bits {
            return Err(bad());
        }
        let host_bits = bits - prefix;
        // A large IPv6 range is capped at 2^64 usable addresses.
        let size: u128 = 1u128 << host_bits.min(64);
        let last = if is_v6 {
            size - 1
        } else {
            size.saturating_sub(2)
        };
        if last < 1 {
            return Err(format!(
                "service cluster IP range {cidr:?} is too small to allocate from"
            ));
        }
        let mask = if host_bits >= 128 {
            0
        } else {
            !((1u128 << host_bits) - 1)
        };
        Ok(Allocator {
            cidr: cidr.to_string(),
            base: value & mask,
            is_v6,
            last,
            static_band: (size / 16).clamp(16, 256).min(last),
            taken: Mutex::new(HashMap::new()),
        })
    }

    /// The range as configured, for messages.
    pub fn cidr(&self) -> &str {
        &self.cidr
    }

    /// `IPv4` or `IPv6`, as `spec.ipFamilies` names it.
    pub fn family(&self) -> &'static str {
        if self.is_v6 {
            "IPv6"
        } else {
            "IPv4"
        }
    }

    fn offset(&self, ip: IpAddr) -> Option<u128> {
        let value = match (ip, self.is_v6) {
            (IpAddr::V4(a), false) => u128::from(u32::from(a)),
            (IpAddr::V6(a), true) => u128::from(a),
            _ => return None,
        };
        let offset = value.checked_sub(self.base)?;
        (1..=self.last).contains(&offset).then_some(offset)
    }

    fn address(&self, offset: u128) -> IpAddr {
        let value = self.base + offset;
        if self.is_v6 {
            IpAddr::V6(Ipv6Addr::from(value))
        } else {
            // The base and offset both come from a 32-bit range.
            IpAddr::V4(Ipv4Addr::from(value as u32))
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u128, String>> {
        // A panic while holding the lock leaves the map consistent (every
        // change is one insert), so a poisoned lock is still usable.
        self.taken.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `ip` could be given to `owner`: in range and free or already
    /// theirs.
    pub fn check(&self, ip: IpAddr, owner: &str) -> Result<(), Refusal> {
        let offset = self.offset(ip).ok_or(Refusal::NotInRange)?;
        match self.lock().get(&offset) {
            Some(holder) if holder != owner => Err(Refusal::Taken),
            _ => Ok(()),
        }
    }

    /// Gives `ip` to `owner`; succeeds again for the same owner.
    pub fn reserve(&self, ip: IpAddr, owner: &str) -> Result<(), Refusal> {
        let offset = self.offset(ip).ok_or(Refusal::NotInRange)?;
        let mut taken = self.lock();
        match taken.get(&offset) {
            Some(holder) if holder != owner => Err(Refusal::Taken),
            _ => {
                taken.insert(offset, owner.to_string());
                Ok(())
            }
        }
    }

    /// Frees `ip` if `owner` holds it.
    pub fn release(&self, ip: IpAddr, owner: &str) {
        if let Some(offset) = self.offset(ip) {
            let mut taken = self.lock();
            if taken.get(&offset).is_some_and(|holder| holder == owner) {
                taken.remove(&offset);
            }
        }
    }

    /// A free address for `owner`, chosen at random from the upper band
    /// first; None when the range is full.
    pub fn allocate(&self, owner: &str) -> Option<IpAddr> {
        let mut taken = self.lock();
        let upper = (self.static_band + 1)..=self.last;
        let lower = 1..=self.static_band;
        for band in [upper, lower] {
            if band.is_empty() {
                continue;
            }
            let (start, end) = (*band.start(), *band.end());
            let span = end - start + 1;
            let first = start + random() % span;
            // Probe at most this many addresses; a huge IPv6 band is never
            // full in practice.
            let probes = span.min(1 << 20);
            for step in 0..probes {
                let offset = start + (first - start + step) % span;
                if let std::collections::hash_map::Entry::Vacant(slot) = taken.entry(offset) {
                    slot.insert(owner.to_string());
                    return Some(self.address(offset));
                }
            }
        }
        None
    }
}

/// A random number from the process's hash seed; good enough to spread
/// allocations, with no generator dependency.
fn random() -> u128 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(0);
    u128::from(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_are_unique_and_in_range() {
        let a = Allocator::new("10.96.0.0/28").expect("valid range");
        let mut seen = std::collections::HashSet::new();
        for i in 0..14 {
            let ip = a.allocate(&format!("ns/s{i}")).expect("room left");
            assert!(seen.insert(ip), "{ip} handed out twice");
            assert_ne!(ip.to_string(), "10.96.0.0");
            assert_ne!(ip.to_string(), "10.96.0.15");
        }
        assert_eq!(a.allocate("ns/full"), None);
    }

    #[test]
    fn fixed_requests_are_checked() {
        let a = Allocator::new("10.96.0.0/12").expect("valid range");
        let ip: IpAddr = "10.96.0.10".parse().expect("ip");
        assert_eq!(a.reserve(ip, "kube-system/dns"), Ok(()));
        assert_eq!(a.reserve(ip, "kube-system/dns"), Ok(()));
        assert_eq!(a.reserve(ip, "default/other"), Err(Refusal::Taken));
        assert_eq!(a.check(ip, "default/other"), Err(Refusal::Taken));
        assert_eq!(a.check(ip, "kube-system/dns"), Ok(()));
        a.release(ip, "default/other");
        assert_eq!(a.check(ip, "default/other"), Err(Refusal::Taken));
        a.release(ip, "kube-system/dns");
        assert_eq!(a.check(ip, "default/other"), Ok(()));
        let outside: IpAddr = "192.168.0.1".parse().expect("ip");
        assert_eq!(a.reserve(outside, "default/x"), Err(Refusal::NotInRange));
    }

    #[test]
    fn malformed_ranges_are_refused() {
        assert!(Allocator::new("10.96.0.0").is_err());
        assert!(Allocator::new("10.96.0.0/33").is_err());
        assert!(Allocator::new("10.0.0.0/32").is_err());
        assert_eq!(Allocator::new("fd00::/108").map(|a| a.family()), Ok("IPv6"));
    }
}
