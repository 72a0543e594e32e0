//! mailbox (being written).

/// Sender classification: prefecture directory, authentication, auto-generated mail.
pub mod senders;

/// The IMAP source: IDLE, UID checkpoints, folders by outcome, one watcher per mailbox.
pub mod imap;

/// The Maildir source (the embedded default inbox).
pub mod maildir;
