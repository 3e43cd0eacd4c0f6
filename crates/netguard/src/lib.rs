//! netguard: SSRF-safe HTTP egress for tools and providers. One classifier for
//! every special-purpose address, one resolution per hop with the connection
//! pinned to the checked addresses, redirects re-checked by hand, and hard
//! limits on time, size and concurrency. Nothing in this crate resolves a name
//! outside `check`, and nothing dials an address that `check` did not pass.

mod check;
mod classify;
mod client;
mod error;
mod metadata;
mod policy;
mod resolve;
mod streaming;
mod transport;

/// The chunk type [`StreamingResponse::chunk`] yields.
pub use bytes::Bytes;
pub use check::{CheckReport, Target, check};
pub use classify::{BlockedRange, Embedding, classify, classify_v4, classify_v6};
pub use client::{Client, ClientBuilder, Egress, EgressParts, Request, Response};
pub use error::{NetError, OverrideError, PatternError};
pub use policy::{
    HostPattern, Limits, Policy, PolicyBuilder, host_key, is_localhost_name, normalize_domain,
};
pub use resolve::{
    BoxFuture, Resolve, ResolveError, StaticResolver, SystemResolver, parse_override,
};
pub use streaming::StreamingResponse;
/// The rustls root store type accepted by [`ClientBuilder::tls_roots`].
pub use tokio_rustls::rustls::RootCertStore;
pub use transport::{Dial, TcpDialer};
