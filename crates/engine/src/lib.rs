//! smmflow-engine: the deciding core. Given an instance's state, a command and
//! the time, it returns events and actions, and does no IO.

pub mod time;
