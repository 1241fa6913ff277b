//! The `omnicase` binary's parts: configuration, the assembled application
//! and its HTTP router, the CLI commands, and the submission document.

pub mod access;
pub mod cli;
pub mod config;
pub mod errors;
pub mod generator;
pub mod http;
pub mod intake_http;
pub mod openapi;
pub mod seed;
pub mod server;
pub mod timers;
