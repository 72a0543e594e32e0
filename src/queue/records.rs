//! A record as stored: the full [`RequestRecord`] (what the request page
//! shows), and the mapping between item lines and `request_items` rows.

use super::QueueError;
use super::audit::{self, AuditEntry};
use super::db::{date_text, parse_date, parse_time};
use crate::prefecture::Prefecture;
use crate::request::{
    Institution, Item, ItemLine, Method, MhlwDecision, Need, Outlook, PrefectureDecision, Source,
    Status,
};
use crate::validation::Finding;
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

/// Everything the queue knows about one request.
#[derive(Clone, Debug, Serialize)]
pub struct RequestRecord {
    /// Database id.
    pub id: i64,
    /// 受付番号, e.g. `SOS-20261121-000123`.
    pub receipt: String,
    /// g-mis or sheet.
    pub source: Source,
    /// Current status.
    pub status: Status,
    /// Server receipt time (for G-MIS: 申請日時).
    pub received_at: DateTime<Utc>,
    /// The batch (対応日).
    pub batch_date: NaiveDate,
    /// Why this batch (from the calendar, or the reason of a manual move).
    pub batch_reason: String,
    /// The prefecture the request belongs to (the sender's; for G-MIS the
    /// export's 都道府県), as its name.
    pub prefecture: String,
    /// The institution as written.
    pub institution: Institution,
    /// Item lines in form order, with the prefecture's and MHLW's decisions.
    pub lines: Vec<ItemLine>,
    /// Findings: validation's plus the queue's own (`queue.*` codes).
    pub findings: Vec<Finding>,
    /// Earlier accepted distributions (受付完了 with an approved item) to the
    /// institution, counted when filed. What the prefecture wrote is in the
    /// lines' `prefecture.opinion`.
    pub earlier_distributions: i64,
    /// Refused because the same institution and item were already 受付完了
    /// in the batch.
    pub refused_because_completed: bool,
    /// The record that replaced this one, when superseded.
    pub superseded_by: Option<SupersededVersion>,
    /// Earlier records this one replaced (directly or through a chain),
    /// newest first.
    pub supersedes: Vec<SupersededVersion>,
    /// SHA-256 of the raw mail (a blob), when filed from mail.
    pub source_message_sha256: Option<String>,
    /// SHA-256 of the attachment (a blob), when filed from a file.
    pub attachment_sha256: Option<String>,
    /// The attachment's file name as sent (decoded).
    pub attachment_name: String,
    /// The worksheet the request was read from.
    pub sheet_name: String,
    /// G-MIS レコードID, for G-MIS requests.
    pub gmis_record_id: Option<String>,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
    /// When it became 受付完了.
    pub completed_at: Option<DateTime<Utc>>,
    /// Who made it 受付完了.
    pub completed_by: Option<String>,
    /// Every change, oldest first.
    pub history: Vec<AuditEntry>,
}

/// A short reference to another version of a request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SupersededVersion {
    /// Database id.
    pub id: i64,
    /// 受付番号.
    pub receipt: String,
    /// Status of that version.
    pub status: Status,
    /// When it was received.
    pub received_at: DateTime<Utc>,
}

impl RequestRecord {
    /// True when the record can no longer change.
    pub fn is_completed(&self) -> bool {
        self.status == Status::Completed
    }

    /// The lines the institution asked for (緊急配布要請: 要請する).
    pub fn requested_lines(&self) -> impl Iterator<Item = &ItemLine> {
        self.lines.iter().filter(|l| l.requested)
    }
}

/// Finds a record by numeric id or receipt number (`SOS-…`, any case).
pub async fn resolve(conn: &mut AnyConnection, key: &str) -> Result<i64, QueueError> {
    let key = key.trim();
    let row = if let Ok(id) = key.parse::<i64>() {
        sqlx::query("SELECT id FROM requests WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
    } else {
        sqlx::query("SELECT id FROM requests WHERE receipt = $1")
            .bind(key.to_ascii_uppercase())
            .fetch_optional(&mut *conn)
            .await?
    };
    match row {
        Some(r) => Ok(r.try_get::<i64, _>(0)?),
        None => Err(QueueError::NotFound(key.to_string())),
    }
}

/// Reads a whole record: the row, its item lines, the versions it replaced
/// and the history.
pub async fn get(conn: &mut AnyConnection, id: i64) -> Result<RequestRecord, QueueError> {
    let row = sqlx::query("SELECT * FROM requests WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| QueueError::NotFound(id.to_string()))?;
    let mut record = record_from_row(&row)?;
    record.lines = load_lines(conn, id).await?;
    let superseded_by: Option<i64> = row.try_get("superseded_by")?;
    if let Some(by) = superseded_by {
        record.superseded_by = version(conn, by).await?;
    }
    record.supersedes = superseded_chain(conn, id).await?;
    record.history = audit::history(conn, id).await?;
    Ok(record)
}

/// The row's own columns; lines, links and history are filled by [`get`].
fn record_from_row(row: &AnyRow) -> anyhow::Result<RequestRecord> {
    let id: i64 = row.try_get("id")?;
    let text = |name: &str| -> anyhow::Result<String> {
        row.try_get::<String, _>(name)
            .with_context(|| format!("request {id}: column {name}"))
    };
    let opt_text = |name: &str| -> anyhow::Result<Option<String>> {
        row.try_get::<Option<String>, _>(name)
            .with_context(|| format!("request {id}: column {name}"))
    };
    let findings_json = text("findings")?;
    let findings: Vec<Finding> = serde_json::from_str(&findings_json)
        .with_context(|| format!("request {id}: unreadable findings"))?;
    Ok(RequestRecord {
        id,
        receipt: text("receipt")?,
        source: Source::parse(&text("source")?).context("unknown source")?,
        status: Status::parse(&text("status")?).context("unknown status")?,
        received_at: parse_time(&text("received_at")?)?,
        batch_date: parse_date(&text("batch_date")?)?,
        batch_reason: text("batch_reason")?,
        prefecture: text("prefecture")?,
        institution: Institution {
            name: text("institution_name")?,
            code: text("institution_code")?,
            postcode: text("institution_postcode")?,
            prefecture: opt_text("institution_prefecture")?
                .as_deref()
                .and_then(Prefecture::parse),
            address: text("institution_address")?,
            phone: text("institution_phone")?,
            contact: text("institution_contact")?,
        },
        lines: Vec::new(),
        findings,
        earlier_distributions: row.try_get("earlier_distributions")?,
        refused_because_completed: row.try_get::<i64, _>("refused_because_completed")? != 0,
        superseded_by: None,
        supersedes: Vec::new(),
        source_message_sha256: opt_text("source_message_sha256")?,
        attachment_sha256: opt_text("attachment_sha256")?,
        attachment_name: text("attachment_name")?,
        sheet_name: text("sheet_name")?,
        gmis_record_id: opt_text("gmis_record_id")?,
        created_at: parse_time(&text("created_at")?)?,
        updated_at: parse_time(&text("updated_at")?)?,
        completed_at: opt_text("completed_at")?
            .as_deref()
            .map(parse_time)
            .transpose()?,
        completed_by: opt_text("completed_by")?,
        history: Vec::new(),
    })
}

async fn version(conn: &mut AnyConnection, id: i64) -> anyhow::Result<Option<SupersededVersion>> {
    let row = sqlx::query("SELECT id, receipt, status, received_at FROM requests WHERE id = $1")
        .bind(id)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(version_from_row).transpose()
}

fn version_from_row(row: &AnyRow) -> anyhow::Result<SupersededVersion> {
    Ok(SupersededVersion {
        id: row.try_get("id")?,
        receipt: row.try_get("receipt")?,
        status: Status::parse(&row.try_get::<String, _>("status")?).context("unknown status")?,
        received_at: parse_time(&row.try_get::<String, _>("received_at")?)?,
    })
}

/// Every record replaced by `id`, directly or through earlier replacements.
async fn superseded_chain(
    conn: &mut AnyConnection,
    id: i64,
) -> anyhow::Result<Vec<SupersededVersion>> {
    // One recursive query, however long the chain of resends. A replaced
    // record always has a smaller id than its replacement (`r.id < c.id`),
    // so even corrupted links cannot loop.
    let rows = sqlx::query(
        "WITH RECURSIVE chain (id) AS ( \
             SELECT id FROM requests WHERE superseded_by = $1 AND id < $1 \
             UNION \
             SELECT r.id FROM requests r JOIN chain c ON r.superseded_by = c.id WHERE r.id < c.id \
         ) \
         SELECT id, receipt, status, received_at FROM requests WHERE id IN (SELECT id FROM chain) \
         ORDER BY id DESC LIMIT $2",
    )
    .bind(id)
    .bind(MAX_VERSIONS)
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("cannot read the versions replaced by request {id}"))?;
    rows.iter().map(version_from_row).collect()
}

/// The most superseded versions a record lists (newest first).
const MAX_VERSIONS: i64 = 1000;

/// The item lines of a record, in form order.
pub async fn load_lines(conn: &mut AnyConnection, id: i64) -> anyhow::Result<Vec<ItemLine>> {
    let rows =
        sqlx::query("SELECT * FROM request_items WHERE request_id = $1 ORDER BY position, item")
            .bind(id)
            .fetch_all(&mut *conn)
            .await
            .with_context(|| format!("cannot read the item lines of request {id}"))?;
    rows.iter().map(line_from_row).collect()
}

fn line_from_row(row: &AnyRow) -> anyhow::Result<ItemLine> {
    let opt_text = |name: &str| row.try_get::<Option<String>, _>(name);
    let item_code: String = row.try_get("item")?;
    Ok(ItemLine {
        item: Item::parse(&item_code).with_context(|| format!("unknown item {item_code:?}"))?,
        requested: row.try_get::<i64, _>("requested")? != 0,
        stock: row.try_get("stock")?,
        outlook: opt_text("outlook")?.as_deref().and_then(outlook_parse),
        weekly_use: row.try_get("weekly_use")?,
        weekly_purchase: row.try_get("weekly_purchase")?,
        reason: row.try_get("reason")?,
        prefecture: PrefectureDecision {
            need: opt_text("pref_need")?.as_deref().and_then(need_parse),
            method: opt_text("pref_method")?.as_deref().and_then(method_parse),
            prefecture_quantity: row.try_get("pref_prefecture_quantity")?,
            national_quantity: row.try_get("pref_national_quantity")?,
            total_quantity: row.try_get("pref_total_quantity")?,
            opinion: row.try_get("pref_opinion")?,
        },
        mhlw: MhlwDecision {
            approved: row
                .try_get::<Option<i64>, _>("mhlw_approved")?
                .map(|v| v != 0),
            quantity: row.try_get("mhlw_quantity")?,
            ship_date: opt_text("mhlw_ship_date")?
                .as_deref()
                .map(parse_date)
                .transpose()?,
            reason: row.try_get("mhlw_reason")?,
        },
    })
}

fn outlook_parse(s: &str) -> Option<Outlook> {
    [
        Outlook::WithinOneWeek,
        Outlook::TwoToThreeWeeks,
        Outlook::FourWeeksOrMore,
    ]
    .into_iter()
    .find(|o| o.as_str() == s)
}

fn need_parse(s: &str) -> Option<Need> {
    match s {
        "要" => Some(Need::Needed),
        "否" => Some(Need::NotNeeded),
        _ => None,
    }
}

fn need_text(n: Need) -> &'static str {
    match n {
        Need::Needed => "要",
        Need::NotNeeded => "否",
    }
}

fn method_parse(s: &str) -> Option<Method> {
    [Method::PrefectureStock, Method::NationalDirect]
        .into_iter()
        .find(|m| m.as_str() == s)
}

/// Stores the item lines of request `id` (see [`upsert_lines_of`]).
pub(crate) async fn upsert_lines(
    conn: &mut AnyConnection,
    id: i64,
    lines: &[ItemLine],
) -> anyhow::Result<()> {
    upsert_lines_of(conn, &[(id, lines.to_vec())]).await
}

/// Inserts or replaces the institution's and the prefecture's part of each
/// line of several requests; MHLW's part of an existing line is kept (a
/// later G-MIS export must not wipe a decision already taken). One
/// statement for all of them (one round trip; more only past the parameter
/// limit). An item given twice for a request keeps its last line, as
/// one-by-one upserts would.
pub(crate) async fn upsert_lines_of(
    conn: &mut AnyConnection,
    requests: &[(i64, Vec<ItemLine>)],
) -> anyhow::Result<()> {
    const COLUMNS: usize = 19;
    let mut rows: Vec<(i64, &ItemLine)> = Vec::new();
    for (id, lines) in requests {
        let mut unique: Vec<&ItemLine> = Vec::with_capacity(lines.len());
        for line in lines {
            unique.retain(|l| l.item != line.item);
            unique.push(line);
        }
        rows.extend(unique.into_iter().map(|l| (*id, l)));
    }
    for chunk in rows.chunks(30_000 / COLUMNS) {
        let sql = format!(
            "INSERT INTO request_items (request_id, item, position, requested, stock, outlook, weekly_use, \
             weekly_purchase, reason, pref_need, pref_method, pref_prefecture_quantity, pref_national_quantity, \
             pref_total_quantity, pref_opinion, mhlw_approved, mhlw_quantity, mhlw_ship_date, mhlw_reason) \
             VALUES {} \
             ON CONFLICT (request_id, item) DO UPDATE SET position = excluded.position, \
             requested = excluded.requested, stock = excluded.stock, outlook = excluded.outlook, \
             weekly_use = excluded.weekly_use, weekly_purchase = excluded.weekly_purchase, \
             reason = excluded.reason, pref_need = excluded.pref_need, pref_method = excluded.pref_method, \
             pref_prefecture_quantity = excluded.pref_prefecture_quantity, \
             pref_national_quantity = excluded.pref_national_quantity, \
             pref_total_quantity = excluded.pref_total_quantity, pref_opinion = excluded.pref_opinion",
            super::db::Params::on(conn).rows(chunk.len(), COLUMNS, "")
        );
        let mut query = sqlx::query(&sql);
        for (id, line) in chunk {
            let position = Item::ALL.iter().position(|i| *i == line.item).unwrap_or(0) as i64;
            query = query
                .bind(*id)
                .bind(line.item.code())
                .bind(position)
                .bind(line.requested as i64)
                .bind(line.stock)
                .bind(line.outlook.map(|o| o.as_str()))
                .bind(line.weekly_use)
                .bind(line.weekly_purchase)
                .bind(line.reason.as_str())
                .bind(line.prefecture.need.map(need_text))
                .bind(line.prefecture.method.map(|m| m.as_str()))
                .bind(line.prefecture.prefecture_quantity)
                .bind(line.prefecture.national_quantity)
                .bind(line.prefecture.total_quantity)
                .bind(line.prefecture.opinion.as_str())
                .bind(line.mhlw.approved.map(|a| a as i64))
                .bind(line.mhlw.quantity)
                .bind(line.mhlw.ship_date.map(date_text))
                .bind(line.mhlw.reason.as_str());
        }
        query
            .execute(&mut *conn)
            .await
            .context("cannot store the item lines")?;
    }
    Ok(())
}

/// The comma-separated codes of the requested items (the listing column).
pub(crate) fn requested_items_text(lines: &[ItemLine]) -> String {
    let mut items: Vec<Item> = lines
        .iter()
        .filter(|l| l.requested)
        .map(|l| l.item)
        .collect();
    items.sort();
    items.dedup();
    items.iter().map(|i| i.code()).collect::<Vec<_>>().join(",")
}

/// Reads [`requested_items_text`] back.
pub(crate) fn parse_items_text(text: &str) -> Vec<Item> {
    text.split(',')
        .filter(|s| !s.is_empty())
        .filter_map(Item::parse)
        .collect()
}
