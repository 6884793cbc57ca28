//! `sotto-gateway`: the development enclave gateway as its own process.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Parser;
use sotto_enclave_gateway::{start, BackendSpec, GatewayConfig, ImagesSpec, SearchSpec, Wire};

#[derive(Parser)]
#[command(name = "sotto-gateway", version, about = "Sotto's development enclave gateway (OHTTP, attestation, receipts)")]
struct Args {
    /// Address the relay forwards to.
    #[arg(long, default_value = "127.0.0.1:8788")]
    listen: SocketAddr,
    /// Loopback admin listener (key rotation, observations for tests).
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Where to write the development root and measurements (default: $SOTTO_HOME/stack).
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// embedded, scripted:FILE or openai:URL.
    #[arg(long, default_value = "embedded")]
    backend: BackendSpec,
    /// Image generation: demo (the local demo generator, not a trained model), off, or openai:URL.
    #[arg(long, default_value = "demo")]
    images: ImagesSpec,
    /// Web search: off (the default), standin (a local corpus, not the web: for development),
    /// or brave:URL (the Brave Search API over https; its key in SOTTO_SEARCH_API_KEY).
    #[arg(long, default_value = "off")]
    search: SearchSpec,
    /// Run as a replica: get the keys from this key keeper, after proving this gateway's
    /// attestation to it (http://HOST:PORT).
    #[arg(long, value_name = "URL", requires = "keeper_key")]
    key_source: Option<String>,
    /// With --key-source: the key keeper's Ed25519 public key (hex), the only key whose releases
    /// this replica accepts (the keeper writes it to key-keeper.pub in its --state-dir).
    #[arg(long, value_name = "HEX", requires = "key_source")]
    keeper_key: Option<String>,
    /// Run the key keeper for replicas instead of a gateway, on --listen (loopback); it trusts
    /// the development roots the replicas write below --state-dir.
    #[arg(long)]
    key_keeper: bool,
    /// The wire to speak: sotto (default) or opengradient.
    #[arg(long, value_enum, default_value = "sotto")]
    wire: Wire,
    /// With --wire opengradient: the registry stand-in's JSON-RPC address (loopback).
    #[arg(long)]
    registry_listen: Option<SocketAddr>,
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        // One line a person can read (the stack shows it), not a backtrace.
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

async fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if args.key_keeper {
        let dir = args.state_dir.unwrap_or_else(sotto_relay_config::stack_dir);
        let (addr, public_key) = sotto_enclave_gateway::key_release::keeper::start(args.listen, dir.clone()).await?;
        let file = dir.join("key-keeper.pub");
        let tmp = dir.join(".key-keeper.pub.tmp");
        std::fs::write(&tmp, &public_key).and_then(|()| std::fs::rename(&tmp, &file)).map_err(|e| anyhow::anyhow!("cannot write {}: {e}", file.display()))?;
        println!("key keeper: http://{addr} key {public_key}");
        tokio::signal::ctrl_c().await?;
        return Ok(());
    }
    // The key is measured as written: one spelling for every replica (and a bad one refused
    // before anything is published).
    let keeper_key = match args.keeper_key {
        Some(k) => Some(sotto_enclave_gateway::key_release::parse_keeper_key(&k).map(|key| hex::encode(key.to_bytes())).map_err(anyhow::Error::msg)?),
        None => None,
    };
    let config = GatewayConfig {
        listen: args.listen,
        admin_listen: args.admin_listen,
        state_dir: args.state_dir.unwrap_or_else(sotto_relay_config::stack_dir),
        backend: args.backend,
        images: args.images,
        search: args.search,
        key_source: args.key_source.zip(keeper_key).map(|(url, keeper_key)| sotto_enclave_gateway::KeySource { url, keeper_key }),
        wire: args.wire,
        registry_listen: args.registry_listen,
    };
    let running = start(config).await?;
    println!("gateway: http://{}", running.listen);
    if let Some(admin) = running.admin {
        println!("admin: http://{admin}");
    }
    if let Some(registry) = running.registry {
        println!("registry: http://{registry} (stand-in)");
    }
    tokio::signal::ctrl_c().await?;
    Ok(())
}
