//! What the process observes about itself: counters, histograms and the
//! state of each mailbox source ([`monitor`], exported in the Prometheus
//! text format) and the log output with the message span ([`logging`]).
//!
//! It sits low in the dependency order on purpose: the pipeline, the
//! mailbox sources, the outbox, OAuth and the web router all report into it,
//! so it imports nothing of the crate but [`crate::base`]. Callers turn
//! their own facts (an intake outcome, a watcher's status, the queue sizes)
//! into the plain values its methods take.

pub mod logging;
pub mod monitor;
