//! What a new container is made from, in the shape of the Docker Engine API's
//! `POST /containers/create` body: [`Config`] (the process, from the image and the
//! caller), [`HostConfig`] (how the engine runs it) and [`NetworkingConfig`], with
//! Docker's field names, so that the API server reads JSON straight into them and the
//! command line fills them from its flags. Zero means "not set" where it does in
//! Docker's API (`Memory: 0` is no limit).

use crate::health::Healthcheck;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Docker's `{}` in maps used as sets (`ExposedPorts`, `Volumes`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Empty {}

/// The create body: Config's fields at the top level, as Docker's.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CreateBody {
    #[serde(flatten)]
    pub config: Config,
    pub host_config: HostConfig,
    pub networking_config: NetworkingConfig,
}

/// Docker's `Config`: the container's process.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Config {
    pub hostname: String,
    pub domainname: String,
    pub user: String,
    pub attach_stdin: bool,
    pub attach_stdout: bool,
    pub attach_stderr: bool,
    /// `"80/tcp": {}`.
    pub exposed_ports: BTreeMap<String, Empty>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stdin_once: bool,
    pub env: Vec<String>,
    /// None: the image's.
    pub cmd: Option<Vec<String>>,
    /// None: the image's; `Test: ["NONE"]` turns it off; zero fields take the image's.
    pub healthcheck: Option<Healthcheck>,
    pub image: String,
    /// `--mac-address` as older clients send it (newer ones: the endpoint's).
    pub mac_address: String,
    /// Anonymous volumes at these paths: `"/data": {}`.
    pub volumes: BTreeMap<String, Empty>,
    pub working_dir: String,
    /// None: the image's; `[""]` none at all.
    pub entrypoint: Option<Vec<String>>,
    pub network_disabled: bool,
    pub labels: BTreeMap<String, String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<i64>,
    pub shell: Option<Vec<String>>,
}

/// Docker's `HostConfig`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct HostConfig {
    /// `SRC:DST[:OPTS]`: a host path (absolute SRC) or a named volume.
    pub binds: Vec<String>,
    pub log_config: LogConfig,
    /// `bridge`/`default` (hull's private network today), `none`, `host`.
    pub network_mode: String,
    pub port_bindings: BTreeMap<String, Vec<PortBinding>>,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    /// `CONTAINER[:ro|rw]`.
    pub volumes_from: Vec<String>,
    pub mounts: Vec<Mount>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// `private` or `host` (empty: the engine's default).
    pub cgroupns_mode: String,
    pub dns: Vec<String>,
    pub dns_options: Vec<String>,
    pub dns_search: Vec<String>,
    /// `HOST:IP`.
    pub extra_hosts: Vec<String>,
    pub group_add: Vec<String>,
    /// `private`, `shareable`, `host`, `container:NAME`.
    pub ipc_mode: String,
    pub oom_score_adj: i32,
    /// `host`, `container:NAME`.
    pub pid_mode: String,
    pub privileged: bool,
    pub publish_all_ports: bool,
    pub readonly_rootfs: bool,
    /// `seccomp=unconfined`, `seccomp=<profile JSON>`, `no-new-privileges[=BOOL]`,
    /// `systempaths=unconfined`, `label=…`, `apparmor=…`.
    pub security_opt: Vec<String>,
    /// Destination → mount options.
    pub tmpfs: BTreeMap<String, String>,
    #[serde(rename = "UTSMode")]
    pub uts_mode: String,
    pub userns_mode: String,
    pub shm_size: i64,
    pub sysctls: BTreeMap<String, String>,
    pub init: Option<bool>,
    pub annotations: BTreeMap<String, String>,
    #[serde(flatten)]
    pub resources: Resources,
}

/// Docker's `Resources` (part of HostConfig, and the body of `update`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Resources {
    pub cpu_shares: i64,
    pub memory: i64,
    /// CPUs in billionths (`--cpus 1.5` is 1500000000).
    pub nano_cpus: i64,
    pub cgroup_parent: String,
    pub blkio_weight: u16,
    pub blkio_weight_device: Vec<WeightDevice>,
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceReadIOps")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    #[serde(rename = "BlkioDeviceWriteIOps")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
    pub cpu_period: i64,
    pub cpu_quota: i64,
    pub cpu_realtime_period: i64,
    pub cpu_realtime_runtime: i64,
    pub cpuset_cpus: String,
    pub cpuset_mems: String,
    pub devices: Vec<DeviceMapping>,
    pub device_cgroup_rules: Vec<String>,
    pub kernel_memory: i64,
    pub memory_reservation: i64,
    /// -1: unlimited swap.
    pub memory_swap: i64,
    pub memory_swappiness: Option<i64>,
    pub oom_kill_disable: Option<bool>,
    /// Zero or -1: unlimited.
    pub pids_limit: Option<i64>,
    pub ulimits: Vec<Ulimit>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct LogConfig {
    /// `json-file` (the default when empty) or `none`.
    #[serde(rename = "Type")]
    pub kind: String,
    pub config: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RestartPolicy {
    /// `""`/`no`, `always`, `unless-stopped`, `on-failure`.
    pub name: String,
    pub maximum_retry_count: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PortBinding {
    pub host_ip: String,
    pub host_port: String,
}

/// Docker's `Mount` of `HostConfig.Mounts` (`--mount`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Mount {
    /// `bind`, `volume` or `tmpfs`.
    #[serde(rename = "Type")]
    pub kind: String,
    pub source: String,
    pub target: String,
    pub read_only: bool,
    pub bind_options: Option<BindOptions>,
    pub tmpfs_options: Option<TmpfsOptions>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct BindOptions {
    pub propagation: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct TmpfsOptions {
    pub size_bytes: i64,
    pub mode: u32,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeviceMapping {
    pub path_on_host: String,
    pub path_in_container: String,
    pub cgroup_permissions: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Ulimit {
    pub name: String,
    /// -1: unlimited.
    pub soft: i64,
    pub hard: i64,
}

/// Docker's `NetworkingConfig`: how a new container joins its network (by its name).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct NetworkingConfig {
    pub endpoints_config: BTreeMap<String, EndpointConfig>,
}

/// Docker's `EndpointSettings` as a create body gives it: the address (`--ip`) and MAC
/// (`--mac-address`) asked for.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct EndpointConfig {
    #[serde(rename = "IPAMConfig")]
    pub ipam_config: Option<EndpointIpamConfig>,
    pub aliases: Option<Vec<String>>,
    pub mac_address: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct EndpointIpamConfig {
    #[serde(rename = "IPv4Address")]
    pub ipv4_address: String,
    #[serde(rename = "IPv6Address")]
    pub ipv6_address: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_docker_create_body() {
        let body: CreateBody = serde_json::from_str(
            r#"{"Hostname":"","User":"","Tty":false,"Env":["A=1"],"Cmd":["sh","-c","true"],
                "Image":"busybox","Volumes":{"/data":{}},"ExposedPorts":{"80/tcp":{}},
                "Labels":{"a":"b"},"StopTimeout":5,
                "HostConfig":{"Binds":["/tmp:/t:ro"],"Memory":67108864,"NanoCpus":500000000,
                  "RestartPolicy":{"Name":"on-failure","MaximumRetryCount":3},"UTSMode":"host",
                  "Tmpfs":{"/run":"size=1m"},"Ulimits":[{"Name":"nofile","Soft":10,"Hard":20}],
                  "BlkioDeviceReadIOps":[{"Path":"/dev/sda","Rate":5}],"PidsLimit":null,
                  "LogConfig":{"Type":"json-file","Config":{"max-size":"1m"}}},
                "NetworkingConfig":{"EndpointsConfig":{}}}"#,
        )
        .unwrap();
        assert_eq!(body.config.cmd.as_deref(), Some(&["sh".to_string(), "-c".into(), "true".into()][..]));
        assert!(body.config.volumes.contains_key("/data"));
        assert_eq!(body.host_config.resources.memory, 64 << 20);
        assert_eq!(body.host_config.resources.nano_cpus, 500_000_000);
        assert_eq!(body.host_config.restart_policy.maximum_retry_count, 3);
        assert_eq!(body.host_config.uts_mode, "host");
        assert_eq!(body.host_config.resources.ulimits[0].hard, 20);
        assert_eq!(body.host_config.resources.blkio_device_read_iops[0].rate, 5);
        assert_eq!(body.host_config.log_config.config["max-size"], "1m");
        assert_eq!(body.config.stop_timeout, Some(5));
    }
}
