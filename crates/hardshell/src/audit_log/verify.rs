//! Chain verification over the stored log: stream rows in physical order
//! through the `audit` crate's verifier, with every anchor. Reads only.

use audit::{AuditKey, KnownAnchor, Verifier, VerifyReport};

use crate::store::{Store, StoreError};

pub async fn verify(
    store: &Store,
    key: &AuditKey,
    anchors: Vec<KnownAnchor>,
) -> Result<VerifyReport, StoreError> {
    // An empty log is a break when the database holds users.
    let holds_users = store.audit_read(|chain| chain.holds_users()).await?;
    let key = key.clone();
    store
        .audit_scan(move |checkpoint, rows| {
            let mut verifier =
                Verifier::with_anchors(&key, anchors, checkpoint).holds_state(holds_users);
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
