//! Integration tests: one binary, every store test on SQLite and on a real
//! PostgreSQL server (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod attacks;
mod browser;
mod cli;
mod concurrency;
mod engine_flows;
mod feed;
mod fuzz_inputs;
mod generator;
mod group_commit;
mod hardening;
mod intake;
mod kafka;
mod logs;
mod readmodels;
mod socket;
mod tenancy;
mod timers;
mod verify;
