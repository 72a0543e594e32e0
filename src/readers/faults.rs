//! Fault injection for the containment tests: a reader started with
//! [`FAULTS_ENV`] set to `1` obeys a marker `SOS-READER-FAULT:<kind>;`
//! anywhere in its input by failing the way a broken parser would.
//!
//! Only the environment of the reader process enables it, and the
//! environment is the operator's: a mail can carry the marker but cannot
//! make a production reader honour it. The reader logs a warning at start
//! when it is on.

use std::io::{self, Write};

/// The environment variable that turns fault injection on (tests only).
pub const FAULTS_ENV: &str = "SOS_INTAKE_TEST_READER_FAULTS";

/// The marker that precedes a fault's name in the input.
pub const MARKER: &[u8] = b"SOS-READER-FAULT:";

/// The faults a test can ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `abort`: the process aborts (SIGABRT).
    Abort,
    /// `oom`: allocates until the memory limit stops it.
    OutOfMemory,
    /// `spin`: burns CPU forever (CPU limit or wall clock).
    Spin,
    /// `hang`: sleeps forever without using CPU (wall clock).
    Hang,
    /// `garbage`: writes bytes that are no frame, then waits.
    Garbage,
    /// `exit`: exits with status 3.
    Exit,
}

impl Fault {
    /// The fault named in `input`, if any.
    pub fn find(input: &[u8]) -> Option<Fault> {
        let at = memchr::memmem::find(input, MARKER)? + MARKER.len();
        let rest = &input[at..];
        let end = rest.iter().position(|&b| b == b';')?;
        match &rest[..end] {
            b"abort" => Some(Fault::Abort),
            b"oom" => Some(Fault::OutOfMemory),
            b"spin" => Some(Fault::Spin),
            b"hang" => Some(Fault::Hang),
            b"garbage" => Some(Fault::Garbage),
            b"exit" => Some(Fault::Exit),
            _ => None,
        }
    }
}

/// True when this process was started with [`FAULTS_ENV`]=1.
pub fn enabled() -> bool {
    let on = std::env::var_os(FAULTS_ENV).is_some_and(|v| v == "1");
    if on {
        eprintln!("reader: fault injection is ON ({FAULTS_ENV}); never in production");
    }
    on
}

/// Fails as `input` asks, or returns at once when it asks nothing.
pub fn trigger(input: &[u8], out: &mut impl Write) -> io::Result<()> {
    let Some(fault) = Fault::find(input) else {
        return Ok(());
    };
    match fault {
        Fault::Abort => std::process::abort(),
        Fault::OutOfMemory => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 16 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        Fault::Spin => {
            let mut x = 0u64;
            loop {
                x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
            }
        }
        Fault::Hang => loop {
            std::thread::sleep(std::time::Duration::from_secs(3600));
        },
        Fault::Garbage => {
            out.write_all(b"HTTP/1.1 200 OK\r\n\r\nnot a frame at all")?;
            out.flush()?;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(3600));
            }
        }
        Fault::Exit => std::process::exit(3),
    }
}
