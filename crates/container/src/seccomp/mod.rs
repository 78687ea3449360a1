//! seccomp: `linux.seccomp` compiled to a BPF program ([`compile`]), cached on disk by a
//! hash of the profile ([`cache`]), loaded by the container process right before it
//! execs ([`Filter::load`]), and with SCMP_ACT_NOTIFY the listener descriptor handed to
//! the agent at `listenerPath` ([`notify`]).
//!
//! This module never decides *when* the filter goes on: the process model does (see
//! [`crate::process::init::become_user_and_exec`]).

mod abi;
pub mod bpf;
pub mod cache;
pub mod compile;
pub mod notify;

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxSeccomp, LinuxSeccompAction, LinuxSeccompFilterFlag};
use serde::{Deserialize, Serialize};
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub const FLAG_TSYNC: u32 = 1;
pub const FLAG_LOG: u32 = 2;
pub const FLAG_SPEC_ALLOW: u32 = 4;
pub const FLAG_NEW_LISTENER: u32 = 8;
pub const FLAG_TSYNC_ESRCH: u32 = 16;
pub const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// Syscalls hull itself makes between loading a filter and handing its listener to the
/// agent: under SCMP_ACT_NOTIFY they would wait for an agent that has no descriptor yet.
const NEEDED_BEFORE_HANDOFF: &[&str] = &["sendmsg"];

/// How the filter is loaded and whom its listener goes to; kept in the container's state
/// so `exec` loads the same filter without the profile.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    /// `SECCOMP_FILTER_FLAG_*` bits.
    pub flags: u32,
    /// Where the listener descriptor goes (SCMP_ACT_NOTIFY is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_path: Option<PathBuf>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub listener_metadata: String,
}

/// A compiled filter, ready to load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    pub program: bpf::Chunk,
    pub settings: Settings,
}

/// Validates and compiles `s`, or takes its program from the cache in `cache_dir`.
pub fn prepare(s: &LinuxSeccomp, cache_dir: Option<&Path>) -> Result<Filter> {
    let settings = settings(s)?;
    let key = cache_dir.map(|_| cache::key(s));
    if let (Some(dir), Some(key)) = (cache_dir, &key) {
        if let Some(program) = cache::get(dir, key) {
            return Ok(Filter { program, settings });
        }
    }
    let program = compile::compile(s)?;
    if let (Some(dir), Some(key)) = (cache_dir, &key) {
        cache::put(dir, key, &program);
    }
    Ok(Filter { program, settings })
}

fn settings(s: &LinuxSeccomp) -> Result<Settings> {
    let mut flags = 0;
    for f in s.flags().iter().flatten() {
        flags |= match f {
            LinuxSeccompFilterFlag::SeccompFilterFlagLog => FLAG_LOG,
            LinuxSeccompFilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
            LinuxSeccompFilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
            LinuxSeccompFilterFlag::SeccompFilterFlagWaitKillableRecv => FLAG_WAIT_KILLABLE_RECV,
        };
    }
    let notify: Vec<&String> = s
        .syscalls()
        .iter()
        .flatten()
        .filter(|c| c.action() == LinuxSeccompAction::ScmpActNotify)
        .flat_map(|c| c.names())
        .collect();
    let mut out = Settings { flags, listener_path: None, listener_metadata: String::new() };
    if notify.is_empty() {
        return Ok(out);
    }
    let invalid = |reason: String| Error::SpecInvalid { field: "linux.seccomp".into(), reason };
    if let Some(n) = notify.iter().find(|n| NEEDED_BEFORE_HANDOFF.contains(&n.as_str())) {
        return Err(invalid(format!(
            "SCMP_ACT_NOTIFY cannot be used for {n}: hull needs it to hand the listener over"
        )));
    }
    let path = s.listener_path().clone().ok_or_else(|| invalid("SCMP_ACT_NOTIFY needs listenerPath".into()))?;
    if !path.is_absolute() {
        return Err(invalid(format!("listenerPath {} is not absolute", path.display())));
    }
    out.flags |= FLAG_NEW_LISTENER;
    if out.flags & FLAG_TSYNC != 0 {
        // The kernel takes TSYNC with NEW_LISTENER only in this form.
        out.flags |= FLAG_TSYNC_ESRCH;
    }
    out.listener_path = Some(path);
    out.listener_metadata = s.listener_metadata().clone().unwrap_or_default();
    Ok(out)
}

impl Filter {
    /// Puts the filter on the calling thread; returns the listener with NEW_LISTENER.
    /// Needs no_new_privs or CAP_SYS_ADMIN.
    pub fn load(&self) -> Result<Option<OwnedFd>> {
        let insns: Vec<libc::sock_filter> =
            self.program.0.iter().map(|i| libc::sock_filter { code: i.code, jt: i.jt, jf: i.jf, k: i.k }).collect();
        let prog = libc::sock_fprog { len: insns.len() as u16, filter: insns.as_ptr() as *mut libc::sock_filter };
        // SAFETY: `prog` points at `insns`, which outlives the call; the kernel copies it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                libc::SECCOMP_SET_MODE_FILTER,
                self.settings.flags as libc::c_ulong,
                &prog as *const libc::sock_fprog,
            )
        };
        if r < 0 {
            return Err(Error::io("load the seccomp filter", std::io::Error::last_os_error()));
        }
        if self.settings.flags & FLAG_NEW_LISTENER != 0 {
            // SAFETY: with NEW_LISTENER the kernel returns a new descriptor we now own.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(r as i32) }));
        }
        Ok(None)
    }
}
