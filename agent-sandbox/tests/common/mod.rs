//! The runtime shared by a test binary's tests (compiling or loading it once).

use std::sync::OnceLock;

use sotto_agent_sandbox::{Artifacts, Runtime};

pub fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        let artifacts = Artifacts::locate(&Artifacts::default_dir()).expect("run scripts/setup first");
        Runtime::load(artifacts, &mut |_| {}).expect("runtime")
    })
}
