//! Subnets in CIDR form, IPv4 (`10.89.0.0/16`, [`Subnet`]) and IPv6 (`fd12::/64`,
//! [`Subnet6`]): parsing, membership, the n-th address, the choice of a default IPv4
//! subnet that no route of the host already covers, and a network's unique local IPv6
//! prefix.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IPv4 network: its first address and prefix length (host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Subnet {
    pub fn new(addr: Ipv4Addr, prefix: u8) -> Result<Subnet> {
        if prefix > 30 {
            return Err(Error::Invalid(format!(
                "subnet {addr}/{prefix}: a prefix of at most 30 leaves room for hosts"
            )));
        }
        let s = Subnet { addr, prefix };
        if s.network() != addr {
            return Err(Error::Invalid(format!(
                "subnet {addr}/{prefix}: host bits are set (the network is {}/{prefix})",
                s.network()
            )));
        }
        Ok(s)
    }

    fn mask(&self) -> u32 {
        if self.prefix == 0 {
            0
        } else {
            u32::MAX << (32 - self.prefix)
        }
    }

    fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask() == u32::from(self.addr)
    }

    /// Whether the two share any address.
    pub fn overlaps(&self, other: &Subnet) -> bool {
        let m = self.mask() & other.mask();
        u32::from(self.addr) & m == u32::from(other.addr) & m
    }

    /// The `n`-th address (0 is the network's own address).
    pub fn nth(&self, n: u32) -> Option<Ipv4Addr> {
        (n < self.size()).then(|| Ipv4Addr::from(u32::from(self.addr) + n))
    }

    /// How many addresses it spans.
    pub fn size(&self) -> u32 {
        if self.prefix == 0 {
            u32::MAX
        } else {
            1u32 << (32 - self.prefix)
        }
    }

    /// The index of `ip` in it.
    pub fn index(&self, ip: Ipv4Addr) -> Option<u32> {
        self.contains(ip).then(|| u32::from(ip) - u32::from(self.addr))
    }

    /// The broadcast address (the last).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet {
    type Err = Error;
    fn from_str(s: &str) -> Result<Subnet> {
        let bad = || Error::Invalid(format!("invalid subnet {s:?}: want an IPv4 CIDR such as 10.89.0.0/16"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Subnet::new(addr, prefix)
    }
}

impl Serialize for Subnet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Subnet, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// An IPv6 network: its first address and prefix length (host bits zero).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet6 {
    pub addr: Ipv6Addr,
    pub prefix: u8,
}

impl Subnet6 {
    pub fn new(addr: Ipv6Addr, prefix: u8) -> Result<Subnet6> {
        if prefix > 126 {
            return Err(Error::Invalid(format!(
                "subnet {addr}/{prefix}: a prefix of at most 126 leaves room for hosts"
            )));
        }
        let s = Subnet6 { addr, prefix };
        let net = Ipv6Addr::from(u128::from(addr) & s.mask());
        if net != addr {
            return Err(Error::Invalid(format!(
                "subnet {addr}/{prefix}: host bits are set (the network is {net}/{prefix})"
            )));
        }
        Ok(s)
    }

    fn mask(&self) -> u128 {
        u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0)
    }

    pub fn contains(&self, ip: Ipv6Addr) -> bool {
        u128::from(ip) & self.mask() == u128::from(self.addr)
    }

    pub fn overlaps(&self, other: &Subnet6) -> bool {
        let m = self.mask() & other.mask();
        u128::from(self.addr) & m == u128::from(other.addr) & m
    }

    /// How many addresses it spans, at most `u64::MAX` (a /64 and wider).
    pub fn size(&self) -> u64 {
        1u64.checked_shl(128 - u32::from(self.prefix)).unwrap_or(u64::MAX)
    }

    /// The `n`-th address (0 is the subnet-router anycast address).
    pub fn nth(&self, n: u64) -> Option<Ipv6Addr> {
        (n < self.size()).then(|| Ipv6Addr::from(u128::from(self.addr) + u128::from(n)))
    }

    /// A unique local prefix (RFC 4193: `fd` + a 40-bit global id) for the network whose
    /// random id is `id` (hex), subnet 0, /64: what `--ipv6` without `--subnet` gets.
    pub fn unique_local(id: &str) -> Subnet6 {
        let b: Vec<u8> = (0..5)
            .map(|i| id.get(2 * i..2 * i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()).unwrap_or(0))
            .collect();
        let addr = Ipv6Addr::new(
            0xfd00 | u16::from(b[0]),
            u16::from_be_bytes([b[1], b[2]]),
            u16::from_be_bytes([b[3], b[4]]),
            0,
            0,
            0,
            0,
            0,
        );
        Subnet6 { addr, prefix: 64 }
    }
}

impl fmt::Display for Subnet6 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Subnet6 {
    type Err = Error;
    fn from_str(s: &str) -> Result<Subnet6> {
        let bad = || Error::Invalid(format!("invalid subnet {s:?}: want an IPv6 CIDR such as fd00:1::/64"));
        let (a, p) = s.split_once('/').ok_or_else(bad)?;
        let addr: Ipv6Addr = a.parse().map_err(|_| bad())?;
        let prefix: u8 = p.parse().map_err(|_| bad())?;
        if prefix > 128 {
            return Err(bad());
        }
        Subnet6::new(addr, prefix)
    }
}

impl Serialize for Subnet6 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Subnet6 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Subnet6, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// The IPv4 routes of this network namespace (`/proc/net/route`: destination and
/// mask as little-endian hex), default routes left out.
pub fn host_routes() -> Vec<Subnet> {
    let text = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    parse_routes(&text)
}

fn parse_routes(text: &str) -> Vec<Subnet> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dest), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16)) else { continue };
        // The kernel prints the address as it is in memory (network order).
        let (dest, mask) = (u32::from_be_bytes(dest.to_ne_bytes()), u32::from_be_bytes(mask.to_ne_bytes()));
        let prefix = mask.count_ones() as u8;
        if prefix == 0 {
            continue;
        }
        if let Ok(s) = Subnet::new(Ipv4Addr::from(dest & mask), prefix) {
            out.push(s);
        }
    }
    out
}

/// The first /16 of `10.89.0.0/16`, `10.90.0.0/16`, … that overlaps none of `taken`
/// (the host's routes and the other networks).
pub fn free_default(taken: &[Subnet]) -> Result<Subnet> {
    for second in 89..=255u8 {
        let s = Subnet { addr: Ipv4Addr::new(10, second, 0, 0), prefix: 16 };
        if !taken.iter().any(|t| t.overlaps(&s)) {
            return Ok(s);
        }
    }
    Err(Error::Invalid("no free /16 left in 10.89.0.0-10.255.0.0 for a network: give --subnet".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_display() {
        let s: Subnet = "10.89.0.0/16".parse().unwrap();
        assert_eq!(s.to_string(), "10.89.0.0/16");
        assert_eq!(s.nth(1), Some(Ipv4Addr::new(10, 89, 0, 1)));
        assert_eq!(s.broadcast(), Ipv4Addr::new(10, 89, 255, 255));
        assert_eq!(s.index(Ipv4Addr::new(10, 89, 1, 2)), Some(258));
        assert!(s.contains(Ipv4Addr::new(10, 89, 255, 254)));
        assert!(!s.contains(Ipv4Addr::new(10, 90, 0, 1)));
        for bad in ["10.89.0.1/16", "10.89.0.0", "10.89.0.0/33", "x/16", "10.0.0.0/31"] {
            assert!(bad.parse::<Subnet>().is_err(), "{bad}");
        }
    }

    #[test]
    fn overlap_and_the_default_choice() {
        let a: Subnet = "10.89.0.0/16".parse().unwrap();
        let b: Subnet = "10.89.4.0/24".parse().unwrap();
        let c: Subnet = "10.0.0.0/8".parse().unwrap();
        assert!(a.overlaps(&b) && b.overlaps(&a) && c.overlaps(&a));
        assert!(!a.overlaps(&"10.90.0.0/16".parse().unwrap()));
        assert_eq!(free_default(&[]).unwrap().to_string(), "10.89.0.0/16");
        assert_eq!(free_default(&[b]).unwrap().to_string(), "10.90.0.0/16");
        assert!(free_default(&[c]).is_err());
    }

    #[test]
    fn ipv6_subnets() {
        let s: Subnet6 = "fd00:1::/64".parse().unwrap();
        assert_eq!(s.to_string(), "fd00:1::/64");
        assert_eq!(s.nth(1), Some("fd00:1::1".parse().unwrap()));
        assert_eq!(s.size(), u64::MAX);
        assert!(s.contains("fd00:1::ffff:1".parse().unwrap()) && !s.contains("fd00:2::1".parse().unwrap()));
        let small: Subnet6 = "fd00:1::/120".parse().unwrap();
        assert_eq!((small.size(), small.nth(256)), (256, None));
        assert!(s.overlaps(&small) && !s.overlaps(&"fd00:2::/64".parse().unwrap()));
        for bad in ["fd00:1::1/64", "fd00::", "fd00::/127", "10.0.0.0/8", "fd00::/129"] {
            assert!(bad.parse::<Subnet6>().is_err(), "{bad}");
        }
        let u = Subnet6::unique_local("0123456789abcdef");
        assert_eq!(u.to_string(), "fd01:2345:6789::/64");
    }

    #[test]
    fn routes_from_proc() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                    docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let r = parse_routes(text);
        assert_eq!(r.iter().map(|s| s.to_string()).collect::<Vec<_>>(), ["192.168.2.0/24", "172.17.0.0/16"]);
    }
}
