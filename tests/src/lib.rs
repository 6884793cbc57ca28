//! Harness for end-to-end tests: a real local stack (`sotto stack up` as a process, which runs
//! the gateway process and nginx), the `sotto` CLI as a process, and a man-in-the-middle proxy
//! for attacks on the path between client and relay.

pub mod desktop;
pub mod image_standin;
pub mod search_standin;
pub mod proxy;
pub mod stack;

pub use image_standin::{solid_png, ImageStandin};
pub use search_standin::SearchStandin;
pub use proxy::{chunk_plaintext_lengths, Attack, Exchange, Observed, Proxy};
pub use stack::{ask_json, bench_profile, bench_scripted_stack, files_under, median, ms, cli, cli_with, free_ports, hex, spawn_cli, tool_calls, Stack, StackSpec};
