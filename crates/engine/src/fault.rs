//! Fault injection for tests (hull-fault): `HULL_FAULT=NAME` kills the process that
//! reaches crash point `NAME`. [`POINTS`] lists every point of hull with its step.

pub use hull_fault::{point, POINTS};
