//! The conversation engine (DESIGN §6): pure, no I/O and no clock.
pub mod hours;
pub mod model;
pub mod template;
pub mod validators;
