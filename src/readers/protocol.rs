//! The framed protocol between the gateway and a reader process, on the
//! child's stdin and stdout.
//!
//! Every frame is a 4-byte little-endian length followed by that many
//! bytes. A request is two frames: a JSON [`Request`] header, then the raw
//! input (the message or the workbook, as is). A response is a JSON
//! [`Response`] header, followed for [`Response::Parsed`] by one raw frame
//! per attachment (its bytes, in attachment order): file contents never
//! travel as JSON arrays of numbers.

use crate::message::{Limits, ParsedMessage};
use crate::sheet::{ReadError, Workbook};
use serde::{Deserialize, Serialize};
use std::io::{self, Read, Write};

/// The largest frame either side accepts (1 GiB): a length above it is
/// garbage, not data.
pub const MAX_FRAME: u64 = 1 << 30;

/// What the gateway asks of a reader.
///
/// Externally tagged (`{"parse_message": {...}}`), as is [`Response`]: an
/// internally tagged enum makes serde buffer the whole value before it
/// reads the tag, which doubled the cost of decoding a reader's answer on
/// the gateway's side of a drain.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// `message::parse` of the payload under these limits.
    ParseMessage {
        /// The `[mail]` guards.
        limits: Limits,
    },
    /// `sheet::read_workbook` of the payload.
    ReadWorkbook,
}

/// What a reader answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// Sent once at start-up, after the limits are in force.
    Ready {
        /// The reader's process id (for logs).
        pid: u32,
    },
    /// The parsed message; `attachments[i].bytes` follow as raw frames.
    Parsed {
        /// The message without attachment bytes.
        message: Box<ParsedMessage>,
    },
    /// The workbook, or why it is not a readable request sheet.
    Workbook {
        /// What `read_workbook` returned.
        result: Result<Workbook, ReadError>,
    },
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The stream ended or failed (the other side is gone).
    #[error("stream ended or failed: {0}")]
    Io(#[from] io::Error),
    /// The bytes are not a frame of this protocol.
    #[error("not a protocol frame: {0}")]
    Garbage(String),
}

/// Writes one frame.
pub fn write_frame(w: &mut impl Write, bytes: &[u8]) -> io::Result<()> {
    let len = u32::try_from(bytes.len())
        .ok()
        .filter(|&n| u64::from(n) <= MAX_FRAME)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame too large"))?;
    w.write_all(&len.to_le_bytes())?;
    w.write_all(bytes)
}

/// Reads one frame; `Ok(None)` when the stream ends cleanly before it.
pub fn read_frame(r: &mut impl Read) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        match r.read(&mut len[got..]) {
            Ok(0) if got == 0 => return Ok(None),
            Ok(0) => return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into()),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u64::from(u32::from_le_bytes(len));
    if len > MAX_FRAME {
        return Err(FrameError::Garbage(format!("frame length {len}")));
    }
    // Grown as bytes arrive: a lying length costs nothing until sent.
    let mut bytes = Vec::new();
    r.take(len).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != len {
        return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
    }
    Ok(Some(bytes))
}

/// Reads one frame that must be there.
pub fn expect_frame(r: &mut impl Read) -> Result<Vec<u8>, FrameError> {
    read_frame(r)?.ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof).into())
}

/// Writes a JSON header frame.
pub fn write_json<T: Serialize>(w: &mut impl Write, value: &T) -> io::Result<()> {
    let bytes = serde_json::to_vec(value).map_err(io::Error::other)?;
    write_frame(w, &bytes)
}

/// Reads a JSON header frame.
pub fn read_json<T: for<'de> Deserialize<'de>>(r: &mut impl Read) -> Result<T, FrameError> {
    let bytes = expect_frame(r)?;
    serde_json::from_slice(&bytes).map_err(|e| FrameError::Garbage(format!("bad header: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_lengths_are_checked() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"abc").unwrap();
        write_frame(&mut buf, b"").unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"abc");
        assert_eq!(read_frame(&mut r).unwrap().unwrap(), b"");
        assert!(read_frame(&mut r).unwrap().is_none());
        let garbage = [0xff, 0xff, 0xff, 0xff, 1];
        assert!(matches!(
            read_frame(&mut &garbage[..]),
            Err(FrameError::Garbage(_))
        ));
        let short = [5, 0, 0, 0, 1, 2];
        assert!(matches!(
            read_frame(&mut &short[..]),
            Err(FrameError::Io(_))
        ));
    }
}
