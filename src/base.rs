//! Small shared pieces that every layer may use and that use nothing else of
//! the crate: the time zone the service works in, the identity of the host
//! it runs on and the shutdown signal the long-running tasks wait on.
//!
//! This module sits at the bottom of the dependency order on purpose: it
//! imports no other module of the crate, so anything may import it without
//! creating a cycle. Keep it that way; a piece that needs domain types
//! belongs elsewhere.

pub mod host;
pub mod shutdown;
pub mod time;
