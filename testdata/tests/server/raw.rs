//! A bare HTTP/2 client for the tests where the exact frames matter: it writes
//! frames itself and reads the server's one by one.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a read may wait before the test gives up instead of hanging.
const PATIENCE: Duration = Duration::from_secs(5);

pub(crate) const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
pub(crate) const HEADERS: u8 = 0x1;
pub(crate) const SETTINGS: u8 = 0x4;
pub(crate) const PING: u8 = 0x6;
pub(crate) const GOAWAY: u8 = 0x7;
pub(crate) const CONTINUATION: u8 = 0x9;
pub(crate) const ACK: u8 = 0x1;
pub(crate) const NO_ERROR: u32 = 0x0;
pub(crate) const ENHANCE_YOUR_CALM: u32 = 0xb;

/// One HTTP/2 frame.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) kind: u8,
    pub(crate) flags: u8,
    pub(crate) payload: Vec<u8>,
}

impl Frame {
    pub(crate) fn encode(kind: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let len = u32::try_from(payload.len()).unwrap().to_be_bytes();
        let mut bytes = vec![len[1], len[2], len[3], kind, flags];
        bytes.extend_from_slice(&stream.to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    /// The frame at the start of `bytes` and its length, once it is all there.
    pub(crate) fn decode(bytes: &[u8]) -> Option<(Self, usize)> {
        let header = bytes.get(..9)?;
        let len =
            usize::try_from(u32::from_be_bytes([0, header[0], header[1], header[2]])).unwrap();
        let payload = bytes.get(9..9 + len)?.to_vec();
        let frame = Self {
            kind: header[3],
            flags: header[4],
            payload,
        };
        Some((frame, 9 + len))
    }

    /// A GOAWAY's last stream id, error code and debug data.
    pub(crate) fn goaway(&self) -> Option<(u32, u32, &[u8])> {
        if self.kind != GOAWAY {
            return None;
        }
        let last_stream = u32::from_be_bytes(self.payload[..4].try_into().unwrap()) & 0x7fff_ffff;
        let code = u32::from_be_bytes(self.payload[4..8].try_into().unwrap());
        Some((last_stream, code, &self.payload[8..]))
    }
}

/// A bare client connection that has exchanged SETTINGS with the server.
pub(crate) struct RawClient {
    pub(crate) tcp: TcpStream,
    read: Vec<u8>,
}

impl RawClient {
    pub(crate) async fn connect(addr: std::net::SocketAddr) -> Self {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(PREFACE).await.unwrap();
        tcp.write_all(&Frame::encode(SETTINGS, 0, 0, &[]))
            .await
            .unwrap();
        let mut client = Self {
            tcp,
            read: Vec::new(),
        };
        let settings = client.frame().await.expect("the server's SETTINGS");
        assert_eq!(
            (settings.kind, settings.flags),
            (SETTINGS, 0),
            "{settings:?}"
        );
        client
            .tcp
            .write_all(&Frame::encode(SETTINGS, ACK, 0, &[]))
            .await
            .unwrap();
        client
    }

    /// The next frame from the server, or `None` once it has closed the
    /// connection.
    pub(crate) async fn frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((frame, len)) = Frame::decode(&self.read) {
                self.read.drain(..len);
                return Some(frame);
            }
            let mut buf = [0u8; 4096];
            let n = tokio::time::timeout(PATIENCE, self.tcp.read(&mut buf))
                .await
                .expect("the server said nothing")
                .expect("the connection failed instead of closing");
            if n == 0 {
                assert!(self.read.is_empty(), "closed mid-frame: {:?}", self.read);
                return None;
            }
            self.read.extend_from_slice(&buf[..n]);
        }
    }
}
