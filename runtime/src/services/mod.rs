//! The services the runtime serves itself: health and reflection.

pub mod health;
pub mod reflection;
