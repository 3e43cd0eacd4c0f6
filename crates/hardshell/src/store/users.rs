//! SQL for the `users` table. The identity layer builds on these.

use super::{Store, StoreError};

impl Store {
    /// True once an owner account exists; a non-loopback bind needs one.
    pub async fn owner_exists(&self) -> Result<bool, StoreError> {
        self.read(|conn| {
            let n: i64 = conn.query_row(
                "SELECT count(*) FROM users WHERE role = 'owner' AND disabled = 0",
                [],
                |r| r.get(0),
            )?;
            Ok(n > 0)
        })
        .await
    }
}
