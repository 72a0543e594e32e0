//! mailbox (being written).

/// Sender classification moved next to the message it reads
/// ([`crate::message::senders`]) so the pipeline can call it without
/// importing a mailbox source; the old path stays for callers outside the
/// crate (tests, benches).
pub use crate::message::senders;

pub mod imap;

/// The Maildir source (the embedded default inbox).
pub mod maildir;
