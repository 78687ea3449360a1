//! `hull network create|ls|inspect|rm|prune|reload|connect|disconnect`: hull-engine's
//! networks.

use crate::cli::NetworkCommand;
use crate::format::print_table;
use hull_engine::error::{Error, Result};
use hull_engine::Engine;

pub fn network(engine: &Engine, cmd: &NetworkCommand) -> Result<i32> {
    match cmd {
        NetworkCommand::Create(a) => {
            if a.driver != "bridge" {
                return Err(Error::Invalid(format!("network driver {:?} is not supported (bridge)", a.driver)));
            }
            let parse_subnet = |s: &Option<String>| -> Result<Option<hull_network::Subnet>> {
                s.as_deref()
                    .map(|s| s.parse().map_err(|e: hull_network::Error| Error::Invalid(e.to_string())))
                    .transpose()
            };
            let mut mtu = None;
            for o in &a.opt {
                match o.split_once('=') {
                    Some(("mtu" | "com.docker.network.driver.mtu", v)) => {
                        mtu = Some(v.parse().map_err(|_| Error::Invalid(format!("invalid mtu {v:?}")))?)
                    }
                    _ => return Err(Error::Invalid(format!("unsupported network option {o:?} (mtu=N)"))),
                }
            }
            let mut c = hull_network::CreateNetwork {
                name: a.name.clone(),
                ip_range: parse_subnet(&a.ip_range)?,
                internal: a.internal,
                labels: a
                    .label
                    .iter()
                    .map(|l| l.split_once('=').map_or((l.clone(), String::new()), |(k, v)| (k.into(), v.into())))
                    .collect(),
                mtu,
                ipv6: a.ipv6,
                ..Default::default()
            };
            for s in &a.subnet {
                c.add_subnet(s)?;
            }
            for g in &a.gateway {
                c.add_gateway(g)?;
            }
            let n = engine.create_network(&c)?;
            println!("{}", n.id);
            Ok(0)
        }
        NetworkCommand::Ls(a) => {
            let mut rows = vec![vec!["NETWORK ID".to_string(), "NAME".into(), "DRIVER".into(), "SCOPE".into()]];
            for n in engine.list_networks()? {
                let id = if a.no_trunc { n.id.clone() } else { n.id[..12].to_string() };
                if a.quiet {
                    println!("{id}");
                } else {
                    rows.push(vec![id, n.name, n.driver, "local".into()]);
                }
            }
            if !a.quiet {
                print_table(&mut std::io::stdout().lock(), &rows);
            }
            Ok(0)
        }
        NetworkCommand::Inspect(a) => {
            let out = a.names.iter().map(|n| engine.inspect_network(n)).collect::<Result<Vec<_>>>()?;
            match &a.format {
                Some(t) => {
                    for n in &out {
                        println!("{}", crate::format::template(t, &serde_json::to_value(n)?));
                    }
                }
                None => println!("{}", serde_json::to_string_pretty(&out)?),
            }
            Ok(0)
        }
        NetworkCommand::Rm(a) => {
            let mut status = 0;
            for n in &a.names {
                match engine.remove_network(n) {
                    Ok(()) => println!("{n}"),
                    Err(e) => {
                        eprintln!("Error: {e}");
                        status = 1;
                    }
                }
            }
            Ok(status)
        }
        NetworkCommand::Reload(a) => {
            for c in &a.containers {
                engine.resolve(c)?;
            }
            engine.reload_networks()?;
            Ok(0)
        }
        NetworkCommand::Connect(a) => {
            let e = hull_engine::create::body::EndpointConfig {
                ipam_config: (a.ip.is_some() || a.ip6.is_some()).then(|| {
                    hull_engine::create::body::EndpointIpamConfig {
                        ipv4_address: a.ip.clone().unwrap_or_default(),
                        ipv6_address: a.ip6.clone().unwrap_or_default(),
                    }
                }),
                aliases: Some(a.alias.clone()).filter(|v| !v.is_empty()),
                mac_address: a.mac_address.clone().unwrap_or_default(),
            };
            engine.connect_network(&a.network, &a.container, &e)?;
            Ok(0)
        }
        NetworkCommand::Disconnect(a) => {
            // --force: Docker's, for a container that is gone; hull's record is the
            // truth, so there is nothing more to force.
            let _ = a.force;
            engine.disconnect_network(&a.network, &a.container)?;
            Ok(0)
        }
        NetworkCommand::Prune(_) => {
            let gone = engine.prune_networks()?;
            if !gone.is_empty() {
                println!("Deleted Networks:");
                for n in gone {
                    println!("{n}");
                }
            }
            Ok(0)
        }
    }
}
