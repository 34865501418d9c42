//! Kubernetes' IP and CIDR libraries: `isIP`, `ip`, `ip.isCanonical`,
//! `family`, the `is…` address classes, `isCIDR`, `cidr`, `containsIP`,
//! `containsCIDR`, `ip()`, `masked`, `prefixLength`, and `string()` of
//! both. Parsing is as strict as upstream's: no zones, no IPv4-mapped IPv6
//! addresses, no leading zeros.

use cel::common::types::{CelBool, CelInt, CelString, Type};
use cel::common::value::{StaticVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use std::any::Any;
use std::net::IpAddr;

pub(crate) const IP_TYPE_NAME: &str = "net.IP";
pub(crate) const CIDR_TYPE_NAME: &str = "net.CIDR";
static IP_TYPE: Type = Type::new_unspecified_type(IP_TYPE_NAME);
static CIDR_TYPE: Type = Type::new_unspecified_type(CIDR_TYPE_NAME);

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(IP_TYPE.to_owned())?;
    env.add_type(CIDR_TYPE.to_owned())?;
    cel::add_overload!(env, fn is_ip: (CelString) -> CelBool, name = "isIP")?;
    cel::add_overload!(env, fn ip: (CelString) -> Result<Ip>)?;
    cel::add_overload!(env, fn is_canonical: (CelString) -> Result<CelBool>, name = "ip.isCanonical")?;
    cel::add_overload!(env, fn ip_string: (Ip) -> CelString, name = "string", id = "ip_to_string")?;
    cel::add_member_overload!(env, fn family: (Ip) -> CelInt)?;
    cel::add_member_overload!(env, fn is_unspecified: (Ip) -> CelBool)?;
    cel::add_member_overload!(env, fn is_loopback: (Ip) -> CelBool)?;
    cel::add_member_overload!(env, fn is_link_local_multicast: (Ip) -> CelBool)?;
    cel::add_member_overload!(env, fn is_link_local_unicast: (Ip) -> CelBool)?;
    cel::add_member_overload!(env, fn is_global_unicast: (Ip) -> CelBool)?;
    cel::add_overload!(env, fn is_cidr: (CelString) -> CelBool, name = "isCIDR")?;
    cel::add_overload!(env, fn cidr: (CelString) -> Result<Cidr>)?;
    cel::add_overload!(env, fn cidr_string: (Cidr) -> CelString, name = "string", id = "cidr_to_string")?;
    cel::add_member_overload!(env, fn contains_ip: (Cidr, Ip) -> CelBool, name = "containsIP")?;
    cel::add_member_overload!(env, fn contains_ip_string: (Cidr, CelString) -> Result<CelBool>,
        name = "containsIP")?;
    cel::add_member_overload!(env, fn contains_cidr: (Cidr, Cidr) -> CelBool, name = "containsCIDR")?;
    cel::add_member_overload!(env, fn contains_cidr_string: (Cidr, CelString) -> Result<CelBool>,
        name = "containsCIDR")?;
    cel::add_member_overload!(env, fn cidr_ip: (Cidr) -> Ip, name = "ip")?;
    cel::add_member_overload!(env, fn masked: (Cidr) -> Cidr)?;
    cel::add_member_overload!(env, fn prefix_length: (Cidr) -> CelInt)?;
    Ok(())
}

/// An IP address as upstream's library accepts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ip(IpAddr);

impl Ip {
    fn parse(text: &str) -> Result<Ip, String> {
        if text.contains('%') {
            return Err("IP address with zone value is not allowed".into());
        }
        let address: IpAddr = text
            .parse()
            .map_err(|_| format!("ParseAddr({text:?}): unable to parse IP"))?;
        if let IpAddr::V6(v6) = address {
            if v6.to_ipv4_mapped().is_some() {
                return Err("IPv4-mapped IPv6 address is not allowed".into());
            }
        }
        Ok(Ip(address))
    }
}

/// A prefix: an address and how many leading bits of it are fixed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    address: IpAddr,
    prefix: u8,
}

impl Cidr {
    fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || format!("netip.ParsePrefix({text:?}): bad prefix");
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("netip.ParsePrefix({text:?}): no '/'"))?;
        let address = Ip::parse(address)?.0;
        if prefix.is_empty()
            || prefix.len() > 1 && prefix.starts_with('0')
            || !prefix.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > bits(&address) {
            return Err(bad());
        }
        Ok(Cidr { address, prefix })
    }

    fn masked(&self) -> Cidr {
        Cidr {
            address: mask(self.address, self.prefix),
            prefix: self.prefix,
        }
    }

    fn contains(&self, address: IpAddr) -> bool {
        address.is_ipv4() == self.address.is_ipv4()
            && mask(address, self.prefix) == mask(self.address, self.prefix)
    }
}

fn bits(address: &IpAddr) -> u8 {
    if address.is_ipv4() {
        32
    } else {
        128
    }
}

/// `address` with every bit past the first `prefix` cleared.
fn mask(address: IpAddr, prefix: u8) -> IpAddr {
    let keep = |width: u32| -> u128 {
        let prefix = u32::from(prefix);
        if prefix == 0 {
            0
        } else {
            (u128::MAX << (width - prefix)) & (u128::MAX >> (128 - width))
        }
    };
    match address {
        IpAddr::V4(v4) => {
            let masked = u128::from(u32::from(v4)) & keep(32);
            IpAddr::from(u32::try_from(masked).unwrap_or_default().to_be_bytes())
        }
        IpAddr::V6(v6) => IpAddr::from((u128::from(v6) & keep(128)).to_be_bytes()),
    }
}

macro_rules! opaque_val {
    ($rust:ty, $cel:expr) => {
        impl Val for $rust {
            fn get_type(&self) -> &Type {
                &$cel
            }

            fn cel_type() -> &'static Type {
                &$cel
            }

            fn equals(&self, other: &dyn Val) -> bool {
                other.downcast_ref::<$rust>().is_some_and(|o| o == self)
            }

            fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
                Box::new(*self)
            }

            fn as_any(&self) -> Option<&dyn Any> {
                Some(self)
            }
        }

        impl StaticVal for $rust {}
    };
}

opaque_val!(Ip, IP_TYPE);
opaque_val!(Cidr, CIDR_TYPE);

fn is_ip(text: &CelString<'_>) -> CelBool {
    CelBool::from(Ip::parse(text.inner()).is_ok())
}

fn ip(text: &CelString<'_>) -> Result<Ip, ExecutionError> {
    Ip::parse(text.inner()).map_err(|e| {
        super::failure(
            "ip",
            format!(
                "IP Address {:?} parse error during conversion from string: {e}",
                text.inner()
            ),
        )
    })
}

fn is_canonical(text: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    let parsed = ip(text)?;
    Ok(CelBool::from(parsed.0.to_string() == text.inner()))
}

fn ip_string(address: &Ip) -> CelString<'static> {
    CelString::from(address.0.to_string())
}

fn family(address: &Ip) -> CelInt {
    CelInt::from(if address.0.is_ipv4() { 4 } else { 6 })
}

fn is_unspecified(address: &Ip) -> CelBool {
    CelBool::from(address.0.is_unspecified())
}

fn is_loopback(address: &Ip) -> CelBool {
    CelBool::from(address.0.is_loopback())
}

fn is_link_local_multicast(address: &Ip) -> CelBool {
    CelBool::from(match address.0 {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
    })
}

fn is_link_local_unicast(address: &Ip) -> CelBool {
    CelBool::from(match address.0 {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    })
}

/// Go's `IsGlobalUnicast`: anything but unspecified, loopback, multicast,
/// link-local and the IPv4 broadcast address.
fn is_global_unicast(address: &Ip) -> CelBool {
    let special = address.0.is_unspecified()
        || address.0.is_loopback()
        || address.0.is_multicast()
        || is_link_local_unicast(address).into_inner()
        || matches!(address.0, IpAddr::V4(v4) if v4.is_broadcast());
    CelBool::from(!special)
}

fn is_cidr(text: &CelString<'_>) -> CelBool {
    CelBool::from(Cidr::parse(text.inner()).is_ok())
}

fn cidr(text: &CelString<'_>) -> Result<Cidr, ExecutionError> {
    Cidr::parse(text.inner()).map_err(|e| {
        super::failure(
            "cidr",
            format!("network address parse error during conversion from string: {e}"),
        )
    })
}

fn cidr_string(prefix: &Cidr) -> CelString<'static> {
    CelString::from(format!("{}/{}", prefix.address, prefix.prefix))
}

fn contains_ip(prefix: &Cidr, address: &Ip) -> CelBool {
    CelBool::from(prefix.contains(address.0))
}

fn contains_ip_string(prefix: &Cidr, text: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    Ok(contains_ip(prefix, &ip(text)?))
}

fn contains_cidr(prefix: &Cidr, other: &Cidr) -> CelBool {
    CelBool::from(other.prefix >= prefix.prefix && prefix.contains(other.address))
}

fn contains_cidr_string(prefix: &Cidr, text: &CelString<'_>) -> Result<CelBool, ExecutionError> {
    Ok(contains_cidr(prefix, &cidr(text)?))
}

fn cidr_ip(prefix: &Cidr) -> Ip {
    Ip(prefix.address)
}

fn masked(prefix: &Cidr) -> Cidr {
    prefix.masked()
}

fn prefix_length(prefix: &Cidr) -> CelInt {
    CelInt::from(i64::from(prefix.prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsing_is_as_strict_as_upstream() {
        assert!(Ip::parse("192.168.0.1").is_ok());
        assert!(Ip::parse("::1").is_ok());
        assert!(Ip::parse("::ffff:1.2.3.4").is_err());
        assert!(Ip::parse("fe80::1%eth0").is_err());
        assert!(Ip::parse("01.2.3.4").is_err());
        assert!(Cidr::parse("10.0.0.0/8").is_ok());
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("10.0.0.0").is_err());
    }

    #[test]
    fn masks_and_containment() {
        let net = Cidr::parse("10.1.2.3/16").unwrap();
        assert_eq!(net.masked(), Cidr::parse("10.1.0.0/16").unwrap());
        assert!(net.contains("10.1.200.1".parse().unwrap()));
        assert!(!net.contains("10.2.0.1".parse().unwrap()));
        assert!(Cidr::parse("::/0")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
    }
}
