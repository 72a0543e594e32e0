//! mailbox (being written).
