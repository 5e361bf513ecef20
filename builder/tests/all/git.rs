//! Git smart HTTP end to end.
