//! Where a watched mailbox was read up to (UIDVALIDITY + last UID handled)
//! and the folder moves still owed, in the database beside the queue
//! (`migrations/*/0004_imap.sql`).
//!
//! Order of events per message: the pipeline's transaction commits, then
//! [`record_handled`] advances the checkpoint and notes the owed move in one
//! transaction, then the move runs and [`move_done`] clears the note. A crash
//! between any two steps is harmless: before the checkpoint, the message is
//! fetched again and the pipeline's key says it is already processed; after
//! it, the owed move is retried on the next connection.
//!
//! The storage itself is [`crate::queue::imap_state`] (the queue is the one
//! place that issues SQL); this module names it in the watcher's words.

pub use crate::queue::imap_state::{
    Checkpoint, PendingMove, load_checkpoint as load, move_done, move_failed, pending_moves,
    record_handled, reset_checkpoint as reset,
};
