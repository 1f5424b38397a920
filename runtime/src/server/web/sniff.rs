//! Telling HTTP/2 from HTTP/1.1 on one port: an HTTP/2 client opens with the
//! connection preface, anything else is taken for HTTP/1.1. The bytes read to
//! tell are handed back in front of the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

/// What every HTTP/2 connection starts with (RFC 9113, section 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol a connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    Http2,
    Http1,
}

/// Reads until the first bytes of `io` tell HTTP/2 from HTTP/1.1; `None` when
/// the connection ends (or fails) first.
pub(crate) async fn sniff<IO>(mut io: IO) -> Option<(Protocol, Rewind<IO>)>
where
    IO: AsyncRead + Unpin,
{
    let mut seen = Vec::with_capacity(PREFACE.len());
    let protocol = loop {
        let mut buf = [0; PREFACE.len()];
        let wanted = PREFACE.len() - seen.len();
        let n = io.read(&mut buf[..wanted]).await.ok()?;
        if n == 0 {
            return None;
        }
        seen.extend_from_slice(&buf[..n]);
        if !PREFACE.starts_with(&seen) {
            break Protocol::Http1;
        }
        if seen.len() == PREFACE.len() {
            break Protocol::Http2;
        }
    };
    Some((
        protocol,
        Rewind {
            read: Bytes::from(seen),
            io,
        },
    ))
}

/// A connection with bytes already read from it put back in front.
#[derive(Debug)]
pub(crate) struct Rewind<IO> {
    read: Bytes,
    io: IO,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Rewind<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.read.is_empty() {
            let n = self.read.len().min(buf.remaining());
            buf.put_slice(&self.read[..n]);
            self.read.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Rewind<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn sniffed(sent: &[u8]) -> Option<(Protocol, Vec<u8>)> {
        let (mut client, server) = tokio::io::duplex(64);
        client.write_all(sent).await.unwrap();
        drop(client);
        let (protocol, mut io) = sniff(server).await?;
        let mut all = Vec::new();
        io.read_to_end(&mut all).await.unwrap();
        Some((protocol, all))
    }

    #[tokio::test]
    async fn the_preface_is_http2_and_is_read_again() {
        let sent = [PREFACE, b"\x00\x00\x00\x04"].concat();
        assert_eq!(sniffed(&sent).await, Some((Protocol::Http2, sent)));
    }

    #[tokio::test]
    async fn a_request_line_is_http1_and_is_read_again() {
        let sent = b"POST /a.B/C HTTP/1.1\r\nhost: x\r\n\r\n".to_vec();
        assert_eq!(sniffed(&sent).await, Some((Protocol::Http1, sent)));
    }

    #[tokio::test]
    async fn a_connection_that_ends_first_is_neither() {
        assert_eq!(sniffed(b"PRI * HT").await, None);
    }
}
