//! Where a watched mailbox was read up to (UIDVALIDITY + last UID handled)
//! and the folder moves still owed, in the database beside the queue
//! (`migrations/*/0004_imap.sql`).
//!
//! Order of events per batch of messages (one message when it arrived
//! alone): the pipeline's transaction commits, then [`record_handled_all`]
//! advances the checkpoint and notes the owed moves in one transaction, then
//! the moves run (one per folder) and [`move_done_all`] clears the notes. A crash
//! between any two steps is harmless: before the checkpoint, the message is
//! fetched again and the pipeline's key says it is already processed; after
//! it, the owed move is retried on the next connection.
//!
//! The storage itself is [`crate::queue::imap_state`] (the queue is the one
//! place that issues SQL); this module names it in the watcher's words.

pub use crate::queue::imap_state::{
    Checkpoint, PendingMove, load_checkpoint as load, move_done, move_done_all, move_failed,
    move_failed_all, pending_moves, record_handled, record_handled_all, reset_checkpoint as reset,
};
