//! The lifecycle operations, one file each. Every operation follows the same steps:
//! lock the container's state directory, derive its live status, check the guard in
//! [`crate::status`], act, save.

mod create;
mod delete;
mod events;
mod exec;
mod kill;
mod pause;
mod ps;
mod start;
mod update;

pub use create::{create, CreateOptions, Created};
pub use delete::delete;
pub use events::{stats_event, watch};
pub use exec::{exec, ExecOptions, Execed};
pub use kill::kill;
pub use pause::{pause, resume};
pub use ps::pids;
pub use start::start;
pub use update::update;

use crate::error::{Error, Result};
use crate::state::{ContainerDir, OciState, StateFile, StateStore};
use crate::status::Status;

/// A container's state file and live status, with its directory locked.
pub struct Loaded {
    pub dir: ContainerDir,
    pub state: StateFile,
    pub status: Status,
}

/// Opens a container that has finished `create`.
pub fn load(store: &StateStore, id: &str) -> Result<Loaded> {
    let dir = store.open(id)?;
    let state = dir.load()?.ok_or_else(|| Error::BadStatus {
        id: id.to_owned(),
        status: Status::Creating,
        reason: "it is still being created",
    })?;
    let status = dir.status(Some(&state));
    Ok(Loaded { dir, state, status })
}

/// The OCI state document of a container.
pub fn state(store: &StateStore, id: &str) -> Result<OciState> {
    let l = load(store, id)?;
    Ok(OciState::new(&l.state, l.status).with_owner(l.state.owner))
}

/// The state documents of every container in the store (those still being created
/// are listed with what is known).
pub fn list(store: &StateStore) -> Result<Vec<OciState>> {
    let mut out = Vec::new();
    for id in store.list()? {
        match load(store, &id) {
            Ok(l) => out.push(OciState::new(&l.state, l.status).with_owner(l.state.owner)),
            Err(Error::NotFound(_)) | Err(Error::BadStatus { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

pub(crate) fn bad(id: &str, status: Status, reason: &'static str) -> Error {
    Error::BadStatus { id: id.to_owned(), status, reason }
}
