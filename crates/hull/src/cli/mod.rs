//! The command line: Docker's verbs and flags, parsed by clap into the argument
//! structs of [`containers`], [`images`] and [`system`] (one per verb); nothing here
//! acts.

mod containers;
mod images;
mod system;

pub use containers::*;
pub use images::*;
pub use system::*;

use clap::{Parser, Subcommand};
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
    /// Manage networks
    #[command(subcommand)]
    Network(NetworkCommand),
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
    /// Serve the Docker Engine API on a Unix socket (for docker, docker-compose, SDKs)
    Service(ServiceArgs),
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

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Create a network
    Create(NetworkCreateArgs),
    /// List networks
    #[command(alias = "list")]
    Ls(NetworkLsArgs),
    /// Display detailed information on one or more networks
    Inspect(NetworkInspectArgs),
    /// Remove one or more networks
    #[command(alias = "remove")]
    Rm(NetworkNamesArgs),
    /// Remove all unused networks
    Prune(NetworkPruneArgs),
    /// Rewrite hull's firewall rules (after a firewall reload wiped them) and restart
    /// networks' resolvers
    Reload(NetworkReloadArgs),
    /// Connect a container to a network
    Connect(NetworkConnectArgs),
    /// Disconnect a container from a network
    Disconnect(NetworkDisconnectArgs),
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
