//! A Docker seccomp profile (`--security-opt seccomp=…`) as the runtime-spec's
//! `linux.seccomp`: its conditions on capabilities resolved, Docker-only keys dropped.

use super::*;

/// A Docker profile file: its `includes`/`excludes` by capability resolved and the
/// Docker-only keys dropped, leaving a runtime-spec `linux.seccomp`.
pub(super) fn docker_profile(mut v: Value, caps: &[String]) -> Value {
    if let Some(list) = v.get_mut("syscalls").and_then(Value::as_array_mut) {
        list.retain(|s| {
            let needs = s.pointer("/includes/caps").and_then(Value::as_array);
            let refuses = s.pointer("/excludes/caps").and_then(Value::as_array);
            let held = |l: &Vec<Value>| l.iter().filter_map(Value::as_str).any(|c| caps.iter().any(|x| x == c));
            needs.is_none_or(held) && !refuses.is_some_and(held)
        });
        for s in list.iter_mut() {
            if let Some(o) = s.as_object_mut() {
                o.remove("includes");
                o.remove("excludes");
                o.remove("comment");
            }
        }
    }
    if let Some(o) = v.as_object_mut() {
        if let Some(m) = o.remove("archMap") {
            let archs: Vec<Value> = m
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["architecture"] == "SCMP_ARCH_X86_64")
                .flat_map(|a| {
                    std::iter::once(a["architecture"].clone())
                        .chain(a["subArchitectures"].as_array().cloned().unwrap_or_default())
                })
                .collect();
            o.insert("architectures".into(), archs.into());
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn docker_profiles_resolve_capability_conditions() {
        let v = json!({"defaultAction": "SCMP_ACT_ERRNO",
        "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86"]}],
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN"]}, "comment": "x"}
        ]});
        let p = docker_profile(v, &["CAP_CHOWN".into()]);
        let names: Vec<&str> =
            p["syscalls"].as_array().unwrap().iter().map(|s| s["names"][0].as_str().unwrap()).collect();
        assert_eq!(names, ["read", "clone"]);
        assert_eq!(p["architectures"], json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"]));
        let _: oci_spec::runtime::LinuxSeccomp = serde_json::from_value(p).unwrap();
    }
}
