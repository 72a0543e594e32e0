//! mailbox (being written).

/// Sender classification: prefecture directory, authentication, auto-generated mail.
pub mod senders;

pub mod imap;

/// The Maildir source (the embedded default inbox).
pub mod maildir;
