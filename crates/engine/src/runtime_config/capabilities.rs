//! The capability set of a container: Docker's defaults with `--cap-add`/`--cap-drop`,
//! or under `--privileged` every capability the engine itself holds.

use super::*;

/// Every capability this process may pass on (its bounding set): a privileged
/// container gets what the engine has, not more, as Docker does.
pub(super) fn all_caps() -> Vec<String> {
    let bounding = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix("CapBnd:")).and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    CAPS.iter().enumerate().filter(|(i, _)| bounding & (1 << i) != 0).map(|(_, (_, n))| n.to_string()).collect()
}

/// The effective capability set for the flags.
pub fn capabilities(privileged: bool, add: &[String], drop: &[String]) -> Result<Vec<String>> {
    if privileged {
        return Ok(all_caps());
    }
    let add: Vec<String> = add.iter().map(|c| canonical(c)).collect();
    let drop: Vec<String> = drop.iter().map(|c| canonical(c)).collect();
    for c in add.iter().chain(&drop) {
        if c != "ALL" && hull_container::capabilities::parse(c).is_none() {
            return Err(Error::Invalid(format!("unknown capability: {c:?}")));
        }
    }
    let mut caps: Vec<String> = if drop.iter().any(|c| c == "ALL") {
        Vec::new()
    } else {
        DEFAULT_CAPS.iter().map(|c| c.to_string()).filter(|c| !drop.contains(c)).collect()
    };
    if add.iter().any(|c| c == "ALL") {
        caps = all_caps().into_iter().filter(|c| !drop.contains(c)).collect();
    } else {
        for c in add {
            if !caps.contains(&c) {
                caps.push(c);
            }
        }
    }
    Ok(caps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_as_docker() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let c = capabilities(false, &[], &[]).unwrap();
        assert_eq!(c.len(), 14);
        let c = capabilities(false, &s(&["net_admin"]), &s(&["CHOWN"])).unwrap();
        assert!(c.contains(&"CAP_NET_ADMIN".into()) && !c.contains(&"CAP_CHOWN".into()));
        let c = capabilities(false, &s(&["SYS_TIME"]), &s(&["ALL"])).unwrap();
        assert_eq!(c, ["CAP_SYS_TIME"]);
        assert!(capabilities(true, &[], &[]).unwrap().len() > 30);
        assert!(capabilities(false, &s(&["BOGUS"]), &[]).is_err());
    }
}
