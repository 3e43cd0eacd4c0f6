//! Chain verification over the stored log: stream rows in physical order
//! through the `audit` crate's verifier, with the anchor file.

use std::path::Path;

use audit::{AuditKey, Verifier, VerifyReport};

use crate::store::{Store, StoreError};

pub async fn verify(
    store: &Store,
    key: &AuditKey,
    anchor_path: &Path,
) -> Result<VerifyReport, StoreError> {
    // An unreadable anchor counts as no anchor; the verifier reports it.
    let anchor = audit::read_anchor(anchor_path).ok().flatten();
    let key = key.clone();
    store
        .audit_scan(move |checkpoint, rows| {
            let mut verifier = Verifier::new(&key, anchor, checkpoint);
            for row in rows {
                match row {
                    Some(entry) => verifier.push(&entry),
                    None => verifier.push_unreadable(),
                }
            }
            verifier.finish()
        })
        .await
}
