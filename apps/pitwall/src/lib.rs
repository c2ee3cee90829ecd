//! The `pitwall` binary's library half: configuration and server assembly,
//! shared with the test kit so that tests run exactly what production runs.

pub mod backup;
pub mod config;
pub mod demo;
pub mod server;

pub use config::Config;
