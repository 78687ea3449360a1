//! Docker's rules the runtime config must keep: namespaced sysctls only, and shared or
//! slave bind mounts only from a mount that can propagate.

use super::*;

/// Docker's rule for a shared (or slave) bind mount: its source must be on a mount
/// that is shared (or shared or a slave) on the host, else nothing could propagate.
pub(super) fn check_propagation(source: &str, shared: bool) -> Result<()> {
    let src = std::fs::canonicalize(source).map_err(|e| Error::Invalid(format!("bind source {source}: {e}")))?;
    let Some(m) = hull_container::mountinfo::mount_of_path(&src).map_err(Error::at("read /proc/self/mountinfo"))?
    else {
        return Ok(());
    };
    if m.shared() || (!shared && m.slave()) {
        return Ok(());
    }
    let want = if shared { "a shared mount" } else { "a shared or slave mount" };
    Err(Error::Invalid(format!(
        "path {} is mounted on {} but it is not {want}",
        src.display(),
        m.mount_point.display()
    )))
}

/// Docker's rule for `--sysctl`: only namespaced parameters, and none of a namespace
/// shared with the host.
pub fn check_sysctl(key: &str, network: &str, ipc: &Ns) -> Result<()> {
    let ipc_key = hull_container::spec::IPC_SYSCTLS.contains(&key) || key.starts_with("fs.mqueue.");
    if ipc_key && *ipc == Ns::Host {
        return Err(Error::Invalid(format!("sysctl {key:?} is not allowed with the host's IPC namespace")));
    }
    if key.starts_with("net.") && network == "host" {
        return Err(Error::Invalid(format!("sysctl {key:?} is not allowed with the host's network namespace")));
    }
    if key.starts_with("net.") && network.starts_with("container:") {
        return Err(Error::Invalid(format!(
            "sysctl {key:?} is not allowed with another container's network namespace"
        )));
    }
    if !ipc_key && !key.starts_with("net.") {
        return Err(Error::Invalid(format!("sysctl {key:?} is not allowed: it is not namespaced")));
    }
    Ok(())
}
