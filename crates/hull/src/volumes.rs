//! `hull volume create|ls|inspect|rm|prune`: hull-engine's volumes.

use crate::cli::VolumeCommand;
use crate::format::print_table;
use hull_engine::error::Result;
use hull_engine::Engine;

pub fn volume(engine: &Engine, cmd: &VolumeCommand) -> Result<i32> {
    match cmd {
        VolumeCommand::Create(a) => {
            let name = match &a.name {
                Some(n) => n.clone(),
                None => hull_engine::new_id()?,
            };
            let labels = a
                .label
                .iter()
                .map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.into(), v.into())))
                .collect();
            engine.volume(&name, false, labels)?;
            println!("{name}");
            Ok(0)
        }
        VolumeCommand::Ls(a) => {
            let mut rows = vec![vec!["DRIVER".to_string(), "VOLUME NAME".into()]];
            for n in engine.volume_names()? {
                if a.quiet {
                    println!("{n}");
                } else {
                    rows.push(vec!["local".into(), n]);
                }
            }
            if !a.quiet {
                print_table(&mut std::io::stdout().lock(), &rows);
            }
            Ok(0)
        }
        VolumeCommand::Inspect(a) => {
            let out = a.names.iter().map(|n| engine.inspect_volume(n)).collect::<Result<Vec<_>>>()?;
            println!("{}", serde_json::to_string_pretty(&out)?);
            Ok(0)
        }
        VolumeCommand::Rm(a) => {
            let mut status = 0;
            for n in &a.names {
                match engine.remove_volume(n, a.force) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("Error: {e}");
                        status = 1;
                    }
                }
            }
            Ok(status)
        }
        VolumeCommand::Prune(a) => {
            println!("Deleted Volumes:");
            for n in engine.prune_volumes(a.all)? {
                println!("{n}");
            }
            Ok(0)
        }
    }
}
