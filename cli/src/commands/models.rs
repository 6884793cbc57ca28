use super::ProfileArgs;
use crate::exit;

#[derive(clap::Args)]
pub struct ModelsArgs {
    #[command(flatten)]
    profile: ProfileArgs,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: ModelsArgs) -> i32 {
    let client = match super::client(&args.profile, &[], &[]) {
        Ok(c) => c,
        Err(e) => return exit::report(&e),
    };
    match super::runtime().block_on(client.models()) {
        Ok((names, reply)) => {
            if args.json {
                let out = serde_json::json!({"models": names, "verified": true, "receipt": crate::output::receipt_json(&reply)});
                println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
            } else {
                for n in &names {
                    println!("{n}");
                }
                eprintln!("{}", crate::output::proof_line(&reply));
            }
            exit::OK
        }
        Err(e) => exit::report(&e),
    }
}
