//! Staff actions on a record from the review desk: MHLW's decision per item,
//! 受付完了, and moving a record to another batch. Each checks the record's
//! state (for a clear refusal), takes the record's row lock, changes it and
//! writes the audit row, all in one nested transaction.

use super::audit::{self, Action};
use super::db::{date_text, now_text};
use super::filing::mark_completed;
use super::{BadDecision, QueueError};
use crate::request::{Item, MhlwDecision, Status};
use anyhow::Context;
use chrono::NaiveDate;
use sqlx::{AnyConnection, Connection, Row};

/// Records MHLW's decision on one item of a record under review:
/// approve / refuse (refusal needs `decision.reason`), 配布数, 送付日.
/// `why` is kept in the history.
pub async fn set_mhlw_decision(
    conn: &mut AnyConnection,
    record_id: i64,
    item: Item,
    decision: &MhlwDecision,
    actor: &str,
    why: &str,
) -> Result<(), QueueError> {
    if decision.quantity.is_some_and(|q| q < 0) {
        return Err(QueueError::InvalidDecision(BadDecision::NegativeQuantity));
    }
    if decision.approved == Some(false) && decision.reason.trim().is_empty() {
        return Err(QueueError::InvalidDecision(
            BadDecision::RefusalWithoutReason,
        ));
    }
    let mut tx = conn.begin().await?;
    let state = lock_for_change(&mut tx, record_id).await?;
    state.require_review()?;
    let before = sqlx::query(
        "SELECT mhlw_approved, mhlw_quantity, mhlw_ship_date, mhlw_reason FROM request_items \
         WHERE request_id = $1 AND item = $2",
    )
    .bind(record_id)
    .bind(item.code())
    .fetch_optional(&mut *tx)
    .await?
    .ok_or_else(|| QueueError::ItemNotInRequest {
        receipt: state.receipt.clone(),
        item,
    })?;
    let before = serde_json::json!({
        "approved": before.try_get::<Option<i64>, _>("mhlw_approved")?.map(|v| v != 0),
        "quantity": before.try_get::<Option<i64>, _>("mhlw_quantity")?,
        "ship_date": before.try_get::<Option<String>, _>("mhlw_ship_date")?,
        "reason": before.try_get::<String, _>("mhlw_reason")?,
    });
    let now = now_text();
    sqlx::query(
        "UPDATE request_items SET mhlw_approved = $1, mhlw_quantity = $2, mhlw_ship_date = $3, mhlw_reason = $4, \
         mhlw_decided_by = $5, mhlw_decided_at = $6 WHERE request_id = $7 AND item = $8",
    )
    .bind(decision.approved.map(|a| a as i64))
    .bind(decision.quantity)
    .bind(decision.ship_date.map(date_text))
    .bind(decision.reason.trim())
    .bind(actor)
    .bind(&now)
    .bind(record_id)
    .bind(item.code())
    .execute(&mut *tx)
    .await
    .map_err(|e| state.map_trigger(e))?;
    let detail = serde_json::json!({
        "item": item.code(),
        "from": before,
        "to": {
            "approved": decision.approved,
            "quantity": decision.quantity,
            "ship_date": decision.ship_date.map(date_text),
            "reason": decision.reason.trim(),
        },
    });
    audit::record(
        &mut tx,
        Some(record_id),
        actor,
        Action::Decided.as_str(),
        &detail,
        why,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Makes a record 受付完了. Every requested item needs a complete decision:
/// approved with 配布数 > 0 and 送付日, or refused with a reason. After this
/// the record never changes again (the database enforces it).
pub async fn complete(
    conn: &mut AnyConnection,
    record_id: i64,
    actor: &str,
) -> Result<(), QueueError> {
    let mut tx = conn.begin().await?;
    let state = lock_for_change(&mut tx, record_id).await?;
    state.require_review()?;
    let rows = sqlx::query(
        "SELECT item, mhlw_approved, mhlw_quantity, mhlw_ship_date, mhlw_reason FROM request_items \
         WHERE request_id = $1 AND requested = 1 ORDER BY position",
    )
    .bind(record_id)
    .fetch_all(&mut *tx)
    .await?;
    let mut undecided = Vec::new();
    let mut decided = Vec::new();
    for row in &rows {
        let code: String = row.try_get("item")?;
        let item = Item::parse(&code).with_context(|| format!("unknown item {code:?}"))?;
        let approved: Option<i64> = row.try_get("mhlw_approved")?;
        let quantity: Option<i64> = row.try_get("mhlw_quantity")?;
        let ship_date: Option<String> = row.try_get("mhlw_ship_date")?;
        let reason: String = row.try_get("mhlw_reason")?;
        let complete = match approved {
            Some(1) => quantity.is_some_and(|q| q > 0) && ship_date.is_some(),
            Some(_) => !reason.trim().is_empty(),
            None => false,
        };
        if complete {
            decided.push(serde_json::json!({
                "item": code, "approved": approved == Some(1), "quantity": quantity, "ship_date": ship_date,
            }));
        } else {
            undecided.push(item);
        }
    }
    if !undecided.is_empty() || rows.is_empty() {
        return Err(QueueError::Undecided {
            receipt: state.receipt,
            items: undecided,
        });
    }
    mark_completed(&mut tx, record_id, actor).await?;
    let detail = serde_json::json!({
        "status": { "from": state.status.as_str(), "to": Status::Completed.as_str() },
        "items": decided,
    });
    audit::record(
        &mut tx,
        Some(record_id),
        actor,
        Action::Completed.as_str(),
        &detail,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Moves a record to another batch date (urgent cases phoned in after the
/// cut-off). The reason is required and kept in the history and as the
/// record's batch reason.
pub async fn move_batch(
    conn: &mut AnyConnection,
    record_id: i64,
    new_date: NaiveDate,
    actor: &str,
    reason: &str,
) -> Result<(), QueueError> {
    if reason.trim().is_empty() {
        return Err(QueueError::ReasonRequired);
    }
    let mut tx = conn.begin().await?;
    let state = lock_for_change(&mut tx, record_id).await?;
    state.require_open()?;
    sqlx::query(
        "UPDATE requests SET batch_date = $1, batch_reason = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(date_text(new_date))
    .bind(reason.trim())
    .bind(now_text())
    .bind(record_id)
    .execute(&mut *tx)
    .await
    .map_err(|e| state.map_trigger(e))?;
    let detail = serde_json::json!({ "batch_date": { "from": state.batch_date, "to": date_text(new_date) } });
    audit::record(
        &mut tx,
        Some(record_id),
        actor,
        Action::BatchMoved.as_str(),
        &detail,
        reason.trim(),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Completes the delivery address of a record that has none (G-MIS exports
/// no address; issue 13.8), before 受付完了 fixes it for good. Audited
/// with the values before and after.
pub async fn set_delivery_address(
    conn: &mut AnyConnection,
    record_id: i64,
    postcode: &str,
    address: &str,
    actor: &str,
) -> Result<(), QueueError> {
    let mut tx = conn.begin().await?;
    let state = lock_for_change(&mut tx, record_id).await?;
    state.require_open()?;
    let before: (String, String) = sqlx::query_as(
        "SELECT institution_postcode, institution_address FROM requests WHERE id = $1",
    )
    .bind(record_id)
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE requests SET institution_postcode = $1, institution_address = $2, updated_at = $3 WHERE id = $4",
    )
    .bind(postcode)
    .bind(address)
    .bind(now_text())
    .bind(record_id)
    .execute(&mut *tx)
    .await
    .map_err(|e| state.map_trigger(e))?;
    let detail = serde_json::json!({
        "postcode": { "from": before.0, "to": postcode },
        "address": { "from": before.1, "to": address },
    });
    audit::record(
        &mut tx,
        Some(record_id),
        actor,
        "address_completed",
        &detail,
        "",
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// What a staff action needs to know about the record it changes.
struct RecordState {
    receipt: String,
    status: Status,
    batch_date: String,
    superseded_by: Option<String>,
}

impl RecordState {
    /// Not 受付完了.
    fn require_open(&self) -> Result<(), QueueError> {
        if self.status == Status::Completed {
            return Err(QueueError::Completed {
                receipt: self.receipt.clone(),
            });
        }
        Ok(())
    }

    /// Under review and current (not replaced by a newer sheet).
    fn require_review(&self) -> Result<(), QueueError> {
        self.require_open()?;
        if let Some(by) = &self.superseded_by {
            return Err(QueueError::Superseded {
                receipt: self.receipt.clone(),
                by: by.clone(),
            });
        }
        if self.status != Status::UnderReview {
            return Err(QueueError::NotInReview {
                receipt: self.receipt.clone(),
                status: self.status.as_str().into(),
            });
        }
        Ok(())
    }

    /// A trigger refusal becomes [`QueueError::Completed`]; anything else broke.
    fn map_trigger(&self, err: sqlx::Error) -> QueueError {
        if super::is_completed_violation(&err) {
            QueueError::Completed {
                receipt: self.receipt.clone(),
            }
        } else {
            QueueError::from(err)
        }
    }
}

/// Reads the record's state; unless it is 受付完了, takes its row lock
/// (a no-op update) so concurrent staff actions on it run one after the other.
async fn lock_for_change(
    conn: &mut AnyConnection,
    record_id: i64,
) -> Result<RecordState, QueueError> {
    let state = read_state(conn, record_id).await?;
    if state.status != Status::Completed {
        sqlx::query("UPDATE requests SET updated_at = updated_at WHERE id = $1")
            .bind(record_id)
            .execute(&mut *conn)
            .await
            .map_err(|e| state.map_trigger(e))?;
        // Re-read under the lock: another action may have finished meanwhile.
        return read_state(conn, record_id).await;
    }
    Ok(state)
}

async fn read_state(conn: &mut AnyConnection, record_id: i64) -> Result<RecordState, QueueError> {
    let row = sqlx::query(
        "SELECT r.receipt, r.status, r.batch_date, s.receipt AS superseded_by FROM requests r \
         LEFT JOIN requests s ON s.id = r.superseded_by WHERE r.id = $1",
    )
    .bind(record_id)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| QueueError::NotFound(record_id.to_string()))?;
    let status: String = row.try_get("status")?;
    Ok(RecordState {
        receipt: row.try_get("receipt")?,
        status: Status::parse(&status).with_context(|| format!("unknown status {status:?}"))?,
        batch_date: row.try_get("batch_date")?,
        superseded_by: row.try_get("superseded_by")?,
    })
}
