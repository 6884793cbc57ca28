//! What one guest instance carries (its WASI context, memory limiter and tools) and the one
//! custom import, `host::call`.

use std::sync::Arc;

use wasmtime::{Caller, Extern, Linker, ResourceLimiter};
use wasmtime_wasi::p1::WasiP1Ctx;

use crate::tools::{self, FrameBudget, ToolHost};
use crate::SandboxError;

/// `host::call` answers, as the package's host has them.
const NO_HOST: i32 = -1;
const HOST_FAULT: i32 = -2;

pub struct GuestState {
    pub wasi: WasiP1Ctx,
    pub limiter: MemoryCap,
    pub tools: Option<Arc<dyn ToolHost>>,
    pub budget: FrameBudget,
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

/// `host::call(request_ptr, request_len, response_ptr_ptr, response_len_ptr) -> i32`: 0 with an
/// answer placed in guest memory (allocated by the guest's `host_alloc`), -1 when this run offers
/// no tools, -2 when the guest's addresses are wrong.
pub fn define_host_call(linker: &mut Linker<GuestState>) -> Result<(), SandboxError> {
    linker
        .func_wrap_async("host", "call", |mut caller: Caller<'_, GuestState>, (ptr, len, out_ptr, out_len): (i32, i32, i32, i32)| {
            Box::new(async move {
                let Some(host) = caller.data().tools.clone() else { return Ok(NO_HOST) };
                let Some(request) = read_guest(&mut caller, ptr as u32, len as u32) else { return Ok(HOST_FAULT) };
                let answer = {
                    let state = caller.data_mut();
                    tools::answer(host.as_ref(), &mut state.budget, &request)
                };
                write_answer(&mut caller, &answer, out_ptr as u32, out_len as u32).await
            })
        })
        .map_err(SandboxError::runtime)?;
    Ok(())
}

fn read_guest(caller: &mut Caller<'_, GuestState>, ptr: u32, len: u32) -> Option<Vec<u8>> {
    let Some(Extern::Memory(memory)) = caller.get_export("memory") else { return None };
    let (start, end) = (ptr as usize, ptr as usize + len as usize);
    memory.data(&*caller).get(start..end).map(<[u8]>::to_vec)
}

/// Asks the guest for room, copies the answer there and tells the guest where it is.
async fn write_answer(caller: &mut Caller<'_, GuestState>, answer: &[u8], out_ptr: u32, out_len: u32) -> wasmtime::Result<i32> {
    let (Some(Extern::Memory(memory)), Some(Extern::Func(alloc))) = (caller.get_export("memory"), caller.get_export("host_alloc")) else {
        return Ok(HOST_FAULT);
    };
    let alloc = alloc.typed::<i32, i32>(&*caller)?;
    let at = alloc.call_async(&mut *caller, answer.len() as i32).await? as u32 as usize;
    let data = memory.data_mut(&mut *caller);
    let size = data.len();
    let fits = |start: usize, n: usize| start != 0 && start.checked_add(n).is_some_and(|end| end <= size);
    if !fits(at, answer.len()) || !fits(out_ptr as usize, 4) || !fits(out_len as usize, 4) {
        return Ok(HOST_FAULT);
    }
    data[at..at + answer.len()].copy_from_slice(answer);
    data[out_ptr as usize..out_ptr as usize + 4].copy_from_slice(&(at as u32).to_le_bytes());
    data[out_len as usize..out_len as usize + 4].copy_from_slice(&(answer.len() as u32).to_le_bytes());
    Ok(0)
}
