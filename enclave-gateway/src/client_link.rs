//! The sealed reply's way back to the client. The `ohttp` crate's chunk writer (0.8.0) panics
//! when the stream under it fails (`poll_write` and `poll_flush` map an error through
//! `unreachable!`), and that stream fails whenever a client hangs up mid-reply — a user who
//! cancels. So the link keeps errors from the writer: it notes that the client left and
//! swallows what is still written, and [`Departure`] lets the reply's writer stop serving.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::AsyncWrite;

/// Whether the client has gone (its connection failed under the reply).
#[derive(Debug, Clone, Default)]
pub(crate) struct Departure(Arc<AtomicBool>);

impl Departure {
    pub(crate) fn happened(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }

    fn note(&self, e: &io::Error) {
        if !self.0.swap(true, Ordering::Relaxed) {
            tracing::debug!(error = %e, "the client left mid-reply");
        }
    }
}

/// Writes to the client until it leaves; after that, writes succeed and go nowhere.
pub(crate) struct ClientLink<W> {
    inner: W,
    departure: Departure,
}

impl<W> ClientLink<W> {
    pub(crate) fn new(inner: W) -> (Self, Departure) {
        let departure = Departure::default();
        (Self { inner, departure: departure.clone() }, departure)
    }

    /// An error from the client's side becomes "done", noted in the departure.
    fn absorb<T>(&self, polled: Poll<io::Result<T>>, gone: T) -> Poll<io::Result<T>> {
        match polled {
            Poll::Ready(Err(e)) => {
                self.departure.note(&e);
                Poll::Ready(Ok(gone))
            }
            other => other,
        }
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for ClientLink<W> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        if self.departure.happened() {
            return Poll::Ready(Ok(buf.len()));
        }
        let polled = match Pin::new(&mut self.inner).poll_write(cx, buf) {
            // No progress on a non-empty write would make the ohttp writer's flush spin.
            Poll::Ready(Ok(0)) if !buf.is_empty() => Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            other => other,
        };
        self.absorb(polled, buf.len())
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.departure.happened() {
            return Poll::Ready(Ok(()));
        }
        let polled = Pin::new(&mut self.inner).poll_flush(cx);
        self.absorb(polled, ())
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.departure.happened() {
            return Poll::Ready(Ok(()));
        }
        let polled = Pin::new(&mut self.inner).poll_close(cx);
        self.absorb(polled, ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::{AsyncReadExt, AsyncWriteExt};
    use ohttp::hpke::{Aead, Kdf, Kem};
    use tokio_util::compat::TokioAsyncWriteCompatExt;

    /// The reply's sealed writer over a pipe to a client that reads a little and hangs up.
    async fn reply_to_a_client_that_leaves(link: bool) -> (io::Result<()>, Option<Departure>) {
        let config = ohttp::KeyConfig::new(1, Kem::X25519Sha256, vec![ohttp::SymmetricSuite::new(Kdf::HkdfSha256, Aead::Aes128Gcm)]).unwrap();
        let mut sealed = Vec::new();
        {
            let mut w = ohttp::ClientRequest::from_encoded_config(&config.encode().unwrap())
                .unwrap()
                .encapsulate_stream(futures::io::AllowStdIo::new(&mut sealed))
                .unwrap();
            w.write_all(b"request").await.unwrap();
            w.close().await.unwrap();
        }
        let mut request = ohttp::Server::new(config).unwrap().decapsulate_stream(futures::io::Cursor::new(sealed));
        request.read_to_end(&mut Vec::new()).await.unwrap();
        let (to_client, client) = tokio::io::duplex(1024);
        drop(client);
        let piece = [7u8; 4000];
        if link {
            let (link, departure) = ClientLink::new(to_client.compat_write());
            let mut w = request.response(link).unwrap();
            let written = async {
                w.write_all(&piece).await?;
                w.flush().await?;
                w.close().await
            };
            (written.await, Some(departure))
        } else {
            let mut w = request.response(to_client.compat_write()).unwrap();
            let written = async {
                w.write_all(&piece).await?;
                w.flush().await
            };
            (written.await, None)
        }
    }

    /// The upstream behaviour the link exists for: if this stops panicking after an `ohttp`
    /// upgrade, the link can go.
    #[test]
    fn the_bare_ohttp_writer_panics_when_the_client_leaves() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let outcome = std::panic::catch_unwind(|| runtime.block_on(reply_to_a_client_that_leaves(false)));
        assert!(outcome.is_err(), "the bare writer now reports a departed client: {:?}", outcome.map(|r| r.0));
    }

    #[tokio::test]
    async fn through_the_link_a_departed_client_is_noted_not_a_panic() {
        let (written, departure) = reply_to_a_client_that_leaves(true).await;
        assert!(written.is_ok(), "{written:?}");
        assert!(departure.expect("a link").happened());
    }

    #[tokio::test]
    async fn a_client_that_stays_hears_every_byte() {
        let (to_client, mut client) = tokio::io::duplex(1 << 16);
        let (mut link, departure) = ClientLink::new(to_client.compat_write());
        link.write_all(b"all of it").await.unwrap();
        link.close().await.unwrap();
        let mut got = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut client, &mut got).await.unwrap();
        assert_eq!(got, b"all of it");
        assert!(!departure.happened());
    }
}
