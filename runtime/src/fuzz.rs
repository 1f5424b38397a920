//! Entry points for the fuzz targets in `fuzz/`, built only with the `fuzzing`
//! feature: thin wrappers around the crate-private parsers of untrusted bytes.
//! Not API: hidden from the docs and free to change.
#![allow(missing_docs, clippy::missing_errors_doc)]

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::base::status::Status;
use crate::codec::compression::{self, CompressionEncoding};
use crate::codec::decode;
use crate::transport::{gather, keepalive};

/// The decoder of one call's received bytes (`codec::decode::Decoder`).
#[derive(Debug)]
pub struct Decoder(decode::Decoder);

impl Decoder {
    pub fn new(encoding: Option<CompressionEncoding>, limit: usize) -> Self {
        Self(decode::Decoder::new(encoding, limit))
    }

    pub fn push(&mut self, bytes: Bytes) {
        self.0.push(bytes);
    }

    /// The next whole message and whether it arrived compressed.
    pub fn next_message(&mut self) -> Result<Option<(Bytes, bool)>, Status> {
        Ok(self.0.next()?.map(|m| (m.bytes, m.compressed)))
    }

    pub fn is_partial(&self) -> bool {
        self.0.is_partial()
    }
}

pub fn decompress(
    encoding: CompressionEncoding,
    input: &[u8],
    limit: usize,
) -> Result<Bytes, Status> {
    compression::decompress(encoding, input, limit)
}

pub fn compress(encoding: CompressionEncoding, input: &[u8]) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    compression::compress_into(encoding, input, &mut out)?;
    Ok(out)
}

pub fn parse_grpc_timeout(value: &http::HeaderValue) -> Option<Duration> {
    crate::base::deadline::parse_grpc_timeout(value)
}

pub fn encode_grpc_timeout(timeout: Duration) -> http::HeaderValue {
    crate::base::deadline::encode_grpc_timeout(timeout)
}

pub fn percent_decode(bytes: &[u8]) -> String {
    crate::base::status::percent_decode(bytes)
}

pub fn base64_decode(bytes: &[u8]) -> Option<Vec<u8>> {
    crate::base::status::base64_decode(bytes)
}

/// The status a response's headers or trailers carry, as a client reads it.
pub fn status_from_headers(headers: &http::HeaderMap) -> Option<Status> {
    crate::base::status::from_headers(headers)
}

/// The keepalive watch (`transport::keepalive::PingWatch`) around `io`.
#[derive(Debug)]
pub struct PingWatch<IO>(keepalive::PingWatch<IO>);

impl<IO> PingWatch<IO> {
    pub fn new(
        io: IO,
        min_time: Duration,
        permit_without_stream: bool,
        active_calls: Arc<AtomicUsize>,
    ) -> Self {
        let policy = keepalive::Policy {
            min_time,
            permit_without_stream,
        };
        Self(keepalive::PingWatch::new(io, policy, active_calls))
    }

    pub fn closed_for_too_many_pings(&self) -> bool {
        self.0.handle().closed_for_too_many_pings()
    }
}

impl<IO: AsyncRead + AsyncWrite + Unpin> AsyncRead for PingWatch<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for PingWatch<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// The write gatherer (`transport::gather`): the half hyper writes to.
pub struct Gather<IO>(gather::Gather<IO>);

/// The write gatherer's drain, polled after the connection's future.
pub struct Drain<IO>(gather::Drain<IO>);

pub fn gather<IO>(io: IO) -> (Gather<IO>, Drain<IO>) {
    let (gather, drain) = gather::gather(io);
    (Gather(gather), Drain(drain))
}

impl<IO: AsyncWrite + Unpin> Drain<IO> {
    pub fn poll_drain(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.poll_drain(cx)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Gather<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
