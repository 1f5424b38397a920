//! The 5-byte prefix of every gRPC message: a compressed flag and a big-endian
//! length.

use crate::base::status::Status;

/// The prefix's length in bytes.
pub(crate) const PREFIX_LEN: usize = 5;

/// The prefix of one message as read off the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Prefix {
    pub(crate) compressed: bool,
    pub(crate) len: usize,
}

impl Prefix {
    /// Reads a prefix from its 5 bytes; only flags 0 and 1 are valid.
    pub(crate) fn parse(bytes: [u8; PREFIX_LEN]) -> Result<Self, Status> {
        let len = u32::from_be_bytes([bytes[1], bytes[2], bytes[3], bytes[4]]) as usize;
        match bytes[0] {
            0 => Ok(Self {
                compressed: false,
                len,
            }),
            1 => Ok(Self {
                compressed: true,
                len,
            }),
            other => Err(Status::internal(format!(
                "protocol error: invalid compressed flag {other} in a message prefix (only 0 and 1 are valid)"
            ))),
        }
    }

    /// The prefix's bytes.
    pub(crate) fn to_bytes(self) -> Result<[u8; PREFIX_LEN], Status> {
        let len = u32::try_from(self.len).map_err(|_| {
            Status::resource_exhausted(format!(
                "a message of {} bytes is too large for gRPC",
                self.len
            ))
        })?;
        let [a, b, c, d] = len.to_be_bytes();
        Ok([u8::from(self.compressed), a, b, c, d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_round_trips() {
        for prefix in [
            Prefix {
                compressed: false,
                len: 0,
            },
            Prefix {
                compressed: true,
                len: 0xFFFF_FFFF,
            },
        ] {
            assert_eq!(Prefix::parse(prefix.to_bytes().unwrap()).unwrap(), prefix);
        }
    }

    #[test]
    fn flags_other_than_0_and_1_are_internal() {
        let status = Prefix::parse([2, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(status.code(), crate::base::status::Code::Internal);
    }

    #[test]
    fn lengths_past_u32_cannot_be_framed() {
        let prefix = Prefix {
            compressed: false,
            len: u32::MAX as usize + 1,
        };
        assert!(prefix.to_bytes().is_err());
    }
}
