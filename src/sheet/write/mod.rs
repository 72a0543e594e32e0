//! Writing workbooks, apart from reading them: the blank form and filled
//! copies ([`template`]) and the annotated copy of a submission sent back
//! with an error report ([`annotate`]).
//!
//! Both are re-exported from [`crate::sheet`] (`sheet::template`,
//! `sheet::annotate`), the paths callers use.

pub mod annotate;
pub mod template;

// The writers reach the reading side through these imports (`super::reader`,
// `super::guard`, `super::CellPos` in their own `use` lines), so that moving
// them here left their text unchanged.
use super::{CellPos, guard, reader};
