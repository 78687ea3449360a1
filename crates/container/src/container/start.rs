//! `start`: release a created container's init through its exec fifo, then run the
//! poststart hooks.

use super::{bad, load};
use crate::error::{Error, Result};
use crate::hooks::{self, Kind};
use crate::state::{OciState, StateStore};
use crate::status::Status;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;

/// Starts the user's program. Returns the warnings of failed poststart hooks (the spec
/// says they do not stop the container).
pub fn start(store: &StateStore, id: &str) -> Result<Vec<Error>> {
    let l = load(store, id)?;
    l.status.can_start().map_err(|r| bad(id, l.status, r))?;
    let fifo = l.dir.fifo_path();
    let mut f = match std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(&fifo) {
        Ok(f) => f,
        // No reader: the init died after create.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => {
            return Err(bad(id, Status::Stopped, "cannot start a container that has stopped"))
        }
        Err(e) => return Err(Error::io(format!("open {}", fifo.display()), e)),
    };
    f.write_all(b"0").map_err(|e| Error::io(format!("write {}", fifo.display()), e))?;
    drop(f);
    std::fs::remove_file(&fifo).map_err(|e| Error::io(format!("remove {}", fifo.display()), e))?;
    let json = OciState::new(&l.state, Status::Running).to_json();
    Ok(Kind::Poststart.of(&l.state.hooks).iter().filter_map(|h| hooks::run(Kind::Poststart, h, &json).err()).collect())
}
