//! The image verbs' flags: images, inspect, tag, rmi, prune, load, save, import, pull,
//! push, login, logout.

use clap::{Args, ValueEnum};
use std::path::PathBuf;

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
    /// The archive's format
    #[arg(long, value_enum, default_value_t = ArchiveFormat::DockerArchive)]
    pub format: ArchiveFormat,
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

/// `save --format`.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArchiveFormat {
    /// `docker save`'s (manifest.json with RepoTags)
    #[value(alias = "docker")]
    DockerArchive,
    /// An OCI image layout in a tar
    #[value(alias = "oci")]
    OciArchive,
}
