//! The config built as oci-spec's types, once. oci-spec's `Default`s for `Spec`,
//! `Process`, `Root`, `Linux` and `LinuxCapabilities` carry another runtime's choices
//! (a hostname, nofile 1024, default mounts and masked paths), so every field of those
//! is set here explicitly; the other structs default to empty and are made with their
//! builders.

use super::*;
use oci_spec::runtime::{
    Linux, LinuxBlockIoBuilder, LinuxCapabilities, LinuxCpuBuilder, LinuxDevice, LinuxDeviceBuilder, LinuxDeviceCgroup,
    LinuxDeviceCgroupBuilder, LinuxDeviceType, LinuxMemoryBuilder, LinuxNamespace, LinuxNamespaceBuilder,
    LinuxNamespaceType, LinuxPidsBuilder, LinuxResources, LinuxSeccomp, LinuxThrottleDevice,
    LinuxThrottleDeviceBuilder, LinuxWeightDeviceBuilder, Mount, MountBuilder, PosixRlimit, PosixRlimitBuilder,
    PosixRlimitType, Process, Root, Spec, UserBuilder,
};
use std::collections::{HashMap, HashSet};
use std::str::FromStr;

fn spec_err(what: &str) -> impl FnOnce(oci_spec::OciSpecError) -> Error + '_ {
    move |e| Error::Invalid(format!("container config: {what}: {e}"))
}

/// A mount of the config.
pub(super) fn mount(destination: &str, typ: &str, source: impl Into<PathBuf>, options: &[&str]) -> Result<Mount> {
    MountBuilder::default()
        .destination(destination)
        .typ(typ)
        .source(source.into())
        .options(options.iter().map(|o| o.to_string()).collect::<Vec<_>>())
        .build()
        .map_err(spec_err("mount"))
}

/// The process: every field set.
pub(super) fn process(
    i: &Input<'_>,
    caps: &[String],
    args: Vec<String>,
    env: Vec<String>,
    rlimits: Option<Vec<PosixRlimit>>,
) -> Result<Process> {
    let set: HashSet<_> = caps.iter().filter_map(|c| hull_container::capabilities::parse(c)).collect();
    let mut c = LinuxCapabilities::default();
    c.set_bounding(Some(set.clone()));
    c.set_effective(Some(set.clone()));
    c.set_permitted(Some(set));
    c.set_inheritable(None);
    c.set_ambient(None);
    let user = UserBuilder::default()
        .uid(i.rc.uid)
        .gid(i.rc.gid)
        .additional_gids(i.rc.additional_gids.clone())
        .build()
        .map_err(spec_err("process.user"))?;
    let mut p = Process::default();
    p.set_terminal(Some(i.tty));
    p.set_console_size(None);
    p.set_user(user);
    p.set_args(Some(args));
    p.set_command_line(None);
    p.set_env(Some(env));
    p.set_cwd(PathBuf::from(&i.rc.cwd));
    p.set_capabilities(Some(c));
    p.set_rlimits(rlimits);
    p.set_no_new_privileges(Some(i.no_new_privileges));
    p.set_apparmor_profile(None);
    p.set_oom_score_adj(i.oom_score_adj);
    p.set_selinux_label(None);
    p.set_io_priority(None);
    p.set_scheduler(None);
    p.set_exec_cpu_affinity(None);
    Ok(p)
}

/// `--ulimit`s as rlimits.
pub(super) fn rlimits(ulimits: &[(String, u64, u64)]) -> Result<Option<Vec<PosixRlimit>>> {
    if ulimits.is_empty() {
        return Ok(None);
    }
    ulimits
        .iter()
        .map(|(t, soft, hard)| {
            let typ = PosixRlimitType::from_str(t).map_err(|_| Error::Invalid(format!("invalid ulimit type: {t}")))?;
            PosixRlimitBuilder::default().typ(typ).soft(*soft).hard(*hard).build().map_err(spec_err("rlimit"))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

pub(super) fn namespace(typ: LinuxNamespaceType, path: Option<&Path>) -> Result<LinuxNamespace> {
    let b = LinuxNamespaceBuilder::default().typ(typ);
    match path {
        Some(p) => b.path(p.to_path_buf()),
        None => b,
    }
    .build()
    .map_err(spec_err("namespace"))
}

/// The root: both fields set.
pub(super) fn root(path: &Path, readonly: bool) -> Root {
    let mut r = Root::default();
    r.set_path(path.to_path_buf());
    r.set_readonly(Some(readonly));
    r
}

/// What `linux` holds, every field set.
pub(super) struct LinuxParts {
    pub namespaces: Vec<LinuxNamespace>,
    pub resources: LinuxResources,
    pub rootfs_propagation: Option<String>,
    pub cgroups_path: Option<PathBuf>,
    pub userns: Option<(Vec<oci_spec::runtime::LinuxIdMapping>, Vec<oci_spec::runtime::LinuxIdMapping>)>,
    pub sysctl: Option<HashMap<String, String>>,
    pub masked: Option<(Vec<String>, Vec<String>)>,
    pub seccomp: Option<LinuxSeccomp>,
    pub devices: Option<Vec<LinuxDevice>>,
}

pub(super) fn linux(p: LinuxParts) -> Linux {
    let mut l = Linux::default();
    l.set_net_devices(None);
    l.set_uid_mappings(p.userns.as_ref().map(|(u, _)| u.clone()));
    l.set_gid_mappings(p.userns.map(|(_, g)| g));
    l.set_sysctl(p.sysctl);
    l.set_resources(Some(p.resources));
    l.set_cgroups_path(p.cgroups_path);
    l.set_namespaces(Some(p.namespaces));
    l.set_devices(p.devices);
    l.set_seccomp(p.seccomp);
    l.set_rootfs_propagation(p.rootfs_propagation);
    let (masked, readonly) = p.masked.unzip();
    l.set_masked_paths(masked);
    l.set_readonly_paths(readonly);
    l.set_mount_label(None);
    l.set_intel_rdt(None);
    l.set_memory_policy(None);
    l.set_personality(None);
    l.set_time_offsets(None);
    l
}

/// The spec: every field set.
#[allow(clippy::too_many_arguments)]
pub(super) fn spec(
    process: Process,
    root: Root,
    mounts: Vec<Mount>,
    linux: Linux,
    hostname: Option<String>,
    domainname: Option<String>,
    annotations: HashMap<String, String>,
) -> Spec {
    let mut s = Spec::default();
    s.set_version("1.2.0".into());
    s.set_process(Some(process));
    s.set_root(Some(root));
    s.set_hostname(hostname);
    s.set_domainname(domainname);
    s.set_mounts(Some(mounts));
    s.set_annotations(Some(annotations));
    s.set_linux(Some(linux));
    s.set_hooks(None);
    s.set_solaris(None);
    s.set_windows(None);
    s.set_vm(None);
    s.set_zos(None);
    s.set_uid_mappings(None);
    s.set_gid_mappings(None);
    s
}

/// A device cgroup rule: `kind` a, b or c; None numbers for any.
pub(super) fn device_cgroup(
    allow: bool,
    kind: Option<&str>,
    major: Option<i64>,
    minor: Option<i64>,
    access: &str,
) -> Result<LinuxDeviceCgroup> {
    let mut b = LinuxDeviceCgroupBuilder::default().allow(allow).access(access);
    if let Some(k) = kind {
        b = b.typ(LinuxDeviceType::from_str(k).map_err(|_| Error::Invalid(format!("device type {k:?}")))?);
    }
    if let Some(m) = major {
        b = b.major(m);
    }
    if let Some(m) = minor {
        b = b.minor(m);
    }
    b.build().map_err(spec_err("device rule"))
}

pub(super) fn device(path: &Path, kind: &str, major: i64, minor: i64, mode: u32) -> Result<LinuxDevice> {
    LinuxDeviceBuilder::default()
        .path(path.to_path_buf())
        .typ(LinuxDeviceType::from_str(kind).map_err(|_| Error::Invalid(format!("device type {kind:?}")))?)
        .major(major)
        .minor(minor)
        .file_mode(mode)
        .uid(0u32)
        .gid(0u32)
        .build()
        .map_err(spec_err("device"))
}

/// The limits `r` asks for, only those given (so that `update` changes nothing else).
pub(super) fn resources(r: &Resources) -> Result<LinuxResources> {
    let mut res = LinuxResources::default();
    let mut memory = LinuxMemoryBuilder::default();
    let mut has_memory = false;
    if let Some(v) = r.memory {
        memory = memory.limit(v);
        has_memory = true;
    }
    match (r.memory_swap, r.memory) {
        (Some(s), _) => {
            memory = memory.swap(s);
            has_memory = true;
        }
        // Docker: without --memory-swap, as much swap as memory.
        (None, Some(m)) => memory = memory.swap(m.saturating_mul(2)),
        _ => {}
    }
    if let Some(v) = r.memory_reservation {
        memory = memory.reservation(v);
        has_memory = true;
    }
    if r.oom_kill_disable {
        memory = memory.disable_oom_killer(true);
        has_memory = true;
    }
    if let Some(v) = r.memory_swappiness {
        memory = memory.swappiness(v);
        has_memory = true;
    }
    if has_memory {
        res.set_memory(Some(memory.build().map_err(spec_err("memory"))?));
    }
    let mut cpu = LinuxCpuBuilder::default();
    let mut has_cpu = false;
    if let Some(n) = r.nano_cpus {
        cpu = cpu.period(100_000u64).quota((n as u128 * 100_000 / 1_000_000_000) as i64);
        has_cpu = true;
    }
    if let Some(s) = r.cpu_shares {
        cpu = cpu.shares(s);
        has_cpu = true;
    }
    if let Some(c) = &r.cpuset_cpus {
        cpu = cpu.cpus(c.clone());
        has_cpu = true;
    }
    if let Some(p) = r.cpu_period {
        cpu = cpu.period(p);
        has_cpu = true;
    }
    if let Some(q) = r.cpu_quota {
        cpu = cpu.quota(q);
        has_cpu = true;
    }
    if let Some(m) = &r.cpuset_mems {
        cpu = cpu.mems(m.clone());
        has_cpu = true;
    }
    if let Some(v) = r.cpu_rt_runtime {
        cpu = cpu.realtime_runtime(v);
        has_cpu = true;
    }
    if let Some(v) = r.cpu_rt_period {
        cpu = cpu.realtime_period(v);
        has_cpu = true;
    }
    if has_cpu {
        res.set_cpu(Some(cpu.build().map_err(spec_err("cpu"))?));
    }
    if let Some(p) = r.pids_limit {
        res.set_pids(Some(LinuxPidsBuilder::default().limit(p).build().map_err(spec_err("pids"))?));
    }
    let mut bio = LinuxBlockIoBuilder::default();
    let mut has_bio = false;
    if let Some(w) = r.blkio_weight {
        if !(10..=1000).contains(&w) {
            return Err(Error::Invalid(format!("invalid --blkio-weight {w}: it must be between 10 and 1000")));
        }
        bio = bio.weight(w);
        has_bio = true;
    }
    let mut weights = Vec::new();
    for d in &r.blkio_weight_devices {
        if !(10..=1000).contains(&d.weight) {
            return Err(Error::Invalid(format!(
                "invalid --blkio-weight-device weight {}: it must be between 10 and 1000",
                d.weight
            )));
        }
        weights.push(
            LinuxWeightDeviceBuilder::default()
                .major(d.major as i64)
                .minor(d.minor as i64)
                .weight(d.weight)
                .build()
                .map_err(spec_err("blockIO.weightDevice"))?,
        );
    }
    if !weights.is_empty() {
        bio = bio.weight_device(weights);
        has_bio = true;
    }
    let mut lists: HashMap<&str, Vec<LinuxThrottleDevice>> = HashMap::new();
    for t in &r.throttles {
        let d = LinuxThrottleDeviceBuilder::default()
            .major(t.major as i64)
            .minor(t.minor as i64)
            .rate(t.rate)
            .build()
            .map_err(spec_err("blockIO throttle"))?;
        lists.entry(t.field).or_default().push(d);
    }
    for (field, list) in lists {
        has_bio = true;
        bio = match field {
            "throttleReadBpsDevice" => bio.throttle_read_bps_device(list),
            "throttleWriteBpsDevice" => bio.throttle_write_bps_device(list),
            "throttleReadIOPSDevice" => bio.throttle_read_iops_device(list),
            _ => bio.throttle_write_iops_device(list),
        };
    }
    if has_bio {
        res.set_block_io(Some(bio.build().map_err(spec_err("blockIO"))?));
    }
    Ok(res)
}

/// Builds the config, checked by hull's validation.
pub fn build(i: &Input<'_>) -> Result<Spec> {
    let caps = capabilities(i.privileged, i.cap_add, i.cap_drop)?;
    if let Some(adj) = i.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return Err(Error::Invalid(format!("invalid --oom-score-adj {adj}: it must be between -1000 and 1000")));
        }
    }
    let mut args = i.rc.args.clone();
    if i.init.is_some() {
        args = ["/sbin/hull-init".to_string(), "--".to_string()].into_iter().chain(args).collect();
    }
    let env = env_with_hostname(&i.rc.env, i.hostname, i.tty);
    let process = process(i, &caps, args, env, rlimits(i.ulimits)?)?;
    let ro_sys: &[&str] =
        if i.privileged { &["nosuid", "noexec", "nodev"] } else { &["nosuid", "noexec", "nodev", "ro"] };
    let mut devpts = vec!["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"];
    let mut proc_mount = mount("/proc", "proc", "proc", &["nosuid", "noexec", "nodev"])?;
    let mut sys_mount = mount("/sys", "sysfs", "sysfs", ro_sys)?;
    if let Some(m) = i.userns {
        if !m.maps_id(i.rc.uid, i.rc.gid) {
            return Err(Error::Invalid(format!(
                "user {}:{} does not exist in the rootless user namespace (only root does without \
                 subordinate ids for you in /etc/subuid and /etc/subgid)",
                i.rc.uid, i.rc.gid
            )));
        }
        if !m.maps_id(0, 5) {
            // No tty group to give the terminals.
            devpts.pop();
        }
        if i.sharing.pid == Ns::Host {
            // A new proc needs a pid namespace of the user's own: the host's is bound.
            proc_mount = mount("/proc", "bind", "/proc", &["rbind", "nosuid", "noexec", "nodev"])?;
        }
        if i.network == "host" {
            // A new sysfs needs a network namespace of the user's own: the host's is bound.
            let mut o = vec!["rbind", "nosuid", "noexec", "nodev"];
            if !i.privileged {
                o.push("ro");
            }
            sys_mount = mount("/sys", "bind", "/sys", &o)?;
        }
    }
    let mut mounts = vec![
        proc_mount,
        mount("/dev", "tmpfs", "tmpfs", &["nosuid", "strictatime", "mode=755", "size=65536k"])?,
        mount("/dev/pts", "devpts", "devpts", &devpts)?,
        sys_mount,
        mount("/sys/fs/cgroup", "cgroup", "cgroup", &["nosuid", "noexec", "nodev", "relatime", "ro"])?,
        mount("/dev/mqueue", "mqueue", "mqueue", &["nosuid", "noexec", "nodev"])?,
    ];
    let shm = i.shm_size.unwrap_or(64 << 20);
    if shm <= 0 {
        return Err(Error::Invalid(format!("invalid --shm-size {shm}: it must be positive")));
    }
    if i.sharing.ipc == Ns::Host {
        // The host's IPC: its /dev/shm too, as Docker.
        mounts.push(mount("/dev/shm", "bind", "/dev/shm", &["rbind", "rprivate"])?);
    } else {
        let size = format!("size={}k", (shm + 1023) / 1024);
        mounts.push(mount("/dev/shm", "tmpfs", "shm", &["nosuid", "noexec", "nodev", "mode=1777", &size])?);
    }
    for f in ["hosts", "hostname", "resolv.conf"] {
        mounts.push(mount(&format!("/etc/{f}"), "bind", i.dir.join(f), &["rbind", "rprivate"])?);
    }
    if let Some(init) = i.init {
        mounts.push(mount("/sbin/hull-init", "bind", init, &["bind", "ro", "nosuid", "nodev"])?);
    }
    let mut rootfs_propagation = None;
    for m in i.mounts {
        let prop = m.propagation.as_deref().unwrap_or("rprivate");
        match prop {
            "shared" | "rshared" => {
                check_propagation(&m.source, true)?;
                rootfs_propagation = Some("rshared");
            }
            "slave" | "rslave" => {
                check_propagation(&m.source, false)?;
                rootfs_propagation = rootfs_propagation.or(Some("rslave"));
            }
            _ => {}
        }
        let mut o = vec!["rbind", prop];
        if !m.rw {
            o.push("ro");
        }
        mounts.push(mount(&m.destination, "bind", &m.source, &o)?);
    }
    for (dest, opts) in i.tmpfs {
        let mut o = vec!["nosuid", "nodev", "noexec"];
        o.extend(opts.split(',').filter(|s| !s.is_empty()));
        mounts.push(mount(dest, "tmpfs", "tmpfs", &o)?);
    }
    let mut namespaces = vec![namespace(LinuxNamespaceType::Mount, None)?];
    for (kind, ns) in [
        (LinuxNamespaceType::Pid, &i.sharing.pid),
        (LinuxNamespaceType::Ipc, &i.sharing.ipc),
        (LinuxNamespaceType::Uts, &i.sharing.uts),
    ] {
        match ns {
            Ns::Own => namespaces.push(namespace(kind, None)?),
            Ns::Host => {}
            Ns::Path(p) => namespaces.push(namespace(kind, Some(p))?),
        }
    }
    match &i.sharing.net {
        Ns::Path(p) => namespaces.push(namespace(LinuxNamespaceType::Network, Some(p))?),
        _ if i.network == "host" => {}
        _ => namespaces.push(namespace(LinuxNamespaceType::Network, None)?),
    }
    // Docker's default on cgroup v2: a private cgroup namespace (v1: the host's).
    if i.cgroupns.unwrap_or_else(|| hull_container::cgroups::hierarchies().iter().all(|h| h.unified)) {
        namespaces.push(namespace(LinuxNamespaceType::Cgroup, None)?);
    }
    if i.userns.is_some() {
        namespaces.push(namespace(LinuxNamespaceType::User, None)?);
    }
    let mut resources = resources(i.resources)?;
    let mut rules = if i.privileged {
        vec![device_cgroup(true, None, None, None, "rwm")?]
    } else {
        let mut r = vec![device_cgroup(false, None, None, None, "rwm")?];
        r.extend(i.extra.device_rules.iter().cloned());
        r
    };
    let mut devices = None;
    if !i.devices.is_empty() {
        let mut devs = Vec::new();
        for d in i.devices {
            let dev = super::devices::device(d)?;
            // The access the user asked for (the runtime allows rwm for a device it makes).
            let kind = if dev.typ() == LinuxDeviceType::B { "b" } else { "c" };
            rules.push(device_cgroup(true, Some(kind), Some(dev.major()), Some(dev.minor()), &d.perms)?);
            devs.push(dev);
        }
        devices = Some(devs);
    }
    resources.set_devices(Some(rules));
    let cgroups_path = match i.cgroup_parent.map(|p| p.trim_matches('/')).filter(|p| !p.is_empty()) {
        Some(parent) if parent.split('/').any(|c| c == ".." || c == ".") => {
            return Err(Error::Invalid(format!("invalid --cgroup-parent {parent:?}: no . or .. components")))
        }
        Some(parent) => Some(PathBuf::from(format!("/{parent}/{}", i.id))),
        None => None,
    };
    let seccomp = match i.seccomp {
        Seccomp::Unconfined => None,
        _ if i.privileged => None,
        Seccomp::Default => Some(seccomp_profile::profile(&caps)),
        Seccomp::Profile(text) => {
            let v: Value = serde_json::from_str(text).map_err(|e| Error::Invalid(format!("seccomp profile: {e}")))?;
            Some(docker_profile(v, &caps))
        }
    };
    let seccomp = seccomp
        .map(serde_json::from_value::<LinuxSeccomp>)
        .transpose()
        .map_err(|e| Error::Invalid(format!("seccomp profile: {e}")))?;
    let linux = linux(LinuxParts {
        namespaces,
        resources,
        rootfs_propagation: rootfs_propagation.map(str::to_owned),
        cgroups_path,
        userns: i.userns.map(|m| (m.uids.clone(), m.gids.clone())),
        sysctl: (!i.sysctls.is_empty()).then(|| i.sysctls.iter().cloned().collect()),
        masked: (!i.privileged && !i.extra.systempaths_unconfined).then(|| {
            (MASKED.iter().map(|s| s.to_string()).collect(), READONLY.iter().map(|s| s.to_string()).collect())
        }),
        seccomp,
        devices,
    });
    let (hostname, domainname) = if i.sharing.uts == Ns::Own {
        (Some(i.hostname.to_owned()), i.extra.domainname.clone())
    } else if i.extra.domainname.is_some() {
        return Err(Error::Invalid("Conflicting options: domainname and the UTS mode".into()));
    } else {
        (None, None)
    };
    let mut annotations: HashMap<String, String> = i.extra.annotations.iter().cloned().collect();
    annotations.insert("io.hull.container.id".into(), i.id.to_owned());
    let spec = spec(process, root(i.rootfs, i.read_only), mounts, linux, hostname, domainname, annotations);
    hull_container::spec::validate(&spec)?;
    Ok(spec)
}
