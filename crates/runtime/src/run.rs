//! `run`: create + start + wait in one process that stays the init's parent, with the
//! container in our foreground (see `hull_container::foreground`).

use crate::cli::CreateArgs;
use crate::error::{Error, Result};
use crate::log::Logger;
use hull_container::container;
use hull_container::foreground::{block_forwarded_signals, own_console, recv_fd, wait};
use hull_container::state::StateStore;

pub fn run(
    store: &StateStore,
    args: &CreateArgs,
    detach: bool,
    keep: bool,
    systemd_cgroup: bool,
    log: &Logger,
) -> Result<i32> {
    let mut console = crate::connect_console(args)?;
    let mut own_pty = None;
    if console.is_none() {
        let spec = hull_container::spec::load_spec(&args.bundle.join("config.json"))?;
        if spec.process().as_ref().and_then(|p| p.terminal()).unwrap_or(false) {
            if detach {
                return Err(Error::Usage("a detached container with process.terminal needs --console-socket".into()));
            }
            let (ours, theirs) = own_console()?;
            console = Some(theirs);
            own_pty = Some(ours);
        }
    }
    let forward = block_forwarded_signals(!detach)?;
    let created = container::create(store, crate::create_options(args, console, systemd_cgroup))?;
    for w in &created.warnings {
        log.warn(w);
    }
    let result = (|| -> Result<i32> {
        let master = match &own_pty {
            Some(s) => Some(recv_fd(s)?),
            None => None,
        };
        crate::warn_all(log, container::start(store, &args.id)?);
        if detach {
            return Ok(0);
        }
        let io = master.map_or(hull_container::foreground::Io::None, hull_container::foreground::Io::Terminal);
        Ok(wait(created.pid, &created.pidfd, &forward, io)?)
    })();
    // A detached container lives on; a finished or failed one goes unless --keep.
    if result.is_err() || (!keep && !detach) {
        match container::delete(store, &args.id, true) {
            Ok(w) => crate::warn_all(log, w),
            Err(e) => log.error(&e.to_string()),
        }
    }
    result
}
