//! The gateway side: a small pool of reader processes, their limits, and
//! what becomes of a request when a reader fails.
//!
//! Requests are blocking calls (the pipeline's analysis already runs on
//! tokio's blocking pool, `check` is synchronous). A request takes an idle
//! reader, or starts one while fewer than `processes` run, or waits for one
//! to come back. Each reader has a watchdog thread, armed for the length
//! of a request, that kills it at the wall-clock deadline; the reader is
//! only reaped while its watchdog is disarmed, so its process id can never
//! be reused under the watchdog. (One thread per reader, not per request:
//! starting a thread for each of a backlog's requests cost a measurable
//! share of a drain.)

use super::child::ChildLimits;
use super::protocol::{self, FrameError, Request, Response};
use crate::config::ReadersConfig;
use crate::message::{self, Limits, ParsedMessage};
use crate::sheet::{self, ReadError, Workbook};
use sha2::{Digest, Sha256};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a reader process ended by itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ChildEnd {
    /// It exited with this status.
    #[error("exit status {0}")]
    Exit(i32),
    /// A signal killed it (SIGABRT, SIGSEGV, SIGKILL from outside, ...).
    #[error("signal {0}")]
    Signal(i32),
}

/// Why a reader could not answer a request. Every variant but
/// [`Unavailable`](ReaderFailure::Unavailable) is the input's doing (or a
/// parser's defect on it): the input is refused as unreadable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReaderFailure {
    /// The reader died (crash, abort, exit) before answering.
    #[error("the reader process died ({0})")]
    Crashed(ChildEnd),
    /// The reader ran past its wall-clock timeout or its CPU limit.
    #[error("the reader ran past its time limit")]
    TimedOut,
    /// The reader hit its memory limit (`memory allocation ... failed`).
    #[error("the reader ran out of memory")]
    OutOfMemory,
    /// The reader answered something that is not the protocol.
    #[error("the reader broke the protocol: {0}")]
    Protocol(String),
    /// No reader process could be started (the machine's fault, not the
    /// input's: try again later).
    #[error("no reader process could be started: {0}")]
    Unavailable(String),
}

impl ReaderFailure {
    /// A stable machine code: `crashed`, `timed_out`, `out_of_memory`,
    /// `protocol`, `unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            ReaderFailure::Crashed(_) => "crashed",
            ReaderFailure::TimedOut => "timed_out",
            ReaderFailure::OutOfMemory => "out_of_memory",
            ReaderFailure::Protocol(_) => "protocol",
            ReaderFailure::Unavailable(_) => "unavailable",
        }
    }

    /// True when the input is not to blame (no reader could be started).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, ReaderFailure::Unavailable(_))
    }
}

/// Where messages are parsed and workbooks read: in reader processes, or
/// in this process for library callers. Cheap to clone (shared inside).
#[derive(Clone)]
pub struct ReaderPool {
    mode: Mode,
}

#[derive(Clone)]
enum Mode {
    InProcess,
    Children(Arc<Children>),
}

impl std::fmt::Debug for ReaderPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.mode {
            Mode::InProcess => f.write_str("ReaderPool(in-process)"),
            Mode::Children(c) => f
                .debug_struct("ReaderPool")
                .field("program", &c.program)
                .field("processes", &c.size)
                .finish_non_exhaustive(),
        }
    }
}

static INSTALLED: OnceLock<ReaderPool> = OnceLock::new();

impl ReaderPool {
    /// Parses and reads in the calling process: nothing is contained. For
    /// tests, benches and fuzz targets, which have no `sos-intake`
    /// executable to start.
    pub fn in_process() -> ReaderPool {
        ReaderPool {
            mode: Mode::InProcess,
        }
    }

    /// A pool of `program reader` processes under `config`'s limits. One
    /// reader is started and must greet us now (a startup error otherwise);
    /// the others start when needed.
    pub fn start(program: &Path, config: &ReadersConfig) -> Result<ReaderPool, ReaderFailure> {
        ReaderPool::start_with_env(program, config, &[])
    }

    /// [`start`](ReaderPool::start) with extra environment variables for
    /// the readers (tests: [`super::faults::FAULTS_ENV`]).
    pub fn start_with_env(
        program: &Path,
        config: &ReadersConfig,
        env: &[(&str, &str)],
    ) -> Result<ReaderPool, ReaderFailure> {
        if config.processes == 0 || config.timeout_seconds == 0 {
            return Err(ReaderFailure::Unavailable(
                "[readers] processes and timeout_seconds must be at least 1".into(),
            ));
        }
        let children = Arc::new(Children {
            program: program.to_path_buf(),
            env: env
                .iter()
                .map(|(k, v)| (OsString::from(k), OsString::from(v)))
                .collect(),
            limits: ChildLimits {
                memory_mb: config.memory_mb,
                cpu_seconds: config.cpu_seconds,
            },
            timeout: Duration::from_secs(config.timeout_seconds),
            size: config.processes,
            state: Mutex::new(State {
                idle: Vec::new(),
                live: 0,
            }),
            freed: Condvar::new(),
        });
        let first = children.acquire()?;
        children.release(first);
        Ok(ReaderPool {
            mode: Mode::Children(children),
        })
    }

    /// A pool of this executable's readers (`serve`, `ingest`, `check`).
    pub fn for_current_exe(config: &ReadersConfig) -> anyhow::Result<ReaderPool> {
        let exe = std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("cannot locate our own executable: {e}"))?;
        ReaderPool::start(&exe, config)
            .map_err(|e| anyhow::anyhow!("cannot start reader processes ({}): {e}", exe.display()))
    }

    /// Makes `self` the pool [`installed`](ReaderPool::installed) returns
    /// for the rest of the process. False when one was installed already.
    pub fn install(self) -> bool {
        INSTALLED.set(self).is_ok()
    }

    /// The installed pool; in-process when the binary installed none (a
    /// library caller).
    pub fn installed() -> ReaderPool {
        INSTALLED
            .get()
            .cloned()
            .unwrap_or_else(ReaderPool::in_process)
    }

    /// How many requests can run at once: the reader processes, or the
    /// machine's cores when reading in this process.
    pub fn processes(&self) -> usize {
        match &self.mode {
            Mode::InProcess => std::thread::available_parallelism().map_or(1, usize::from),
            Mode::Children(c) => c.size,
        }
    }

    /// True for [`in_process`](ReaderPool::in_process).
    pub fn is_in_process(&self) -> bool {
        matches!(self.mode, Mode::InProcess)
    }

    /// Process ids of the idle readers (tests: was a reader replaced?).
    pub fn idle_pids(&self) -> Vec<u32> {
        match &self.mode {
            Mode::InProcess => Vec::new(),
            Mode::Children(c) => c.lock().idle.iter().map(|r| r.pid).collect(),
        }
    }

    /// What `message::parse(raw, limits)` returns, computed by a reader.
    pub fn parse_message(
        &self,
        raw: &[u8],
        limits: &Limits,
    ) -> Result<ParsedMessage, ReaderFailure> {
        match &self.mode {
            Mode::InProcess => Ok(message::parse(raw, limits)),
            Mode::Children(c) => {
                let request = Request::ParseMessage {
                    limits: limits.clone(),
                };
                c.request("parse_message", &request, raw, read_parsed)
            }
        }
    }

    /// What `sheet::read_workbook(bytes)` returns, computed by a reader.
    pub fn read_workbook(
        &self,
        bytes: &[u8],
    ) -> Result<Result<Workbook, ReadError>, ReaderFailure> {
        match &self.mode {
            Mode::InProcess => Ok(sheet::read_workbook(bytes)),
            Mode::Children(c) => c.request(
                "read_workbook",
                &Request::ReadWorkbook,
                bytes,
                read_workbook,
            ),
        }
    }
}

fn read_parsed(r: &mut impl Read) -> Result<ParsedMessage, FrameError> {
    match protocol::read_json(r)? {
        Response::Parsed { mut message } => {
            for a in &mut message.attachments {
                a.bytes = protocol::expect_frame(r)?;
            }
            Ok(*message)
        }
        other => Err(unexpected(&other)),
    }
}

fn read_workbook(r: &mut impl Read) -> Result<Result<Workbook, ReadError>, FrameError> {
    match protocol::read_json(r)? {
        Response::Workbook { result } => Ok(result),
        other => Err(unexpected(&other)),
    }
}

fn unexpected(response: &Response) -> FrameError {
    let what = match response {
        Response::Ready { .. } => "ready",
        Response::Parsed { .. } => "parsed",
        Response::Workbook { .. } => "workbook",
    };
    FrameError::Garbage(format!("unexpected reply {what}"))
}

/// The readers of one pool.
struct Children {
    program: PathBuf,
    env: Vec<(OsString, OsString)>,
    limits: ChildLimits,
    timeout: Duration,
    size: usize,
    state: Mutex<State>,
    freed: Condvar,
}

struct State {
    idle: Vec<Reader>,
    /// Readers alive, idle or busy (or being started).
    live: usize,
}

impl Children {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic elsewhere cannot leave `State` inconsistent: take it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one request on a reader; a reader that failed is replaced.
    fn request<T>(
        &self,
        op: &'static str,
        request: &Request,
        payload: &[u8],
        read: impl FnOnce(&mut BufReader<ChildStdout>) -> Result<T, FrameError>,
    ) -> Result<T, ReaderFailure> {
        let mut reader = self.acquire()?;
        let result = reader.guarded(self.timeout, |io| {
            protocol::write_json(&mut io.stdin, request)?;
            protocol::write_frame(&mut io.stdin, payload)?;
            io.stdin.flush()?;
            read(&mut io.stdout)
        });
        let pid = reader.pid;
        let tail = reader.stderr_tail();
        self.release(reader);
        if let Err(failure) = &result {
            tracing::warn!(
                op,
                pid,
                sha256 = %hex::encode(Sha256::digest(payload)),
                bytes = payload.len(),
                failure = %failure,
                stderr = %tail,
                "a reader process failed; the input is refused as unreadable"
            );
        }
        result
    }

    /// An idle reader, a new one, or the next one given back.
    fn acquire(&self) -> Result<Reader, ReaderFailure> {
        let mut state = self.lock();
        loop {
            if let Some(reader) = state.idle.pop() {
                return Ok(reader);
            }
            if state.live < self.size {
                state.live += 1;
                drop(state);
                return self.spawn().inspect_err(|_| self.lost());
            }
            state = self.freed.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Takes a reader back: idle again, or (when it died) replaced.
    fn release(&self, reader: Reader) {
        if reader.dead {
            drop(reader);
            self.lost();
            self.replace();
        } else {
            self.lock().idle.push(reader);
            self.freed.notify_one();
        }
    }

    /// Starts a reader in place of a lost one, so the next request does
    /// not pay the start; nothing when no slot is free.
    fn replace(&self) {
        let mut state = self.lock();
        if state.live >= self.size {
            return;
        }
        state.live += 1;
        drop(state);
        match self.spawn() {
            Ok(fresh) => self.release(fresh),
            Err(e) => {
                self.lost();
                tracing::error!("cannot replace a reader process: {e}");
            }
        }
    }

    fn lost(&self) {
        let mut state = self.lock();
        state.live = state.live.saturating_sub(1);
        drop(state);
        self.freed.notify_one();
    }

    /// Starts a reader and waits for its greeting.
    fn spawn(&self) -> Result<Reader, ReaderFailure> {
        let mut cmd = Command::new(&self.program);
        cmd.arg("reader")
            .arg("--memory-mb")
            .arg(self.limits.memory_mb.to_string())
            .arg("--cpu-seconds")
            .arg(self.limits.cpu_seconds.to_string())
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // Its own process group: Ctrl-C at the gateway's terminal must
            // not kill a reader under a message being finished.
            .process_group(0);
        let unavailable =
            |e: String| ReaderFailure::Unavailable(format!("{}: {e}", self.program.display()));
        let mut child = cmd.spawn().map_err(|e| unavailable(e.to_string()))?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(unavailable("no pipes".into()));
        };
        let tail = Arc::new(Mutex::new(Vec::new()));
        let pid = child.id();
        let dog = match Watchdog::start(pid) {
            Ok(dog) => dog,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(unavailable(format!("no watchdog thread: {e}")));
            }
        };
        let mut reader = Reader {
            pid,
            child,
            io: Io {
                stdin: BufWriter::new(stdin),
                stdout: BufReader::new(stdout),
            },
            stderr: Some(drain_stderr(pid, stderr, tail.clone())),
            tail,
            dead: false,
            dog,
        };
        let greeting = reader.guarded(self.timeout, |io| {
            match protocol::read_json(&mut io.stdout)? {
                Response::Ready { .. } => Ok(()),
                other => Err(unexpected(&other)),
            }
        });
        match greeting {
            // Greeted just as the deadline passed: that reader is reaped.
            Ok(()) if reader.dead => Err(unavailable("the reader was too slow to start".into())),
            Ok(()) => Ok(reader),
            Err(e) => Err(unavailable(format!(
                "the reader did not start ({e}); {}",
                reader.stderr_tail()
            ))),
        }
    }
}

/// The pipes of a reader.
struct Io {
    stdin: BufWriter<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

/// One reader process.
struct Reader {
    pid: u32,
    child: Child,
    io: Io,
    stderr: Option<JoinHandle<()>>,
    /// The last bytes the reader wrote to stderr.
    tail: Arc<Mutex<Vec<u8>>>,
    /// Killed or exited: not to be used again.
    dead: bool,
    /// Kills it when a request runs past its deadline.
    dog: Watchdog,
}

/// A reader's watchdog: a thread that kills the reader when an armed
/// deadline passes. Killing happens under the lock that `disarm` takes, so
/// once `disarm` returns the reader cannot be killed by it until the next
/// `arm`: the reader may then be reaped.
struct Watchdog {
    shared: Arc<(Mutex<Dog>, Condvar)>,
    thread: Option<JoinHandle<()>>,
}

/// What the watchdog thread and the reader share.
#[derive(Default)]
struct Dog {
    /// The deadline of the request under way (`None`: none, or one too
    /// far off for `Instant`, which never fires).
    armed: Option<Instant>,
    /// The deadline passed and the reader was killed.
    fired: bool,
    /// The reader is gone: the thread ends.
    stop: bool,
}

impl Watchdog {
    /// The watchdog of process `pid`, its thread started.
    fn start(pid: u32) -> std::io::Result<Watchdog> {
        let shared = Arc::new((Mutex::new(Dog::default()), Condvar::new()));
        let thread = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("reader-{pid}-watchdog"))
                .spawn(move || watch(pid as libc::pid_t, &shared))?
        };
        Ok(Watchdog {
            shared,
            thread: Some(thread),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Dog> {
        self.shared.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Kills the reader unless [`Watchdog::disarm`] comes within `timeout`
    /// (a timeout past what `Instant` can hold never fires).
    fn arm(&self, timeout: Duration) {
        let mut dog = self.lock();
        dog.armed = Instant::now().checked_add(timeout);
        dog.fired = false;
        self.shared.1.notify_one();
    }

    /// Stops the count; true when the deadline had passed (the reader was
    /// killed).
    fn disarm(&self) -> bool {
        let mut dog = self.lock();
        dog.armed = None;
        self.shared.1.notify_one();
        dog.fired
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        {
            let mut dog = self.lock();
            dog.armed = None;
            dog.stop = true;
            self.shared.1.notify_one();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The watchdog thread of process `pid`.
fn watch(pid: libc::pid_t, shared: &(Mutex<Dog>, Condvar)) {
    let (lock, wake) = shared;
    let mut dog = lock.lock().unwrap_or_else(|e| e.into_inner());
    while !dog.stop {
        dog = match dog.armed {
            None => wake.wait(dog).unwrap_or_else(|e| e.into_inner()),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    // SAFETY: the reader is only reaped while the watchdog
                    // is disarmed (see `Reader::guarded`), and we hold the
                    // lock that disarming takes: `pid` is still ours.
                    unsafe { libc::kill(pid, libc::SIGKILL) };
                    dog.fired = true;
                    dog.armed = None;
                    continue;
                }
                wake.wait_timeout(dog, deadline - now)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0)
            }
        };
    }
}

/// How much of a reader's stderr is kept for the failure report.
const TAIL_BYTES: usize = 4096;

/// Logs what a reader writes to stderr and keeps the end of it.
fn drain_stderr(pid: u32, stderr: ChildStderr, tail: Arc<Mutex<Vec<u8>>>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stderr);
        let mut line = Vec::new();
        while lines.read_until(b'\n', &mut line).is_ok_and(|n| n > 0) {
            tracing::warn!(pid, "reader: {}", String::from_utf8_lossy(&line).trim_end());
            let mut t = tail.lock().unwrap_or_else(|e| e.into_inner());
            t.extend_from_slice(&line);
            let excess = t.len().saturating_sub(TAIL_BYTES);
            t.drain(..excess);
            line.clear();
        }
    })
}

impl Reader {
    /// Runs `exchange` under the wall-clock `timeout`. On failure the
    /// reader is reaped and marked dead, and the failure says why.
    fn guarded<T>(
        &mut self,
        timeout: Duration,
        exchange: impl FnOnce(&mut Io) -> Result<T, FrameError>,
    ) -> Result<T, ReaderFailure> {
        self.dog.arm(timeout);
        let result = exchange(&mut self.io);
        let garbage = match &result {
            Ok(_) => None,
            Err(FrameError::Garbage(why)) => {
                // It is alive and confused: stop it before waiting.
                let _ = self.child.kill();
                Some(why.clone())
            }
            Err(FrameError::Io(_)) => None,
        };
        if result.is_err() {
            // Wait for the end without reaping: the watchdog bounds this.
            wait_exited(self.pid);
        }
        let timed_out = self.dog.disarm();
        match result {
            Ok(value) => {
                // Answered just as the deadline passed: keep the answer,
                // drop the reader.
                if timed_out {
                    self.finish();
                }
                Ok(value)
            }
            Err(_) => Err(self.failure(timed_out, garbage)),
        }
    }

    /// Reaps a dead reader and tells why it failed.
    fn failure(&mut self, timed_out: bool, garbage: Option<String>) -> ReaderFailure {
        let end = self.finish();
        let oom = String::from_utf8_lossy(&self.tail.lock().unwrap_or_else(|e| e.into_inner()))
            .contains("memory allocation of");
        match (timed_out, garbage, end) {
            (true, _, _) => ReaderFailure::TimedOut,
            (_, Some(why), _) => ReaderFailure::Protocol(why),
            (_, _, Some(ChildEnd::Signal(libc::SIGXCPU))) => ReaderFailure::TimedOut,
            _ if oom => ReaderFailure::OutOfMemory,
            (_, _, Some(end)) => ReaderFailure::Crashed(end),
            (_, _, None) => ReaderFailure::Protocol("the reader closed its pipes".into()),
        }
    }

    /// Kills (if needed) and reaps the reader, and drains its stderr.
    fn finish(&mut self) -> Option<ChildEnd> {
        self.dead = true;
        let _ = self.child.kill();
        let status = self.child.wait().ok()?;
        if let Some(h) = self.stderr.take() {
            let _ = h.join();
        }
        match (status.code(), status.signal()) {
            (Some(code), _) => Some(ChildEnd::Exit(code)),
            (_, Some(sig)) => Some(ChildEnd::Signal(sig)),
            _ => None,
        }
    }

    /// The end of the reader's stderr, as text.
    fn stderr_tail(&self) -> String {
        let t = self.tail.lock().unwrap_or_else(|e| e.into_inner());
        String::from_utf8_lossy(&t).trim().to_string()
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        // Dropped in the middle of a request (a panic): no kill after the
        // reap below.
        self.dog.disarm();
        if !self.dead {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Blocks until process `pid` has exited, leaving it unreaped.
fn wait_exited(pid: u32) {
    loop {
        // SAFETY: waitid fills the siginfo we own; WNOWAIT leaves the
        // child to be reaped by `Child::wait`.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        let rc = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if rc == 0 || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted {
            return;
        }
    }
}
