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
