//! The flags of the verbs on the engine as a whole: system df/prune/info, events, and
//! the volume verbs.

use clap::Args;

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
pub struct ServiceArgs {
    /// Seconds without a connection before the service exits (0: never)
    #[arg(short, long, default_value_t = 5)]
    pub time: u64,
    /// unix:///PATH (default: /run/hull/hull.sock as root, $XDG_RUNTIME_DIR/hull/hull.sock
    /// for a user)
    pub uri: Option<String>,
}

#[derive(Args, Debug)]
pub struct InfoArgs {
    /// `json` or a Go-style template
    #[arg(short, long)]
    pub format: Option<String>,
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

#[derive(Args, Debug)]
pub struct NetworkCreateArgs {
    /// Driver to manage the network (bridge, the only one)
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format, IPv4 or IPv6, once each (default: the next free /16 from
    /// 10.89.0.0/16; with --ipv6 a unique local /64)
    #[arg(long)]
    pub subnet: Vec<String>,
    /// Gateway for a subnet, IPv4 or IPv6 (default: its first address)
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Enable IPv6 networking (dual stack)
    #[arg(long)]
    pub ipv6: bool,
    /// Allocate container addresses from a sub-range
    #[arg(long)]
    pub ip_range: Option<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Set metadata on a network
    #[arg(long)]
    pub label: Vec<String>,
    /// Set driver specific options (mtu=N, com.docker.network.driver.mtu=N)
    #[arg(short, long)]
    pub opt: Vec<String>,
    pub name: String,
}

#[derive(Args, Debug)]
pub struct NetworkConnectArgs {
    /// Add a network-scoped alias for the container
    #[arg(long)]
    pub alias: Vec<String>,
    /// IPv4 address
    #[arg(long)]
    pub ip: Option<String>,
    /// IPv6 address
    #[arg(long)]
    pub ip6: Option<String>,
    /// MAC address
    #[arg(long)]
    pub mac_address: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct NetworkDisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short, long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct NetworkLsArgs {
    /// Only display network IDs
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
}

#[derive(Args, Debug)]
pub struct NetworkInspectArgs {
    /// Format the output using a Go-style template
    #[arg(short, long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct NetworkNamesArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct NetworkPruneArgs {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct NetworkReloadArgs {
    /// Every container's rules (the whole table is rewritten either way)
    #[arg(short, long)]
    pub all: bool,
    pub containers: Vec<String>,
}
