//! One module per subcommand: its arguments and the thin I/O layer that
//! calls into the library and prints results.

pub mod backup;
pub mod calendar;
pub mod check;
pub mod config_check;
pub mod file;
pub mod gmis;
pub mod imap;
pub mod ingest;
pub mod purge;
pub mod queue;
pub mod reader;
pub mod serve;
pub mod status;
pub mod template;
pub mod users;
