//! mailbox (being written).

/// Sender classification: prefecture directory, authentication, auto-generated mail.
pub mod senders;
