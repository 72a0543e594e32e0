//! Running the gateway in production (issue 14): what the process
//! observes about itself ([`monitor`]: counters, histograms and the state
//! of each mailbox source, exported in the Prometheus text format), whether
//! it is ready to work ([`readiness`]), and consistent copies of its data
//! ([`backup`]).
//!
//! The pipeline, the mailbox sources, the outbox and the web router report
//! to [`monitor::global`] with one call each; everything else lives here so
//! those modules stay small.

pub mod backup;
pub mod config_check;
pub mod logging;
pub mod monitor;
pub mod readiness;
