//! The runner's framing on stdin and stdout: each message is a big-endian
//! 32-bit length, then that many bytes of protobuf.

use rust_grpc::prost::Message;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

/// The largest message accepted from the runner (a test case with large
/// request messages stays well below this).
const MAX_MESSAGE: usize = 64 << 20;

/// Reads one size-prefixed message; `Ok(None)` at a clean end of input.
///
/// # Errors
///
/// When the input ends inside a message, a length is over the limit, or the
/// bytes are not a `M`.
pub async fn read<M: Message + Default>(
    input: &mut (impl AsyncRead + Unpin),
) -> std::io::Result<Option<M>> {
    let mut prefix = [0u8; 4];
    match input.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(err) => return Err(err),
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_MESSAGE {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("a message of {len} bytes is over the {MAX_MESSAGE}-byte limit"),
        ));
    }
    let mut bytes = vec![0u8; len];
    input.read_exact(&mut bytes).await?;
    M::decode(bytes.as_slice())
        .map(Some)
        .map_err(|err| std::io::Error::new(std::io::ErrorKind::InvalidData, err))
}

/// Writes one size-prefixed message and flushes.
///
/// # Errors
///
/// When the output cannot be written or the message is over 4 GiB.
pub async fn write<M: Message>(
    output: &mut (impl AsyncWrite + Unpin),
    message: &M,
) -> std::io::Result<()> {
    let bytes = message.encode_to_vec();
    let len = u32::try_from(bytes.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "message too large"))?;
    output.write_all(&len.to_be_bytes()).await?;
    output.write_all(&bytes).await?;
    output.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::ServerCompatResponse;

    #[tokio::test]
    async fn a_written_message_reads_back_and_then_the_input_ends() {
        let sent = ServerCompatResponse {
            host: "127.0.0.1".into(),
            port: 4242,
            pem_cert: vec![],
        };
        let mut buffer = Vec::new();
        write(&mut buffer, &sent).await.unwrap();
        assert_eq!(&buffer[..4], &(buffer.len() as u32 - 4).to_be_bytes());
        let mut input = buffer.as_slice();
        assert_eq!(read(&mut input).await.unwrap(), Some(sent));
        assert_eq!(
            read::<ServerCompatResponse>(&mut input).await.unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn input_that_ends_inside_a_message_is_an_error() {
        let mut input: &[u8] = &[0, 0, 0, 9, 1, 2];
        assert!(read::<ServerCompatResponse>(&mut input).await.is_err());
    }
}
