//! The `omnicase` binary's parts: configuration, the CLI commands, and the
//! channel-submission document they read. The server joins here with the
//! read side.

pub mod cli;
pub mod config;
pub mod submission;
