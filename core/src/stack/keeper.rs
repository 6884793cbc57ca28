//! The stack's processes end with the process that started them.
//!
//! A stack the app started must not outlive it: a crash or a `kill -9` of the app would otherwise
//! leave the relay and the gateway holding their ports. On Linux each child asks the kernel for
//! SIGTERM when the thread that started it ends (`PR_SET_PDEATHSIG`); the thread is this keeper's,
//! which lives exactly as long as the stack, and which also ends when the whole process dies.

use std::io;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::thread::JoinHandle;

type SpawnRequest = (Command, mpsc::Sender<io::Result<Child>>);

pub(super) struct Keeper {
    requests: Option<mpsc::Sender<SpawnRequest>>,
    thread: Option<JoinHandle<()>>,
}

impl Keeper {
    pub(super) fn new() -> io::Result<Self> {
        let (requests, incoming) = mpsc::channel::<SpawnRequest>();
        let thread = std::thread::Builder::new().name("sotto-stack-keeper".into()).spawn(move || {
            for (mut command, reply) in incoming {
                let _ = reply.send(command.spawn());
            }
        })?;
        Ok(Self { requests: Some(requests), thread: Some(thread) })
    }

    /// Starts `command` from the keeper's thread, tied to it.
    pub(super) fn spawn(&self, mut command: Command) -> io::Result<Child> {
        end_with_starting_thread(&mut command);
        let (reply, answer) = mpsc::channel();
        let gone = || io::Error::other("the stack's keeper thread has ended");
        self.requests.as_ref().ok_or_else(gone)?.send((command, reply)).map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
    }
}

impl Drop for Keeper {
    /// Ends the thread (and so signals any child still running): call after stopping them.
    fn drop(&mut self) {
        self.requests.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(target_os = "linux")]
fn end_with_starting_thread(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: between fork and exec only async-signal-safe calls are made (prctl, getppid), and
    // the error is built from a raw errno without allocating.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The app may have died between fork and prctl; then nobody would signal us.
            if libc::getppid() != parent {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn end_with_starting_thread(_command: &mut Command) {}
