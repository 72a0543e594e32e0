//! Content-addressed storage of raw bytes: every received message and every
//! attachment, keyed by its SHA-256, so a record can always point back at
//! exactly what was sent and a re-delivery stores nothing new.

use anyhow::Context;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Row};

/// The lowercase hex SHA-256 of `bytes` (the key [`put`] stores them under).
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Stores `bytes` and returns their SHA-256 (hex). Storing the same bytes
/// again is a no-op (`ON CONFLICT DO NOTHING`), also when two processes do
/// it at once.
pub async fn put(conn: &mut AnyConnection, bytes: &[u8]) -> anyhow::Result<String> {
    let sha = sha256_hex(bytes);
    sqlx::query(
        "INSERT INTO blobs (sha256, size, content, stored_at) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (sha256) DO NOTHING",
    )
    .bind(&sha)
    .bind(bytes.len() as i64)
    .bind(bytes.to_vec())
    .bind(super::db::now_text())
    .execute(&mut *conn)
    .await
    .with_context(|| format!("cannot store blob {sha}"))?;
    Ok(sha)
}

/// The bytes stored under `sha256` (hex), or `None` when unknown.
pub async fn get(conn: &mut AnyConnection, sha256: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let row = sqlx::query("SELECT content FROM blobs WHERE sha256 = $1")
        .bind(sha256.to_ascii_lowercase())
        .fetch_optional(&mut *conn)
        .await
        .with_context(|| format!("cannot read blob {sha256}"))?;
    row.map(|r| r.try_get::<Vec<u8>, _>(0))
        .transpose()
        .with_context(|| format!("cannot decode blob {sha256}"))
}

/// The size in bytes of the blob stored under `sha256`, or `None` when unknown.
pub async fn size(conn: &mut AnyConnection, sha256: &str) -> anyhow::Result<Option<i64>> {
    let row = sqlx::query("SELECT size FROM blobs WHERE sha256 = $1")
        .bind(sha256.to_ascii_lowercase())
        .fetch_optional(&mut *conn)
        .await
        .with_context(|| format!("cannot read blob {sha256}"))?;
    row.map(|r| r.try_get::<i64, _>(0))
        .transpose()
        .with_context(|| format!("cannot decode blob size {sha256}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha_of_known_bytes() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
