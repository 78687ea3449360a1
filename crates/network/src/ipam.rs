//! Address management for one network: which address each container holds. The leases
//! are a JSON file beside the network's config, read and rewritten under an exclusive
//! `flock`, so concurrent `hull run`s never get one address twice. A lease names its
//! holder (the container and its init by pid and start time); one whose holder is gone
//! (a container that stopped without releasing it, a crash) is taken back by the next
//! allocation, so the file is truthful after any kill -9. A dual-stack network's lease
//! holds its IPv6 address too, given in the same locked step.

use crate::error::{Error, Result};
use crate::subnet::{Subnet, Subnet6};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

/// Who holds an address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    pub container: String,
    /// The container's init, by pid and start time (0 while it is being set up).
    #[serde(default)]
    pub pid: i32,
    #[serde(default)]
    pub pid_start: u64,
    /// The names its container answers to on the network (user-defined networks: its
    /// name, short id and aliases), for the network's resolver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    /// The upstream servers its container asked for (`--dns`): where the resolver sends
    /// its other look-ups instead of the host's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<std::net::IpAddr>,
    /// Its IPv6 address on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Leases {
    /// Address → holder.
    leases: BTreeMap<Ipv4Addr, Lease>,
    /// Where the last allocation stopped: addresses are handed out round the subnet,
    /// so a freed one is not reused at once (as Docker's allocator).
    #[serde(default)]
    next: u32,
    /// The same for IPv6 addresses (an index into the subnet).
    #[serde(default)]
    next6: u64,
}

/// The leases of one network.
pub struct Ipam {
    path: PathBuf,
    subnet: Subnet,
    gateway: Ipv4Addr,
    /// Where container addresses are taken from (the whole subnet by default).
    range: Subnet,
    /// A dual-stack network's IPv6 subnet and gateway.
    v6: Option<(Subnet6, Ipv6Addr)>,
}

/// The leases file, locked for as long as it is held.
struct Locked {
    _lock: crate::Locked,
    leases: Leases,
}

impl Ipam {
    pub fn new(
        path: &Path,
        subnet: Subnet,
        gateway: Ipv4Addr,
        range: Option<Subnet>,
        v6: Option<(Subnet6, Ipv6Addr)>,
    ) -> Ipam {
        Ipam { path: path.to_owned(), subnet, gateway, range: range.unwrap_or(subnet), v6 }
    }

    fn lock(&self) -> Result<Locked> {
        // NAME.leases.lock: a network's own lock never shares a name with the store's
        // (a network called `networks` would otherwise lock `networks.lock`).
        let mut lock_path = self.path.clone().into_os_string();
        lock_path.push(".lock");
        let lock = crate::lock_file(Path::new(&lock_path))?;
        let leases = match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice(&b)
                .map_err(|e| Error::Invalid(format!("{}: {e} (remove it to start afresh)", self.path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Leases::default(),
            Err(e) => return Err(Error::io(format!("read {}", self.path.display()), e)),
        };
        Ok(Locked { _lock: lock, leases })
    }

    fn save(&self, l: &Locked) -> Result<()> {
        let tmp = self.path.with_extension(format!("tmp{}", std::process::id()));
        let bytes = serde_json::to_vec_pretty(&l.leases).expect("leases serialise");
        std::fs::write(&tmp, bytes).map_err(Error::at(format!("write {}", tmp.display())))?;
        std::fs::rename(&tmp, &self.path).map_err(Error::at(format!("rename {}", self.path.display())))
    }

    /// Gives `holder` an address: `want` if given (it must be free and in the subnet),
    /// otherwise the next free one; on a dual-stack network an IPv6 address too (`want6`
    /// or the next free one). Leases whose holder `alive` says is gone are taken back
    /// first. A container that already holds one gets it again.
    pub fn allocate(
        &self,
        holder: &Lease,
        want: Option<Ipv4Addr>,
        want6: Option<Ipv6Addr>,
        alive: &dyn Fn(&Lease) -> bool,
    ) -> Result<(Ipv4Addr, Option<Ipv6Addr>)> {
        if want6.is_some() && self.v6.is_none() {
            return Err(Error::Invalid(format!(
                "an IPv6 address was asked for on a network without IPv6 ({})",
                self.subnet
            )));
        }
        let mut l = self.lock()?;
        l.leases.leases.retain(|_, h| h.container == holder.container || alive(h));
        let mine = l.leases.leases.iter().find(|(_, h)| h.container == holder.container);
        if let Some((ip, old)) = mine {
            let (ip, ip6) = (*ip, old.ip6);
            if want.is_none_or(|w| w == ip) && (want6.is_none() || want6 == ip6) && (ip6.is_some() == self.v6.is_some())
            {
                l.leases.leases.insert(ip, Lease { ip6, ..holder.clone() });
                self.save(&l)?;
                return Ok((ip, ip6));
            }
        }
        l.leases.leases.retain(|_, h| h.container != holder.container);
        let ip = match want {
            Some(ip) => {
                if !self.subnet.contains(ip) || ip == self.subnet.addr || ip == self.subnet.broadcast() {
                    return Err(Error::Invalid(format!(
                        "address {ip} is not a host address of subnet {}",
                        self.subnet
                    )));
                }
                if ip == self.gateway {
                    return Err(Error::Conflict(format!("address {ip} is the network's gateway")));
                }
                if let Some(h) = l.leases.leases.get(&ip) {
                    return Err(Error::Conflict(format!(
                        "Address already in use: {ip} is held by container {}",
                        &h.container[..h.container.len().min(12)]
                    )));
                }
                ip
            }
            None => {
                let size = self.range.size();
                let mut found = None;
                for k in 0..size {
                    let n = (l.leases.next + k) % size;
                    let Some(ip) = self.range.nth(n) else { continue };
                    let reserved = ip == self.subnet.addr || ip == self.subnet.broadcast() || ip == self.gateway;
                    if !reserved && !l.leases.leases.contains_key(&ip) {
                        l.leases.next = (n + 1) % size;
                        found = Some(ip);
                        break;
                    }
                }
                found.ok_or_else(|| Error::Conflict(format!("no free address left in {}", self.range)))?
            }
        };
        let ip6 = match self.v6 {
            None => None,
            Some((s6, g6)) => Some(Self::allocate6(&mut l.leases, s6, g6, want6)?),
        };
        l.leases.leases.insert(ip, Lease { ip6, ..holder.clone() });
        self.save(&l)?;
        Ok((ip, ip6))
    }

    /// An IPv6 address of `s6` for a new lease: `want6` if free, else the next free one
    /// round the subnet (index 0, the subnet-router anycast address, and the gateway are
    /// never given).
    fn allocate6(leases: &mut Leases, s6: Subnet6, g6: Ipv6Addr, want6: Option<Ipv6Addr>) -> Result<Ipv6Addr> {
        let taken = |ip: Ipv6Addr| leases.leases.values().find(|h| h.ip6 == Some(ip));
        if let Some(ip) = want6 {
            if !s6.contains(ip) || ip == s6.addr {
                return Err(Error::Invalid(format!("address {ip} is not a host address of subnet {s6}")));
            }
            if ip == g6 {
                return Err(Error::Conflict(format!("address {ip} is the network's gateway")));
            }
            if let Some(h) = taken(ip) {
                return Err(Error::Conflict(format!(
                    "Address already in use: {ip} is held by container {}",
                    &h.container[..h.container.len().min(12)]
                )));
            }
            return Ok(ip);
        }
        let size = s6.size();
        // Only as many candidates as there are leases, plus one, can all be taken.
        for k in 0..=(leases.leases.len() as u64 + 2) {
            let n = leases.next6.wrapping_add(k) % size;
            let Some(ip) = s6.nth(n) else { continue };
            if n != 0 && ip != g6 && taken(ip).is_none() {
                leases.next6 = (n + 1) % size;
                return Ok(ip);
            }
        }
        Err(Error::Conflict(format!("no free address left in {s6}")))
    }

    /// Sets the names `container`'s lease answers to (a renamed container); no lease,
    /// nothing to do.
    pub fn set_names(&self, container: &str, names: &[String]) -> Result<()> {
        let mut l = self.lock()?;
        let mut changed = false;
        for h in l.leases.leases.values_mut().filter(|h| h.container == container) {
            h.names = names.to_vec();
            changed = true;
        }
        if changed {
            self.save(&l)?;
        }
        Ok(())
    }

    /// Frees whatever `container` holds.
    pub fn release(&self, container: &str) -> Result<()> {
        let mut l = self.lock()?;
        let before = l.leases.leases.len();
        l.leases.leases.retain(|_, h| h.container != container);
        if l.leases.leases.len() != before {
            self.save(&l)?;
        }
        Ok(())
    }

    /// The leases as last saved, read without the lock (the file is replaced whole by
    /// a rename): what the resolver answers from.
    pub fn read(&self) -> Result<Vec<(Ipv4Addr, Lease)>> {
        match std::fs::read(&self.path) {
            Ok(b) => serde_json::from_slice::<Leases>(&b)
                .map(|l| l.leases.into_iter().collect())
                .map_err(|e| Error::Invalid(format!("{}: {e}", self.path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(Error::io(format!("read {}", self.path.display()), e)),
        }
    }

    /// What identifies the leases file's current version (inode and change time).
    pub fn stamp(&self) -> Option<(u64, i64, i64)> {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&self.path).ok().map(|m| (m.ino(), m.mtime(), m.mtime_nsec()))
    }

    /// The IPAM lock, if no lease has a live holder (`alive`); while it is held no
    /// address can be taken.
    pub fn lock_if_unused(&self, alive: &dyn Fn(&Lease) -> bool) -> Result<Option<crate::Locked>> {
        let l = self.lock()?;
        Ok((!l.leases.leases.values().any(alive)).then_some(l._lock))
    }

    /// Every lease (address, holder), as it stands.
    pub fn leases(&self) -> Result<Vec<(Ipv4Addr, Lease)>> {
        Ok(self.lock()?.leases.leases.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ipam(dir: &Path, range: Option<&str>) -> Ipam {
        let subnet: Subnet = "10.1.0.0/29".parse().unwrap();
        Ipam::new(&dir.join("leases.json"), subnet, Ipv4Addr::new(10, 1, 0, 1), range.map(|r| r.parse().unwrap()), None)
    }

    fn holder(c: &str) -> Lease {
        Lease { container: c.into(), pid: 0, pid_start: 0, names: vec![], dns: vec![], ip6: None }
    }

    fn tmp(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("hull-ipam-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn hands_out_each_address_once_round_the_subnet() {
        let d = tmp("round");
        let i = ipam(&d, None);
        let alive = |_: &Lease| true;
        // .0 is the network, .1 the gateway, .7 the broadcast: .2 to .6 remain.
        let got: Vec<String> =
            (0..5).map(|n| i.allocate(&holder(&format!("c{n}")), None, None, &alive).unwrap().0.to_string()).collect();
        assert_eq!(got, ["10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"]);
        assert!(matches!(i.allocate(&holder("c5"), None, None, &alive).map(|r| r.0), Err(Error::Conflict(_))));
        // The same holder gets its own address back.
        assert_eq!(i.allocate(&holder("c2"), None, None, &alive).map(|r| r.0).unwrap().to_string(), "10.1.0.4");
        i.release("c1").unwrap();
        assert_eq!(i.allocate(&holder("c9"), None, None, &alive).map(|r| r.0).unwrap().to_string(), "10.1.0.3");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_dead_holder_is_taken_back_and_asked_addresses_are_checked() {
        let d = tmp("dead");
        let i = ipam(&d, None);
        let all = |_: &Lease| true;
        let a = i.allocate(&holder("a"), Some(Ipv4Addr::new(10, 1, 0, 5)), None, &all).unwrap().0;
        assert_eq!(a.to_string(), "10.1.0.5");
        assert!(matches!(i.allocate(&holder("b"), Some(a), None, &all).map(|r| r.0), Err(Error::Conflict(_))));
        assert!(matches!(
            i.allocate(&holder("b"), Some(Ipv4Addr::new(10, 1, 0, 1)), None, &all),
            Err(Error::Conflict(_))
        ));
        assert!(matches!(
            i.allocate(&holder("b"), Some(Ipv4Addr::new(10, 2, 0, 5)), None, &all),
            Err(Error::Invalid(_))
        ));
        // a's holder is gone: b may have its address.
        let only_b = |l: &Lease| l.container == "b";
        assert_eq!(i.allocate(&holder("b"), Some(a), None, &only_b).map(|r| r.0).unwrap(), a);
        assert_eq!(i.leases().unwrap().len(), 1);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn dual_stack_leases_hold_an_ipv6_address_too() {
        let d = tmp("v6");
        let s6: Subnet6 = "fd00:5::/120".parse().unwrap();
        let g6: Ipv6Addr = "fd00:5::1".parse().unwrap();
        let i = Ipam::new(
            &d.join("leases.json"),
            "10.1.0.0/24".parse().unwrap(),
            Ipv4Addr::new(10, 1, 0, 1),
            None,
            Some((s6, g6)),
        );
        let all = |_: &Lease| true;
        let (a4, a6) = i.allocate(&holder("a"), None, None, &all).unwrap();
        assert_eq!((a4.to_string(), a6.unwrap().to_string()), ("10.1.0.2".into(), "fd00:5::2".into()));
        let want: Ipv6Addr = "fd00:5::9".parse().unwrap();
        assert_eq!(i.allocate(&holder("b"), None, Some(want), &all).unwrap().1, Some(want));
        assert!(matches!(i.allocate(&holder("c"), None, Some(want), &all), Err(Error::Conflict(_))));
        assert!(matches!(i.allocate(&holder("c"), None, Some(g6), &all), Err(Error::Conflict(_))));
        assert!(matches!(
            i.allocate(&holder("c"), None, Some("fd00:6::2".parse().unwrap()), &all),
            Err(Error::Invalid(_))
        ));
        i.set_names("a", &["web".into()]).unwrap();
        assert_eq!(i.read().unwrap().iter().find(|(_, l)| l.container == "a").unwrap().1.names, ["web"]);
        // Again for the same container: the same pair.
        assert_eq!(i.allocate(&holder("a"), None, None, &all).unwrap(), (a4, a6));
        assert_eq!(i.allocate(&holder("c"), None, None, &all).unwrap().1.unwrap().to_string(), "fd00:5::3");
        // A network without IPv6 refuses an IPv6 address.
        let v4 = ipam(&d, None);
        assert!(matches!(v4.allocate(&holder("x"), None, Some(want), &all), Err(Error::Invalid(_))));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn concurrent_allocations_never_share_an_address() {
        let d = tmp("conc");
        let subnet: Subnet = "10.2.0.0/24".parse().unwrap();
        let path = d.join("leases.json");
        let got: Vec<Ipv4Addr> = std::thread::scope(|s| {
            let all: Vec<_> = (0..8)
                .map(|t| {
                    let path = &path;
                    s.spawn(move || {
                        let i = Ipam::new(path, subnet, Ipv4Addr::new(10, 2, 0, 1), None, None);
                        (0..10)
                            .map(|n| i.allocate(&holder(&format!("t{t}-{n}")), None, None, &|_| true).unwrap().0)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            all.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let mut uniq = got.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), 80);
        let _ = std::fs::remove_dir_all(&d);
    }
}
