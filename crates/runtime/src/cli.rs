//! runc's command line, as clap types. Flags runc has that hull accepts without effect
//! are marked so (`--criu`, `--no-subreaper`).

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "hull-runtime", version, about = "An OCI container runtime with runc's command line")]
pub struct Cli {
    /// Directory for container state (tmpfs recommended) [default: /run/hull-runtime as
    /// root, else $XDG_RUNTIME_DIR/hull-runtime or /run/user/UID/hull-runtime].
    #[arg(long, global = true)]
    pub root: Option<PathBuf>,
    /// Write log lines to this file instead of stderr.
    #[arg(long, global = true)]
    pub log: Option<PathBuf>,
    /// Format of log lines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Log debug messages too.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (slice:prefix:name paths).
    #[arg(long, global = true)]
    pub systemd_cgroup: bool,
    /// Accepted for runc compatibility; checkpointing is not supported.
    #[arg(long, global = true, hide = true)]
    pub criu: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Path to the bundle directory.
    #[arg(short, long, default_value = ".")]
    pub bundle: PathBuf,
    /// Unix socket to send the pty master to when process.terminal is set.
    #[arg(long)]
    pub console_socket: Option<PathBuf>,
    /// File to write the init's pid to.
    #[arg(long)]
    pub pid_file: Option<PathBuf>,
    /// Use MS_MOVE and chroot instead of pivot_root.
    #[arg(long)]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long)]
    pub no_new_keyring: bool,
    /// Pass this many extra descriptors (from 3) to the container.
    #[arg(long, default_value_t = 0)]
    pub preserve_fds: u32,
    /// Block I/O weight (10 to 1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Realtime period in microseconds (cgroup v1).
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime in microseconds (cgroup v1).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// Accepted for runc compatibility; kernel memory limits are ignored.
    #[arg(long)]
    pub kernel_memory: Option<String>,
    /// Accepted for runc compatibility; kernel TCP memory limits are ignored.
    #[arg(long)]
    pub kernel_memory_tcp: Option<String>,
    /// Container id.
    pub id: String,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a container from a bundle; it waits for `start`.
    Create(CreateArgs),
    /// Run the user's program of a created container.
    Start { id: String },
    /// Print the state of a container as JSON.
    State { id: String },
    /// Send a signal (default SIGTERM) to a container's init.
    Kill {
        /// Signal every process in the container.
        #[arg(short, long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and everything it holds.
    Delete {
        /// Kill a running container first.
        #[arg(short, long)]
        force: bool,
        id: String,
    },
    /// Create and start a container, wait for it and exit with its status.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Return once the container started.
        #[arg(short, long)]
        detach: bool,
        /// Keep the container's state after it exits.
        #[arg(long)]
        keep: bool,
        /// Accepted for runc compatibility.
        #[arg(long, hide = true)]
        no_subreaper: bool,
    },
    /// List containers.
    List {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        /// Print only the ids.
        #[arg(short, long)]
        quiet: bool,
    },
    /// Run another process inside a container.
    Exec(crate::exec::ExecArgs),
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List a container's processes (`ps` output filtered to them, or pids as JSON).
    Ps {
        #[arg(short, long, value_enum, default_value_t = ListFormat::Table)]
        format: ListFormat,
        id: String,
        /// Options for ps(1) (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Print cgroup statistics (`--stats` once) or stream stats and OOM events.
    Events {
        /// Print one stats event and exit.
        #[arg(long)]
        stats: bool,
        /// Time between stats events when streaming (e.g. 5s, 500ms).
        #[arg(long, default_value = "5s")]
        interval: humantime::Duration,
        id: String,
    },
    /// Change a live container's resource limits.
    Update(UpdateArgs),
    /// Write a default config.json.
    Spec {
        #[arg(short, long, default_value = ".")]
        bundle: PathBuf,
        /// A config for an ordinary user.
        #[arg(long)]
        rootless: bool,
    },
    /// Print the runtime-spec features document.
    Features,
}

#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    /// linux.resources JSON from a file, or - for stdin (what Docker and containerd send).
    #[arg(short, long)]
    pub resources: Option<PathBuf>,
    /// Memory limit (bytes, or with k/m/g).
    #[arg(long)]
    pub memory: Option<String>,
    /// Memory soft limit.
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of processes (-1 or 0 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// CPU shares (relative weight).
    #[arg(long)]
    pub cpu_share: Option<u64>,
    /// CFS period in microseconds.
    #[arg(long)]
    pub cpu_period: Option<u64>,
    /// CFS quota in microseconds (-1 for unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPUs the container may use (e.g. 0-1).
    #[arg(long)]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes the container may use.
    #[arg(long)]
    pub cpuset_mems: Option<String>,
    /// Block I/O weight (10 to 1000).
    #[arg(long)]
    pub blkio_weight: Option<u16>,
    /// Realtime period in microseconds (cgroup v1).
    #[arg(long)]
    pub cpu_rt_period: Option<u64>,
    /// Realtime runtime in microseconds (cgroup v1).
    #[arg(long, allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// Accepted for runc compatibility; kernel memory limits are ignored.
    #[arg(long)]
    pub kernel_memory: Option<String>,
    /// Accepted for runc compatibility; kernel TCP memory limits are ignored.
    #[arg(long)]
    pub kernel_memory_tcp: Option<String>,
    /// Container id.
    pub id: String,
}
