//! Hardshell: a self-hosted, security-first home for AI agents.
//!
//! This crate is the application: CLI, configuration, the encrypted store,
//! and the HTTP server. The security primitives live in their own crates
//! (`vault`, `audit`, `netguard`, `promptguard`) and know nothing of it.

pub mod agents;
pub mod app;
pub mod audit_log;
pub mod auth;
pub mod backup;
pub mod bookmarks;
pub mod channels;
pub mod chat;
pub mod cli;
pub mod config;
pub mod doctor;
pub mod footprint;
pub mod lock;
pub mod logging;
pub mod metrics;
pub mod secrets;
pub mod store;
pub mod trust;
pub mod user_data;
pub mod web;
