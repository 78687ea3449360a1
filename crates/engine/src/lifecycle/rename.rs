//! Rename: the new name claimed before the record changes, the old one released after.

use crate::error::{Error, Result};
use crate::Engine;

impl Engine {
    /// Gives a container a new name (a leading `/` is dropped, as Docker's).
    pub fn rename(&self, id: &str, new_name: &str) -> Result<()> {
        let _lock = self.lock(id)?;
        let mut r = self.record(id)?;
        let new = new_name.strip_prefix('/').unwrap_or(new_name);
        if new == r.name {
            return Err(Error::Conflict("Renaming a container with the same name as its current name".into()));
        }
        self.claim_name(new, id)?;
        let old = std::mem::replace(&mut r.name, new.to_owned());
        if let Err(e) = self.save_record(&r) {
            self.release_name(new, id);
            return Err(e);
        }
        self.release_name(&old, id);
        // Its user-defined networks' resolvers answer to the new name at once.
        for ep in r.host.endpoints().iter().filter(|e| e.network != hull_network::DEFAULT) {
            if let Ok(n) = self.networks.get(&ep.network) {
                self.networks.ipam(&n).set_names(id, &r.dns_names(ep))?;
            }
        }
        self.container_event(&r, "rename", &[("oldName", format!("/{old}"))]);
        Ok(())
    }
}
