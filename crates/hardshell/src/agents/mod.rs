//! Agents: the models people talk to, and everything a turn needs —
//! providers, routing, the turn loop, budgets, memory and knowledge.
//!
//! Domain code only: no HTTP types, no SQL (that lives in `store`). Output
//! an agent produces passes the leak guard before it is stored, streamed or
//! sent; content the agent did not get from a signed-in member is wrapped,
//! stripped and scanned before it reaches the model.

pub mod budget;
pub mod connect;
mod context;
pub mod judge;
pub mod knowledge;
mod live_text;
pub mod memory;
pub mod model;
pub mod prompt;
pub mod providers;
pub mod registry;
pub mod retrieval;
pub mod routing;
pub mod rrf;
pub mod runtime;
pub mod seed;
pub(crate) mod tools;
mod turn;
pub(crate) mod turn_park;
pub mod untrusted;
pub mod workspace;
