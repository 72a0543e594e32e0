//! The senders an admin authorised in the web UI (`web_sender_allowlist`):
//! addresses outside `[prefectures]` that speak for a prefecture.
//!
//! The mail pipeline reads them for every message rather than once at
//! start-up, so an authorisation counts for the next mail at once, in every
//! gateway sharing the database. The table is a handful of rows.

use crate::prefecture::Prefecture;
use anyhow::Context;
use sqlx::{AnyConnection, Row};

/// Every authorised sender as (lower-case address, prefecture), by address.
/// A row naming a prefecture we do not know is skipped with a warning.
pub async fn authorised(conn: &mut AnyConnection) -> anyhow::Result<Vec<(String, Prefecture)>> {
    let rows = sqlx::query("SELECT address, prefecture FROM web_sender_allowlist ORDER BY address")
        .fetch_all(&mut *conn)
        .await
        .context("cannot read the authorised senders")?;
    let mut senders = Vec::with_capacity(rows.len());
    for row in &rows {
        let address: String = row.try_get("address")?;
        let name: String = row.try_get("prefecture")?;
        match Prefecture::parse(&name) {
            Some(prefecture) => senders.push((address.to_lowercase(), prefecture)),
            None => {
                tracing::warn!(%address, prefecture = %name, "authorised sender for an unknown prefecture: skipped")
            }
        }
    }
    Ok(senders)
}

/// Remembers `address` as speaking for `prefecture` (replacing what it was
/// authorised for before), on behalf of `actor` at `now`.
pub async fn authorise(
    conn: &mut AnyConnection,
    address: &str,
    prefecture: Prefecture,
    actor: &str,
    now: &str,
) -> anyhow::Result<()> {
    sqlx::query(
        "INSERT INTO web_sender_allowlist (address, prefecture, added_by, added_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (address) DO UPDATE SET prefecture = $2, added_by = $3, added_at = $4",
    )
    .bind(address.to_lowercase())
    .bind(prefecture.name())
    .bind(actor)
    .bind(now)
    .execute(&mut *conn)
    .await
    .with_context(|| format!("cannot authorise the sender {address}"))?;
    Ok(())
}
