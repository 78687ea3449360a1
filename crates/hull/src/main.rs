//! hull: the engine's command line, with Docker's verbs and habits. Each verb parses
//! its flags here and calls the libraries (hull-image for images); output formats are
//! in the verb's module.

mod cli;
mod images;
mod registry;

use clap::Parser;
use cli::{Cli, Command, ImageCommand};
use hull_image::store::Store;

fn main() {
    raise_nofile();
    let cli = Cli::parse();
    let root = cli.root.clone().unwrap_or_else(Store::default_root);
    let code = match run(&root, cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("Error: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn run(root: &std::path::Path, cli: Cli) -> Result<i32, hull_image::Error> {
    let store = Store::open(root)?;
    match cli.command {
        Command::Images(a) => images::list(&store, &a),
        Command::Image(ImageCommand::Ls(a)) => images::list(&store, &a),
        Command::Image(ImageCommand::Inspect(a)) => images::inspect(&store, &a),
        Command::Tag(a) | Command::Image(ImageCommand::Tag(a)) => images::tag(&store, &a),
        Command::Rmi(a) | Command::Image(ImageCommand::Rm(a)) => images::remove(&store, &a),
        Command::Image(ImageCommand::Prune(a)) => images::prune(&store, &a),
        Command::Load(a) | Command::Image(ImageCommand::Load(a)) => images::load(&store, &a),
        Command::Save(a) | Command::Image(ImageCommand::Save(a)) => images::save(&store, &a),
        Command::Import(a) | Command::Image(ImageCommand::Import(a)) => images::import(&store, &a),
        Command::Pull(a) | Command::Image(ImageCommand::Pull(a)) => registry::pull(&store, &a),
        Command::Push(a) | Command::Image(ImageCommand::Push(a)) => registry::push(&store, &a),
        Command::Login(a) => registry::login(&a),
        Command::Logout(a) => registry::logout(&a),
    }
}

/// Opens files up to the hard limit, as Go programs (Docker, Podman) do: removing a
/// deep tree holds a descriptor per level, and layers may be that deep.
fn raise_nofile() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < hard {
            let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
        }
    }
}
