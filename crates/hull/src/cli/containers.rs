//! The container verbs' flags: create/run (Docker's long list), start, attach, ps,
//! logs, stop, kill, rm, exec, inspect, rename, top, update, cp, export, diff, commit,
//! stats, port.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

/// `hull run` and `hull create`: Docker's flags.
/// `--pull`: when the image is pulled.
#[derive(ValueEnum, Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PullPolicy {
    /// When it is not in the store
    #[default]
    Missing,
    Always,
    Never,
}

/// `--cgroupns`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupnsMode {
    Private,
    Host,
}

#[derive(Args, Debug, Clone, Default)]
pub struct CreateArgs {
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long)]
    pub env_file: Vec<PathBuf>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Print help (-h is --hostname, as Docker's)
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Bind mount a volume (SRC:DST[:ro|rw])
    #[arg(short, long)]
    pub volume: Vec<String>,
    /// Attach a filesystem mount (type=bind|volume|tmpfs,source=…,target=…[,readonly])
    #[arg(long)]
    pub mount: Vec<String>,
    /// Mount a tmpfs directory (DST[:OPTIONS])
    #[arg(long)]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem as read only
    #[arg(long)]
    pub read_only: bool,
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Ulimit options (nofile=1024:2048)
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Add Linux capabilities
    #[arg(long)]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long)]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Security options (seccomp=FILE|unconfined, no-new-privileges)
    #[arg(long)]
    pub security_opt: Vec<String>,
    /// Add a host device to the container (HOST[:CONTAINER[:PERMS]])
    #[arg(long)]
    pub device: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Restart policy (no, on-failure[:max-retries], always, unless-stopped)
    #[arg(long, default_value = "no")]
    pub restart: String,
    /// Signal to stop the container
    #[arg(long)]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long)]
    pub stop_timeout: Option<u64>,
    /// Set meta data on a container
    #[arg(short, long)]
    pub label: Vec<String>,
    /// Connect a container to a network: bridge (the default network), none, host or a
    /// network's name (repeat it for several networks)
    #[arg(long, alias = "net")]
    pub network: Vec<String>,
    /// Add a network-scoped alias for the container (on its first network)
    #[arg(long, alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address on the container's (user-defined) network
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address on the container's (dual-stack, user-defined) network
    #[arg(long)]
    pub ip6: Option<String>,
    /// Container MAC address (e.g. 92:d0:c6:0a:29:33)
    #[arg(long)]
    pub mac_address: Option<String>,
    /// Logging driver: json-file (the default) or none
    #[arg(long, default_value = "json-file")]
    pub log_driver: String,
    /// Publish a container's port to the host: [IP:][HOSTPORT[-LAST]:]PORT[-LAST][/PROTO]
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Publish every exposed port to a free host port
    #[arg(short = 'P', long)]
    pub publish_all: bool,
    /// Expose a port or a range of ports (PORT[/PROTO], 8000-8010/udp)
    #[arg(long)]
    pub expose: Vec<String>,
    /// Log driver options (max-size=10m, max-file=3)
    #[arg(long)]
    pub log_opt: Vec<String>,
    /// Set platform if the image is multi-platform
    #[arg(long)]
    pub platform: Option<String>,
    /// Pull image before running
    #[arg(long, value_enum, default_value_t = PullPolicy::Missing)]
    pub pull: PullPolicy,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Write the container ID to the file
    #[arg(long)]
    pub cidfile: Option<PathBuf>,
    /// Add a custom host-to-IP mapping (HOST:IP)
    #[arg(long)]
    pub add_host: Vec<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set custom DNS search domains
    #[arg(long)]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long, alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Size of /dev/shm (e.g. 128m)
    #[arg(long)]
    pub shm_size: Option<String>,
    /// Namespaced kernel parameters (e.g. net.ipv4.ip_forward=1)
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Add additional groups to join
    #[arg(long)]
    pub group_add: Vec<String>,
    /// Tune the host's OOM preferences (-1000 to 1000)
    #[arg(long, allow_hyphen_values = true)]
    pub oom_score_adj: Option<i32>,
    /// Disable the OOM killer
    #[arg(long)]
    pub oom_kill_disable: bool,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Tune container memory swappiness (0 to 100)
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swappiness: Option<i64>,
    /// Add an annotation to the container (passed through to the runtime)
    #[arg(long)]
    pub annotation: Vec<String>,
    /// Add a rule to the cgroup allowed devices list ('c 1:3 rwm', 'b 8:* r')
    #[arg(long)]
    pub device_cgroup_rule: Vec<String>,
    /// Mount volumes from the specified container(s) (CONTAINER[:ro|rw])
    #[arg(long)]
    pub volumes_from: Vec<String>,
    /// Limit the CPU real-time runtime in microseconds (cgroup v1)
    #[arg(long)]
    pub cpu_rt_runtime: Option<i64>,
    /// Limit the CPU real-time period in microseconds (cgroup v1)
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// Read in a line delimited file of labels
    #[arg(long)]
    pub label_file: Vec<PathBuf>,
    /// Suppress the pull output
    #[arg(short, long)]
    pub quiet: bool,
    /// Skip image verification (accepted: hull verifies no signatures)
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub disable_content_trust: Option<String>,
    /// Command to run to check health
    #[arg(long)]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long)]
    pub health_interval: Option<String>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long)]
    pub health_timeout: Option<String>,
    /// Start period for the container to initialize before failures count (ms|s|m|h)
    #[arg(long)]
    pub health_start_period: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long)]
    pub health_retries: Option<u32>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Block IO weight for one device (PATH:WEIGHT)
    #[arg(long)]
    pub blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device (PATH:RATE, e.g. /dev/sda:1mb)
    #[arg(long)]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device (PATH:RATE)
    #[arg(long)]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device (PATH:RATE)
    #[arg(long)]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device (PATH:RATE)
    #[arg(long)]
    pub device_write_iops: Vec<String>,
    /// Kernel memory limit (deprecated: accepted and ignored, as Docker 23 does)
    #[arg(long)]
    pub kernel_memory: Option<String>,
    /// Parent cgroup of the container's cgroup (default /hull)
    #[arg(long)]
    pub cgroup_parent: Option<String>,
    /// Cgroup namespace (default: private on cgroup v2, host on v1)
    #[arg(long, value_enum)]
    pub cgroupns: Option<CgroupnsMode>,
    /// IPC mode: private, shareable, host or container:NAME
    #[arg(long)]
    pub ipc: Option<String>,
    /// PID namespace: host or container:NAME (default: its own)
    #[arg(long)]
    pub pid: Option<String>,
    /// UTS namespace: host (default: its own)
    #[arg(long)]
    pub uts: Option<String>,
    /// User namespace: host (a rootful container shares the host's)
    #[arg(long)]
    pub userns: Option<String>,
    /// The image
    pub image: String,
    /// The command and its arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// The resource flags of `run`/`create`, which `update` changes.
#[derive(Args, Debug, Clone, Default)]
pub struct ResourceArgs {
    /// Memory limit (e.g. 64m)
    #[arg(short, long)]
    pub memory: Option<String>,
    /// Memory plus swap limit; -1 for unlimited swap
    #[arg(long)]
    pub memory_swap: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<f64>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long)]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (-1 for unlimited)
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Memory soft limit
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Limit the CPU CFS (Completely Fair Scheduler) period
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// Limit the CPU CFS quota (-1 for none)
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// Memory nodes in which to allow execution (0-3, 0,1)
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Block IO weight (10 to 1000)
    #[arg(long)]
    pub blkio_weight: Option<u16>,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short, long)]
    pub detach: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Attach to STDIN, STDOUT or STDERR
    #[arg(short, long)]
    pub attach: Vec<String>,
    /// Proxy received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short, long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short, long)]
    pub interactive: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Start every stopped container (that the filters select), as Podman's
    #[arg(long, conflicts_with_all = ["attach", "interactive"])]
    pub all: bool,
    /// With --all: only containers that match (restart-policy=always, label=K=V, …)
    #[arg(long, requires = "all")]
    pub filter: Vec<String>,
    #[arg(required_unless_present = "all")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Override the key sequence for detaching a container
    #[arg(long)]
    pub detach_keys: Option<String>,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub sig_proxy: bool,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Display total file sizes
    #[arg(short, long)]
    pub size: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Show the latest created container
    #[arg(short, long)]
    pub latest: bool,
    /// Filter output based on conditions provided (name=, id=, status=, label=, ancestor=, exited=)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// table (default), json, or a Go-style template ({{.ID}} {{.Names}} …)
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogsArgs {
    /// Follow log output
    #[arg(short, long)]
    pub follow: bool,
    /// Number of lines to show from the end of the logs ("all" for all)
    #[arg(short = 'n', long)]
    pub tail: Option<String>,
    /// Show timestamps
    #[arg(short, long)]
    pub timestamps: bool,
    /// Show logs since a timestamp (RFC 3339) or relative (e.g. 42m)
    #[arg(long)]
    pub since: Option<String>,
    /// Show logs before a timestamp or relative
    #[arg(long)]
    pub until: Option<String>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container
    #[arg(short, long, allow_hyphen_values = true)]
    pub time: Option<i64>,
    /// Signal to send to the container
    #[arg(short, long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short, long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short, long)]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ContainersArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short, long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short, long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short, long)]
    pub env: Vec<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short, long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    pub workdir: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    /// Write the process's host pid to this file (the monitor's health probes)
    #[arg(long, hide = true)]
    pub pid_file: Option<PathBuf>,
    /// The API's exec instance this runs (its exec_create is logged already)
    #[arg(long, hide = true)]
    pub exec_id: Option<String>,
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectContainerArgs {
    /// Format the output using a Go-style template
    #[arg(short, long)]
    pub format: Option<String>,
    /// Inspect containers or images (container, image)
    #[arg(long = "type")]
    pub kind: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    pub container: String,
    /// ps options (accepted; hull prints PID, PPID and command)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub resources: ResourceArgs,
    /// Restart policy to apply when the container exits
    #[arg(long)]
    pub restart: Option<String>,
    /// The containers
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode: keep the files' owners (uid and gid)
    #[arg(short, long)]
    pub archive: bool,
    /// Follow a symbolic link given as the source
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Accepted for Docker's scripts (hull prints no progress)
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, a local path, or `-` (a tar stream on standard input)
    pub source: String,
    /// CONTAINER:DEST_PATH, a local path, or `-` (a tar stream on standard output)
    pub destination: String,
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to a file instead of standard output
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub container: String,
}

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// Author (e.g. "Jane Doe <jane@example.com>")
    #[arg(short, long)]
    pub author: Option<String>,
    /// Apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE,
    /// LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR)
    #[arg(short, long)]
    pub change: Vec<String>,
    /// Commit message
    #[arg(short, long)]
    pub message: Option<String>,
    /// Pause the container while committing
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub pause: bool,
    pub container: String,
    /// REPOSITORY[:TAG]
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    pub all: bool,
    /// Print one sample and exit
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// `table` (default), `json` or a Go-style template
    #[arg(long)]
    pub format: Option<String>,
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}
