//! The reader side: `sos-intake reader`, started by a
//! [`ReaderPool`](crate::readers::ReaderPool). It puts its limits in force, answers
//! requests one after another on stdin/stdout, and exits when stdin closes.
//!
//! The protocol runs on a private copy of the original stdout; file
//! descriptor 1 is pointed at stderr, so a stray print in a library cannot
//! corrupt a response.

use super::faults;
use super::protocol::{self, Request, Response};
use crate::message;
use crate::sheet;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::os::fd::FromRawFd;

/// Limits of one reader process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChildLimits {
    /// Address space, in MiB (RLIMIT_AS); 0: no limit.
    pub memory_mb: u64,
    /// CPU seconds per request (RLIMIT_CPU, re-armed before each request);
    /// 0: no limit.
    pub cpu_seconds: u64,
}

/// Serves requests until stdin closes. Errors only when the parent side
/// breaks the protocol or the limits cannot be set.
pub fn serve(limits: ChildLimits) -> anyhow::Result<()> {
    set_limit(libc::RLIMIT_CORE, 0)?;
    if limits.memory_mb > 0 {
        set_limit(
            libc::RLIMIT_AS,
            limits.memory_mb.saturating_mul(1024 * 1024),
        )?;
    }
    let faults = faults::enabled();
    let mut out = BufWriter::new(protocol_stdout()?);
    let mut input = BufReader::new(io::stdin().lock());
    protocol::write_json(
        &mut out,
        &Response::Ready {
            pid: std::process::id(),
        },
    )?;
    out.flush()?;
    loop {
        let header = match protocol::read_frame(&mut input)? {
            Some(h) => h,
            None => return Ok(()),
        };
        let request: Request = serde_json::from_slice(&header)?;
        let payload = protocol::expect_frame(&mut input)?;
        arm_cpu_budget(limits.cpu_seconds)?;
        if faults {
            faults::trigger(&payload, &mut out)?;
        }
        answer(request, &payload, &mut out)?;
        out.flush()?;
    }
}

/// Runs one request and writes its response.
fn answer(request: Request, payload: &[u8], out: &mut impl Write) -> io::Result<()> {
    match request {
        Request::ParseMessage { limits } => {
            let mut parsed = message::parse(payload, &limits);
            let bodies: Vec<Vec<u8>> = parsed
                .attachments
                .iter_mut()
                .map(|a| std::mem::take(&mut a.bytes))
                .collect();
            protocol::write_json(
                out,
                &Response::Parsed {
                    message: Box::new(parsed),
                },
            )?;
            for body in &bodies {
                protocol::write_frame(out, body)?;
            }
            Ok(())
        }
        Request::ReadWorkbook => {
            let result = sheet::read_workbook(payload);
            protocol::write_json(out, &Response::Workbook { result })
        }
    }
}

/// A private copy of stdout for the protocol; fd 1 then points at stderr.
fn protocol_stdout() -> io::Result<File> {
    // SAFETY: dup/dup2 on the process's own standard descriptors; the new
    // descriptor is owned by the returned File alone.
    unsafe {
        let fd = libc::dup(1);
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        if libc::dup2(2, 1) < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(File::from_raw_fd(fd))
    }
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let lim = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: setrlimit reads the struct we pass and nothing else.
    if unsafe { libc::setrlimit(resource, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Sets the soft CPU limit to what this process has used so far plus
/// `seconds`, so the limit applies per request although the process
/// serves many (the kernel sends SIGXCPU past it, which kills us).
fn arm_cpu_budget(seconds: u64) -> io::Result<()> {
    if seconds == 0 {
        return Ok(());
    }
    // SAFETY: plain out-parameter calls.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let used = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec).max(0) as u64;
    let mut lim: libc::rlimit = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrlimit(libc::RLIMIT_CPU, &mut lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // +1: the kernel counts whole seconds from what was used already.
    lim.rlim_cur = (used + seconds + 1).min(lim.rlim_max);
    if unsafe { libc::setrlimit(libc::RLIMIT_CPU, &lim) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
