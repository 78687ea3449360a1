//! IPv4 subnets in CIDR form (`10.89.0.0/16`): parsing, membership, the n-th address,
//! and the choice of a default subnet that no route of the host already covers.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::Ipv4Addr;
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
    fn routes_from_proc() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0102A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t0002A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
                    docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n";
        let r = parse_routes(text);
        assert_eq!(r.iter().map(|s| s.to_string()).collect::<Vec<_>>(), ["192.168.2.0/24", "172.17.0.0/16"]);
    }
}
