//! The guest's stdout and stderr, kept in memory up to a cap. Bytes past the cap are dropped and
//! still reported as written, so the guest neither fails nor retries; the run is reported as cut.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

#[derive(Clone)]
pub struct CappedOutput {
    inner: Arc<Mutex<Captured>>,
}

#[derive(Default)]
struct Captured {
    bytes: Vec<u8>,
    cap: usize,
    cut: bool,
}

impl CappedOutput {
    pub fn new(cap: usize) -> Self {
        Self { inner: Arc::new(Mutex::new(Captured { cap, ..Captured::default() })) }
    }

    /// What was written since the last take, whether any of it was dropped; starts over with `cap`.
    pub fn take(&self, next_cap: usize) -> (Vec<u8>, bool) {
        let mut c = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let taken = (std::mem::take(&mut c.bytes), c.cut);
        c.cut = false;
        c.cap = next_cap;
        taken
    }

    fn write(&self, buf: &[u8]) {
        let mut c = self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let room = c.cap.saturating_sub(c.bytes.len());
        if buf.len() > room {
            c.cut = true;
        }
        let kept = buf.len().min(room);
        c.bytes.extend_from_slice(&buf[..kept]);
    }
}

impl IsTerminal for CappedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CappedOutput {
    // Written straight into the buffer (no background task), so a turn's output is complete the
    // moment the turn returns.
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for CappedOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[wasmtime_wasi::async_trait]
impl OutputStream for CappedOutput {
    fn write(&mut self, bytes: bytes::Bytes) -> StreamResult<()> {
        CappedOutput::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(1 << 20)
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for CappedOutput {
    async fn ready(&mut self) {}
}
