//! replies (being written).
