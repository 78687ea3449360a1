//! The command line: Docker's verbs and flags.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "hull", version, about = "A daemonless container engine", disable_help_subcommand = true)]
pub struct Cli {
    /// Where images, containers and volumes are stored [default: /var/lib/hull, or
    /// ~/.local/share/hull for an ordinary user]
    #[arg(long, global = true, env = "HULL_ROOT")]
    pub root: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List images
    Images(ListArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Give an image another name
    Tag(TagArgs),
    /// Remove images
    Rmi(RmiArgs),
    /// Load images from a docker-archive, oci-archive or OCI layout
    Load(LoadArgs),
    /// Save images to a docker-archive or oci-archive
    Save(SaveArgs),
    /// Make an image of a root filesystem (a tarball or a directory)
    Import(ImportArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
    /// Log in to a registry (credentials go to Docker's config.json)
    Login(LoginArgs),
    /// Log out from a registry
    Logout(LogoutArgs),
    /// The container verbs (run, ps, exec, …)
    #[command(flatten)]
    Containers(ContainerVerb),
    /// Manage volumes
    #[command(subcommand)]
    Volume(VolumeCommand),
    /// Manage hull itself
    #[command(subcommand)]
    System(SystemCommand),
    /// Display system-wide information
    Info(InfoArgs),
    /// Show the hull version information
    Version(InfoArgs),
    /// Get real time events from the engine
    Events(EventsArgs),
    /// Manage containers (Docker's `container` verbs)
    #[command(subcommand)]
    Container(ContainerCommand),
}

/// `hull container VERB`: the container verbs under Docker's management command.
#[derive(Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum ContainerCommand {
    #[command(flatten)]
    Verb(ContainerVerb),
    /// Remove all stopped containers
    Prune(PruneArgs),
}

/// The verbs on containers, both at the top (`hull ps`) and under `hull container`
/// (`hull container ls`).
#[derive(Subcommand, Debug)]
pub enum ContainerVerb {
    /// Create and run a new container from an image
    #[command(disable_help_flag = true)]
    Run(RunArgs),
    /// Create a new container
    #[command(disable_help_flag = true)]
    Create(CreateArgs),
    /// Start one or more stopped containers
    Start(StartArgs),
    /// Attach to a running container's input and output
    Attach(AttachArgs),
    /// List containers
    #[command(alias = "ls", alias = "list")]
    Ps(PsArgs),
    /// Fetch the logs of a container
    Logs(LogsArgs),
    /// Stop one or more running containers
    Stop(StopArgs),
    /// Restart one or more containers
    Restart(StopArgs),
    /// Kill one or more running containers
    Kill(KillArgs),
    /// Remove one or more containers
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(ContainersArgs),
    /// Pause all processes within one or more containers
    Pause(ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(ContainersArgs),
    /// Execute a command in a running container
    Exec(ExecArgs),
    /// Return low-level information on containers or images
    Inspect(InspectContainerArgs),
    /// Rename a container
    Rename(RenameArgs),
    /// Update the resource limits and restart policy of containers
    Update(UpdateArgs),
    /// Display the running processes of a container
    Top(TopArgs),
    /// Copy files between a container and the local filesystem
    Cp(CpArgs),
    /// Export a container's filesystem as a tar archive
    Export(ExportArgs),
    /// List the changes to files in a container's filesystem
    Diff(DiffArgs),
    /// Make a new image from a container's changes
    Commit(CommitArgs),
    /// Display a live stream of containers' resource usage
    Stats(StatsArgs),
    /// List a container's port mappings
    Port(PortArgs),
}

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show disk usage
    Df(DfArgs),
    /// Remove stopped containers, unused volumes (with --volumes) and unused images
    Prune(SystemPruneArgs),
    /// Display system-wide information
    Info(InfoArgs),
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

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short, long)]
    pub verbose: bool,
    /// `table` (default), `json` or a Go-style template
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Args, Debug)]
pub struct SystemPruneArgs {
    /// Remove all unused images, not only unnamed ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask (hull never asks; accepted for Docker's scripts)
    #[arg(short, long)]
    pub force: bool,
    /// Prune anonymous volumes too
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// `json` or a Go-style template
    #[arg(short, long)]
    pub format: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// List images
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Show images in detail (JSON)
    Inspect(InspectArgs),
    /// Give an image another name
    Tag(TagArgs),
    /// Remove images
    #[command(alias = "remove")]
    Rm(RmiArgs),
    /// Remove unnamed images (all unused with -a) and unreferenced content
    Prune(PruneArgs),
    /// Load images from an archive
    Load(LoadArgs),
    /// Save images to an archive
    Save(SaveArgs),
    /// Make an image of a root filesystem
    Import(ImportArgs),
    /// Download an image from a registry
    Pull(PullArgs),
    /// Upload an image to a registry
    Push(PushArgs),
}

#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only image IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Full image IDs
    #[arg(long)]
    pub no_trunc: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// `table` (default) or `json` (one object per line)
    #[arg(long)]
    pub format: Option<String>,
    /// Only this repository (and tag)
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove an image with several names by ID
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all images, not only unnamed ones
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask (hull never asks; accepted for Docker's scripts)
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The archive (or OCI layout directory) to read; standard input if not given
    #[arg(short, long)]
    pub input: Option<PathBuf>,
    /// Suppress the output
    #[arg(short, long)]
    pub quiet: bool,
    /// Which image of a multi-platform index (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to this file instead of standard output
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// docker-archive (default) or oci-archive
    #[arg(long, default_value = "docker-archive")]
    pub format: String,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A tarball (plain, gzip or zstd), a directory, or `-` for standard input
    pub source: String,
    /// The name to give the image
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct PullArgs {
    /// Only the image's name
    #[arg(short, long)]
    pub quiet: bool,
    /// Which image of a multi-platform index (os/arch[/variant]) [default: this host's]
    #[arg(long)]
    pub platform: Option<String>,
    /// Verify the registry's TLS certificate (false also allows plain HTTP)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,
    pub name: String,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// No progress output
    #[arg(short, long)]
    pub quiet: bool,
    /// Verify the registry's TLS certificate (false also allows plain HTTP)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,
    pub name: String,
    /// Push under another name (as `podman push IMAGE DESTINATION`)
    pub destination: Option<String>,
}

#[derive(Args, Debug)]
pub struct LoginArgs {
    #[arg(short, long)]
    pub username: Option<String>,
    #[arg(short, long)]
    pub password: Option<String>,
    /// Read the password from standard input
    #[arg(long)]
    pub password_stdin: bool,
    /// Verify the registry's TLS certificate
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub tls_verify: bool,
    /// The registry [default: Docker Hub]
    pub server: Option<String>,
}

#[derive(Args, Debug)]
pub struct LogoutArgs {
    pub server: Option<String>,
}

/// `hull run` and `hull create`: Docker's flags.
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
    /// Connect a container to a network (none, host; default: a private network namespace)
    #[arg(long, alias = "net", default_value = "private")]
    pub network: String,
    /// Logging driver: json-file (the default) or none
    #[arg(long, default_value = "json-file")]
    pub log_driver: String,
    /// Publish a container's port to the host (needs a bridge network: refused)
    #[arg(short = 'p', long)]
    pub publish: Vec<String>,
    /// Publish all exposed ports (needs a bridge network: refused)
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
    /// Pull image before running (missing, always, never)
    #[arg(long, default_value = "missing")]
    pub pull: String,
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
    /// Cgroup namespace: private or host (default: private on cgroup v2, host on v1)
    #[arg(long)]
    pub cgroupns: Option<String>,
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

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume
    Create(VolumeCreateArgs),
    /// List volumes
    #[command(alias = "list")]
    Ls(VolumeLsArgs),
    /// Display detailed information on one or more volumes
    Inspect(VolumeNamesArgs),
    /// Remove one or more volumes
    #[command(alias = "remove")]
    Rm(VolumeRmArgs),
    /// Remove unused anonymous volumes (all unused with -a)
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct VolumeCreateArgs {
    /// Set metadata for a volume
    #[arg(short, long)]
    pub label: Vec<String>,
    pub name: Option<String>,
}

#[derive(Args, Debug)]
pub struct VolumeLsArgs {
    /// Only display volume names
    #[arg(short, long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct VolumeNamesArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct VolumeRmArgs {
    /// Force the removal of one or more volumes
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
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
pub struct EventsArgs {
    /// Show all events created since timestamp
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp
    #[arg(long)]
    pub until: Option<String>,
    /// Filter output based on conditions provided (type=, container=, event=, image=, volume=, label=)
    #[arg(short, long)]
    pub filter: Vec<String>,
    /// Format the output: json, or a Go-style template
    #[arg(long)]
    pub format: Option<String>,
}
