//! `linux.resources` written into a container's cgroups, on whichever layout the host
//! has: each controller is looked up where this host provides it (a v1 hierarchy, or the
//! unified one's cgroup.controllers), so a hybrid host gets v1 files for memory and v2
//! files for hugetlb. Also freezing, for pause and resume.

use super::Hierarchy;
use crate::error::{Context, Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// A container's cgroup directories with the hierarchy each one is in.
pub struct Placement {
    v1: Vec<(Vec<String>, PathBuf)>,
    v2: Option<(Vec<String>, PathBuf)>,
}

impl Placement {
    /// Pairs `dirs` (the container's directory in each hierarchy) with their hierarchies.
    pub fn new(hs: &[Hierarchy], dirs: &[PathBuf]) -> Placement {
        let mut p = Placement { v1: Vec::new(), v2: None };
        for d in dirs {
            let Some(h) =
                hs.iter().filter(|h| d.starts_with(&h.mountpoint)).max_by_key(|h| h.mountpoint.as_os_str().len())
            else {
                continue;
            };
            if h.unified {
                let ctl = std::fs::read_to_string(h.mountpoint.join("cgroup.controllers")).unwrap_or_default();
                p.v2 = Some((ctl.split_whitespace().map(str::to_owned).collect(), d.clone()));
            } else {
                p.v1.push((h.controllers.clone(), d.clone()));
            }
        }
        p
    }

    /// The same for a stored container, from this host's current hierarchies.
    pub fn of(dirs: &[PathBuf]) -> Placement {
        Placement::new(&super::hierarchies(), dirs)
    }

    /// The v1 directory of `controller`, if a v1 hierarchy has it.
    pub fn v1(&self, controller: &str) -> Option<&Path> {
        self.v1.iter().find(|(c, _)| c.iter().any(|x| x == controller)).map(|(_, d)| d.as_path())
    }

    /// The v2 directory, if the unified hierarchy has `controller`.
    pub fn v2(&self, controller: &str) -> Option<&Path> {
        self.v2.as_ref().filter(|(c, _)| c.iter().any(|x| x == controller)).map(|(_, d)| d.as_path())
    }

    /// The v2 directory, if any (cgroup.procs, cgroup.freeze, …).
    pub fn unified(&self) -> Option<&Path> {
        self.v2.as_ref().map(|(_, d)| d.as_path())
    }

    /// Enables every available controller down the unified path to the container's
    /// directory (cgroup.subtree_control of each ancestor), so its files appear.
    pub fn enable_v2_controllers(&self, mountpoint_depth: usize) {
        let Some((ctl, dir)) = &self.v2 else { return };
        let ancestors: Vec<&Path> = dir.ancestors().skip(1).take(mountpoint_depth).collect();
        for a in ancestors.iter().rev() {
            let f = a.join("cgroup.subtree_control");
            // Writing this file takes the cgroup lock and walks the subtree even when it
            // changes nothing: write only the controllers that are missing.
            let on = std::fs::read_to_string(&f).unwrap_or_default();
            for c in ctl.iter().filter(|c| !on.split_whitespace().any(|x| x == c.as_str())) {
                // One at a time: a controller the kernel refuses here must not block the rest.
                let _ = std::fs::write(&f, format!("+{c}"));
            }
        }
    }
}

fn write(field: &str, dir: &Path, file: &str, value: impl std::fmt::Display) -> Result<()> {
    let p = dir.join(file);
    std::fs::write(&p, value.to_string()).ctx(|| format!("linux.resources.{field}: write {}", p.display()))
}

fn missing(field: &str, controller: &str) -> Error {
    Error::SpecInvalid {
        field: format!("linux.resources.{field}"),
        reason: format!("this host has no {controller} cgroup controller"),
    }
}

/// The v2 weight of v1 cpu shares (runc's conversion: 2..262144 → 1..10000).
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 0;
    }
    1 + (shares.clamp(2, 262144) - 2) * 9999 / 262142
}

/// `r` with runc's reading of zero: a zero memory limit, reservation or swap, pids
/// limit, cpu shares, quota, period or realtime value, and blkio weight means "not set"
/// (runc's configs hold plain integers, zero when absent), and an empty cpuset string
/// too. Engines rely on it: Docker sends `blockIO.weight: 0` and `cpu.shares: 0` for a
/// container without those options, which written as given would fail (weight 0 is out
/// of range) or clamp shares to 2.
pub fn without_zeroes(r: &LinuxResources) -> LinuxResources {
    let mut r = r.clone();
    let nz = |v: Option<i64>| v.filter(|v| *v != 0);
    let nzu = |v: Option<u64>| v.filter(|v| *v != 0);
    if let Some(mut m) = *r.memory() {
        m.set_limit(nz(m.limit()));
        m.set_reservation(nz(m.reservation()));
        m.set_swap(nz(m.swap()));
        r.set_memory(Some(m));
    }
    if r.pids().is_some_and(|p| p.limit() == 0) {
        r.set_pids(None);
    }
    if let Some(mut c) = r.cpu().clone() {
        c.set_shares(nzu(c.shares()));
        c.set_quota(nz(c.quota()));
        c.set_period(nzu(c.period()));
        c.set_realtime_runtime(nz(c.realtime_runtime()));
        c.set_realtime_period(nzu(c.realtime_period()));
        c.set_cpus(c.cpus().clone().filter(|s| !s.is_empty()));
        c.set_mems(c.mems().clone().filter(|s| !s.is_empty()));
        r.set_cpu(Some(c));
    }
    if let Some(mut b) = r.block_io().clone() {
        b.set_weight(b.weight().filter(|w| *w != 0));
        b.set_leaf_weight(b.leaf_weight().filter(|w| *w != 0));
        r.set_block_io(Some(b));
    }
    r
}

/// Whether `r` sets anything [`apply`] writes (runc's default spec sets only devices).
pub fn has_limits(r: &LinuxResources) -> bool {
    r.memory().is_some()
        || r.pids().is_some()
        || r.cpu().is_some()
        || r.hugepage_limits().as_ref().is_some_and(|h| !h.is_empty())
        || r.unified().as_ref().is_some_and(|u| !u.is_empty())
        || r.block_io().is_some()
        || r.network().is_some()
        || r.rdma().as_ref().is_some_and(|r| !r.is_empty())
}

/// `memory.checkBeforeUpdate`: refuses a new limit below what the container uses now
/// (instead of letting the kernel OOM-kill it on the spot).
pub fn check_before_update(p: &Placement, r: &LinuxResources) -> Result<()> {
    let Some(m) = r.memory() else { return Ok(()) };
    let (Some(true), Some(limit)) = (m.check_before_update(), m.limit()) else { return Ok(()) };
    if limit < 0 {
        return Ok(());
    }
    let usage = p
        .v1("memory")
        .map(|d| d.join("memory.usage_in_bytes"))
        .or_else(|| p.v2("memory").map(|d| d.join("memory.current")))
        .and_then(|f| std::fs::read_to_string(f).ok())
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or(0);
    if limit < usage {
        return Err(Error::SpecInvalid {
            field: "linux.resources.memory.checkBeforeUpdate".into(),
            reason: format!("the new limit {limit} is below the container's current usage {usage}"),
        });
    }
    Ok(())
}

/// Applies `r` (memory, pids, cpu, cpuset, hugepages) to the container's cgroups; zero
/// values mean "not set", as in runc ([`without_zeroes`]).
pub fn apply(p: &Placement, r: &LinuxResources) -> Result<()> {
    let r = &without_zeroes(r);
    if let Some(m) = r.memory() {
        if let Some(d) = p.v1("memory") {
            if let Some(sw) = m.swappiness() {
                write("memory.swappiness", d, "memory.swappiness", sw)?;
            }
            // memsw must stay >= limit: order the two writes so each is valid.
            let limit = m.limit();
            let swap = m.swap();
            let memsw_ok = d.join("memory.memsw.limit_in_bytes").exists();
            let set_swap = |v: i64| -> Result<()> {
                if memsw_ok {
                    write("memory.swap", d, "memory.memsw.limit_in_bytes", v)
                } else {
                    Err(missing("memory.swap", "memory.memsw (swap accounting)"))
                }
            };
            match (limit, swap) {
                (Some(l), Some(s)) => {
                    if set_swap(s).is_err() {
                        write("memory.limit", d, "memory.limit_in_bytes", l)?;
                        set_swap(s)?;
                    } else {
                        write("memory.limit", d, "memory.limit_in_bytes", l)?;
                    }
                }
                (Some(l), None) => {
                    write("memory.limit", d, "memory.limit_in_bytes", l)?;
                    // Like runc: without swap given, allow as much swap as memory.
                    if memsw_ok && l > 0 {
                        let _ = write("memory.swap", d, "memory.memsw.limit_in_bytes", l.saturating_mul(2));
                    }
                }
                (None, Some(s)) => set_swap(s)?,
                (None, None) => {}
            }
            if let Some(res) = m.reservation() {
                write("memory.reservation", d, "memory.soft_limit_in_bytes", res)?;
            }
            if m.disable_oom_killer() == Some(true) {
                write("memory.disableOOMKiller", d, "memory.oom_control", 1)?;
            }
        } else if let Some(d) = p.v2("memory") {
            let max = |v: i64| if v < 0 { "max".to_string() } else { v.to_string() };
            if let Some(l) = m.limit() {
                write("memory.limit", d, "memory.max", max(l))?;
            }
            if let Some(s) = m.swap() {
                // OCI swap is memory+swap; v2's memory.swap.max is swap alone.
                let v = match (s, m.limit()) {
                    (s, _) if s < 0 => "max".to_string(),
                    (s, Some(l)) if l >= 0 => (s - l).max(0).to_string(),
                    (s, _) => s.to_string(),
                };
                write("memory.swap", d, "memory.swap.max", v)?;
            }
            if let Some(res) = m.reservation() {
                write("memory.reservation", d, "memory.low", max(res))?;
            }
            if m.disable_oom_killer() == Some(true) {
                return Err(Error::SpecInvalid {
                    field: "linux.resources.memory.disableOOMKiller".into(),
                    reason: "cgroup v2 has no way to disable the OOM killer".into(),
                });
            }
        } else if m.limit().is_some() || m.swap().is_some() || m.reservation().is_some() {
            return Err(missing("memory", "memory"));
        }
    }
    if let Some(pids) = r.pids() {
        let v = if pids.limit() <= 0 { "max".to_string() } else { pids.limit().to_string() };
        let d = p.v1("pids").or_else(|| p.v2("pids")).ok_or_else(|| missing("pids", "pids"))?;
        write("pids.limit", d, "pids.max", v)?;
    }
    if let Some(c) = r.cpu() {
        if let Some(d) = p.v1("cpu") {
            if let Some(s) = c.shares() {
                write("cpu.shares", d, "cpu.shares", s)?;
            }
            if let Some(period) = c.period() {
                write("cpu.period", d, "cpu.cfs_period_us", period)?;
            }
            if let Some(q) = c.quota() {
                write("cpu.quota", d, "cpu.cfs_quota_us", q)?;
            }
            if let Some(b) = c.burst() {
                write("cpu.burst", d, "cpu.cfs_burst_us", b)?;
            }
            if let Some(rp) = c.realtime_period() {
                write("cpu.realtimePeriod", d, "cpu.rt_period_us", rp)?;
            }
            if let Some(rr) = c.realtime_runtime() {
                write("cpu.realtimeRuntime", d, "cpu.rt_runtime_us", rr)?;
            }
            if let Some(i) = c.idle() {
                write("cpu.idle", d, "cpu.idle", i)?;
            }
        } else if let Some(d) = p.v2("cpu") {
            if let Some(s) = c.shares().filter(|s| *s > 0) {
                write("cpu.shares", d, "cpu.weight", shares_to_weight(s))?;
            }
            if c.quota().is_some() || c.period().is_some() {
                let period = c.period().unwrap_or(100_000);
                let quota = c.quota().filter(|q| *q > 0).map(|q| q.to_string()).unwrap_or_else(|| "max".into());
                write("cpu.quota", d, "cpu.max", format!("{quota} {period}"))?;
            }
            if let Some(b) = c.burst() {
                write("cpu.burst", d, "cpu.max.burst", b)?;
            }
            if let Some(i) = c.idle() {
                write("cpu.idle", d, "cpu.idle", i)?;
            }
            if c.realtime_runtime().is_some() || c.realtime_period().is_some() {
                return Err(Error::SpecInvalid {
                    field: "linux.resources.cpu.realtimeRuntime".into(),
                    reason: "cgroup v2 has no realtime cpu controller".into(),
                });
            }
        } else if c.shares().is_some() || c.quota().is_some() {
            return Err(missing("cpu", "cpu"));
        }
        let cpuset = p.v1("cpuset").or_else(|| p.v2("cpuset"));
        for (field, file, v) in [("cpu.cpus", "cpuset.cpus", c.cpus()), ("cpu.mems", "cpuset.mems", c.mems())] {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                write(field, cpuset.ok_or_else(|| missing(field, "cpuset"))?, file, v)?;
            }
        }
    }
    for h in r.hugepage_limits().iter().flatten() {
        let size = h.page_size();
        if let Some(d) = p.v1("hugetlb") {
            write("hugepageLimits", d, &format!("hugetlb.{size}.limit_in_bytes"), h.limit())?;
        } else if let Some(d) = p.v2("hugetlb") {
            write("hugepageLimits", d, &format!("hugetlb.{size}.max"), h.limit())?;
        } else {
            return Err(missing("hugepageLimits", "hugetlb"));
        }
    }
    if let Some(b) = r.block_io() {
        apply_block_io(p, b)?;
    }
    if let Some(n) = r.network() {
        if let Some(class) = n.class_id() {
            let d = p.v1("net_cls").ok_or_else(|| missing("network.classID", "net_cls (cgroup v1 only)"))?;
            write("network.classID", d, "net_cls.classid", class)?;
        }
        for prio in n.priorities().iter().flatten() {
            let d = p.v1("net_prio").ok_or_else(|| missing("network.priorities", "net_prio (cgroup v1 only)"))?;
            write("network.priorities", d, "net_prio.ifpriomap", format!("{} {}", prio.name(), prio.priority()))?;
        }
    }
    for (dev, limits) in r.rdma().iter().flatten() {
        let d = p.v1("rdma").or_else(|| p.v2("rdma")).ok_or_else(|| missing("rdma", "rdma"))?;
        let mut line = dev.clone();
        if let Some(h) = limits.hca_handles() {
            line.push_str(&format!(" hca_handle={h}"));
        }
        if let Some(o) = limits.hca_objects() {
            line.push_str(&format!(" hca_object={o}"));
        }
        write(&format!("rdma.{dev}"), d, "rdma.max", line)?;
    }
    if let Some(unified) = r.unified() {
        let d = p.unified().ok_or_else(|| missing("unified", "cgroup v2"))?;
        for (k, v) in unified {
            if k.contains('/') || k.starts_with('.') {
                return Err(Error::SpecInvalid {
                    field: "linux.resources.unified".into(),
                    reason: format!("{k:?} is not a cgroup file"),
                });
            }
            write(&format!("unified.{k}"), d, k, v)?;
        }
    }
    Ok(())
}

/// The v2 io.weight of a v1 blkio weight (runc's conversion: 10..1000 → 1..10000).
pub fn blkio_weight_to_io(w: u16) -> u64 {
    if w == 0 {
        return 0;
    }
    1 + (u64::from(w.clamp(10, 1000)) - 10) * 9999 / 990
}

/// `linux.resources.blockIO`: blkio on v1, io on v2; weights need a scheduler that has
/// them (BFQ, or iocost on v2), throttles work everywhere.
fn apply_block_io(p: &Placement, b: &oci_spec::runtime::LinuxBlockIo) -> Result<()> {
    let throttles = [
        ("throttleReadBpsDevice", b.throttle_read_bps_device(), "read_bps_device", "rbps"),
        ("throttleWriteBpsDevice", b.throttle_write_bps_device(), "write_bps_device", "wbps"),
        ("throttleReadIOPSDevice", b.throttle_read_iops_device(), "read_iops_device", "riops"),
        ("throttleWriteIOPSDevice", b.throttle_write_iops_device(), "write_iops_device", "wiops"),
    ];
    // The first of `files` that exists in `d`.
    let pick = |d: &Path, files: &[&'static str]| files.iter().copied().find(|f| d.join(f).exists());
    if let Some(d) = p.v1("blkio") {
        let weight_file = pick(d, &["blkio.weight", "blkio.bfq.weight"]);
        let need_weight = |field: &str| {
            weight_file.ok_or_else(|| missing(&format!("blockIO.{field}"), "blkio weight (CFQ or BFQ scheduler)"))
        };
        if let Some(w) = b.weight() {
            write("blockIO.weight", d, need_weight("weight")?, w)?;
        }
        if let Some(w) = b.leaf_weight() {
            write("blockIO.leafWeight", d, "blkio.leaf_weight", w)?;
        }
        for wd in b.weight_device().iter().flatten() {
            if let Some(w) = wd.weight().filter(|w| *w != 0) {
                let f = if need_weight("weightDevice")? == "blkio.weight" {
                    "blkio.weight_device"
                } else {
                    "blkio.bfq.weight_device"
                };
                write("blockIO.weightDevice", d, f, format!("{}:{} {w}", wd.major(), wd.minor()))?;
            }
        }
        for (field, list, file, _) in throttles {
            for t in list.iter().flatten() {
                write(
                    &format!("blockIO.{field}"),
                    d,
                    &format!("blkio.throttle.{file}"),
                    format!("{}:{} {}", t.major(), t.minor(), t.rate()),
                )?;
            }
        }
        return Ok(());
    }
    let d = p.v2("io").ok_or_else(|| missing("blockIO", "blkio/io"))?;
    let weight_file = pick(d, &["io.weight", "io.bfq.weight"]);
    let conv = |w: u16| if weight_file == Some("io.weight") { blkio_weight_to_io(w) } else { u64::from(w) };
    let need_weight =
        |field: &str| weight_file.ok_or_else(|| missing(&format!("blockIO.{field}"), "io weight (iocost or BFQ)"));
    if let Some(w) = b.weight() {
        write("blockIO.weight", d, need_weight("weight")?, format!("default {}", conv(w)))?;
    }
    for wd in b.weight_device().iter().flatten() {
        if let Some(w) = wd.weight().filter(|w| *w != 0) {
            write(
                "blockIO.weightDevice",
                d,
                need_weight("weightDevice")?,
                format!("{}:{} {}", wd.major(), wd.minor(), conv(w)),
            )?;
        }
    }
    for (field, list, _, key) in throttles {
        for t in list.iter().flatten() {
            write(&format!("blockIO.{field}"), d, "io.max", format!("{}:{} {key}={}", t.major(), t.minor(), t.rate()))?;
        }
    }
    Ok(())
}

/// Freezes or thaws the container; returns once the kernel reports the new state.
pub fn set_frozen(p: &Placement, frozen: bool) -> Result<()> {
    if let Some(d) = p.v1("freezer") {
        let want = if frozen { "FROZEN" } else { "THAWED" };
        for _ in 0..1000 {
            write("freezer", d, "freezer.state", want)?;
            if std::fs::read_to_string(d.join("freezer.state")).is_ok_and(|s| s.trim() == want) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        return Err(Error::Precondition(format!("{}: the freezer did not reach {want}", d.display())));
    }
    if let Some(d) = p.unified() {
        write("freezer", d, "cgroup.freeze", u8::from(frozen))?;
        let want = format!("frozen {}", u8::from(frozen));
        for _ in 0..1000 {
            if std::fs::read_to_string(d.join("cgroup.events")).is_ok_and(|s| s.lines().any(|l| l == want)) {
                return Ok(());
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        return Err(Error::Precondition(format!("{}: cgroup.freeze did not take effect", d.display())));
    }
    Err(Error::Precondition("this host has no freezer cgroup (v1 freezer or cgroup v2)".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blkio_weight_conversion_matches_runc() {
        assert_eq!(blkio_weight_to_io(10), 1);
        assert_eq!(blkio_weight_to_io(500), 4950);
        assert_eq!(blkio_weight_to_io(1000), 10000);
    }

    #[test]
    fn weight_conversion_matches_runc() {
        assert_eq!(shares_to_weight(2), 1);
        assert_eq!(shares_to_weight(1024), 39);
        assert_eq!(shares_to_weight(262144), 10000);
        assert_eq!(shares_to_weight(0), 0);
    }

    #[test]
    fn placement_finds_controllers_by_layout() {
        let hs = vec![
            Hierarchy {
                mountpoint: "/sys/fs/cgroup/memory".into(),
                controllers: vec!["memory".into()],
                unified: false,
            },
            Hierarchy { mountpoint: "/sys/fs/cgroup/pids".into(), controllers: vec!["pids".into()], unified: false },
        ];
        let dirs = vec![PathBuf::from("/sys/fs/cgroup/memory/hull/x"), PathBuf::from("/sys/fs/cgroup/pids/hull/x")];
        let p = Placement::new(&hs, &dirs);
        assert_eq!(p.v1("memory"), Some(Path::new("/sys/fs/cgroup/memory/hull/x")));
        assert_eq!(p.v1("pids"), Some(Path::new("/sys/fs/cgroup/pids/hull/x")));
        assert_eq!(p.v1("cpu"), None);
        assert!(p.unified().is_none());
    }
}
