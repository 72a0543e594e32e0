//! Running the gateway in production (issue 14): whether it is ready to
//! work ([`readiness`]), consistent copies of its data ([`backup`]) and the
//! unsafe settings `config check` warns about ([`config_check`]).
//!
//! What the process observes about itself (metrics, mailbox source states,
//! log spans) lives in [`crate::observe`], below every module that reports
//! into it.

pub mod backup;
pub mod config_check;
pub mod readiness;
