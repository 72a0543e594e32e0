//! Reader processes: where attacker-controlled bytes are parsed.
//!
//! mail-parser, zip and calamine run on every attachment the mailbox
//! receives. A crash, an abort (`memory allocation failed`), runaway memory
//! or a hang in one of them must cost one attachment, never the gateway.
//! So `serve`, `ingest` and `check` parse messages and read workbooks in
//! child processes: the same binary started as the hidden `sos-intake
//! reader` subcommand ([`child::serve`]), kept in a small [`ReaderPool`]
//! and fed one request after another over a framed protocol
//! ([`protocol`]). Each child runs under an address-space limit (RLIMIT_AS)
//! and a per-request CPU limit (RLIMIT_CPU), set before it reads any input;
//! the pool adds a wall-clock timeout. A child that dies, overruns or
//! answers garbage is killed and replaced, and the request answers a typed
//! [`ReaderFailure`]; the pipeline refuses that attachment as unreadable.
//!
//! Library callers (integration tests, benches, fuzz targets) have no
//! `sos-intake` executable to start: they use [`ReaderPool::in_process`]
//! explicitly, or get it from [`ReaderPool::installed`] when the binary did
//! not [`install`](ReaderPool::install) a pool of children.

pub mod child;
pub mod faults;
mod pool;
pub mod protocol;

pub use pool::{ChildEnd, ReaderFailure, ReaderPool};
