//! What one guest instance carries: its WASI context and its memory limiter.

use wasmtime::{Caller, Linker, ResourceLimiter};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::SandboxError;

/// The answer to `host::call` when the host exposes no tools (the package's `NO_HOST`).
const NO_HOST: i32 = -1;

pub struct GuestState {
    pub wasi: WasiP1Ctx,
    pub limiter: MemoryCap,
}

/// Caps linear memory; remembers whether it refused a request, so a run that then fails can be
/// reported as stopped by the memory limit.
pub struct MemoryCap {
    pub max_bytes: usize,
    pub refused: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let ok = desired <= self.max_bytes;
        self.refused |= !ok;
        Ok(ok)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 10_000_000)
    }
}

/// `host::call(request_ptr, request_len, response_ptr_ptr, response_len_ptr) -> i32`: the one
/// custom import. Without tools it answers "no host", which the guest reports as such.
pub fn define_host_call(linker: &mut Linker<GuestState>) -> Result<(), SandboxError> {
    linker
        .func_wrap("host", "call", |_caller: Caller<'_, GuestState>, _a: i32, _b: i32, _c: i32, _d: i32| -> i32 { NO_HOST })
        .map_err(SandboxError::runtime)?;
    Ok(())
}
