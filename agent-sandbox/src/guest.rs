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
    /// The deadline and the disk limit, checked while the guest runs.
    pub watch: crate::watch::Watch,
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
                // The length is checked before anything is copied out of the guest.
                let answer = if len as u32 as usize > tools::MAX_REQUEST_BYTES {
                    tools::oversized(&mut caller.data_mut().budget, len as u32 as usize)
                } else {
                    let Some(request) = read_guest(&mut caller, ptr as u32, len as u32) else { return Ok(HOST_FAULT) };
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Map, Value};

    struct NoTools;

    impl ToolHost for NoTools {
        fn tools(&self) -> Vec<tools::ToolSpec> {
            Vec::new()
        }
        fn call(&self, _: &str, _: &Map<String, Value>) -> Result<Value, tools::ToolFailure> {
            Ok(Value::Null)
        }
    }

    fn section(id: u8, body: &[u8]) -> Vec<u8> {
        assert!(body.len() < 128);
        [&[id, body.len() as u8][..], body].concat()
    }

    /// A guest of one 64 KiB page that calls `host::call` with a 2,000,000-byte frame at address 0
    /// (more than its whole memory) and reads the answer's address and length at 16 and 20.
    fn oversized_caller() -> Vec<u8> {
        let types = [3, 0x60, 4, 0x7f, 0x7f, 0x7f, 0x7f, 1, 0x7f, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 0, 1, 0x7f];
        let imports = [&[1u8, 4][..], b"host", &[4], b"call", &[0, 0]].concat();
        let exports = [&[3u8, 6][..], b"memory", &[2, 0, 10], b"host_alloc", &[0, 1, 3], b"run", &[0, 2]].concat();
        let alloc = [5u8, 0, 0x41, 0x80, 0x08, 0x0b];
        let run = [15u8, 0, 0x41, 0, 0x41, 0x80, 0x89, 0xfa, 0x00, 0x41, 16, 0x41, 20, 0x10, 0, 0x0b];
        [
            &b"\0asm\x01\0\0\0"[..],
            &section(1, &types),
            &section(2, &imports),
            &section(3, &[2, 1, 2]),
            &section(5, &[1, 0, 1]),
            &section(7, &exports),
            &section(10, &[&[2u8][..], &alloc, &run].concat()),
        ]
        .concat()
    }

    #[tokio::test]
    async fn a_frame_longer_than_the_cap_is_refused_by_its_length_without_reading_it() {
        let config = wasmtime::Config::new();
        let engine = wasmtime::Engine::new(&config).unwrap();
        let module = wasmtime::Module::new(&engine, oversized_caller()).unwrap();
        let mut linker = Linker::new(&engine);
        define_host_call(&mut linker).unwrap();
        let state = GuestState {
            wasi: wasmtime_wasi::WasiCtxBuilder::new().build_p1(),
            limiter: MemoryCap { max_bytes: 1 << 20, refused: false },
            tools: Some(Arc::new(NoTools)),
            budget: FrameBudget { used: 0, max: 10 },
            watch: crate::watch::Watch::new(std::path::Path::new("/nonexistent")),
        };
        let mut store = wasmtime::Store::new(&engine, state);
        let instance = linker.instantiate_async(&mut store, &module).await.unwrap();
        let run = instance.get_typed_func::<(), i32>(&mut store, "run").unwrap();
        // Reading the frame first would fail (it runs past the guest's memory): a fault, -2.
        assert_eq!(run.call_async(&mut store, ()).await.unwrap(), 0, "answered by the frame's length alone");
        let memory = instance.get_memory(&mut store, "memory").unwrap();
        let data = memory.data(&store);
        let word = |at: usize| u32::from_le_bytes(data[at..at + 4].try_into().unwrap()) as usize;
        let answer: Value = serde_json::from_slice(&data[word(16)..word(16) + word(20)]).unwrap();
        assert_eq!(answer["error"]["kind"], "protocol");
        assert!(answer["error"]["message"].as_str().unwrap().contains("2000000 bytes"), "{answer}");
    }
}
