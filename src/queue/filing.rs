//! Filing: a checked sheet or a G-MIS request becomes a record.
//!
//! Idempotence and atomicity come from the database, not from luck: every
//! filing has a `filing_key` under a UNIQUE constraint and is inserted with
//! `ON CONFLICT DO NOTHING`, inside its own (nested) transaction. The first
//! write of a filing takes the receipt counter's row, which serialises
//! concurrent filings, so two processes never both supersede, or both miss,
//! an earlier sheet.
//!
//! Supersession (a clean resend replaces the earlier sheet of the same
//! institution and items) only happens between filings whose sender is
//! known to be who it says ([`SenderTrust::may_supersede`]: authenticated
//! by our mail server, or vouched for by staff) and of the same prefecture:
//! otherwise a forged `From:` could push a prefecture's genuine sheet out of
//! review. An earlier sheet that may not be replaced stays in review beside
//! the new one, for staff to sort out. A 受付完了 record still refuses any
//! new filing for its items, whoever sent it.

use super::audit::{self, Action};
use super::db::{date_text, now_text, parse_date, time_text};
use super::records::{parse_items_text, requested_items_text, upsert_lines};
use super::staged::Staged;
use crate::message::senders::SenderTrust;
use crate::prefecture::Prefecture;
use crate::request::{Institution, Item, ItemLine, Source, Status};
use crate::validation::{Finding, Label, Problem, Severity, Subject, has_errors};
use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyConnection, Connection, Row};
use std::collections::HashMap;

/// Finding code: the institution is registered in G-MIS.
pub const GMIS_REGISTERED_CODE: &str = "queue.gmis_registered";
/// Finding code: the same institution and item are already 受付完了 in the batch.
pub const COMPLETED_EXISTS_CODE: &str = "queue.completed_exists";
/// Finding code: this sheet replaced earlier ones (a warning, for the record).
pub const SUPERSEDES_CODE: &str = "queue.supersedes";

/// One checked sheet to file (the mail pipeline and `sos-intake file`
/// build it from the reader's and validation's output).
#[derive(Clone, Debug)]
pub struct SheetFiling {
    /// Server receipt time (when the mail reached our mailbox).
    pub received_at: DateTime<Utc>,
    /// The batch (対応日) the cut-off rule gave.
    pub batch_date: NaiveDate,
    /// Why that batch (e.g. 13:00以降の受付のため翌営業日), shown to staff.
    pub batch_reason: Option<String>,
    /// The prefecture that sent it (the sender's).
    pub prefecture: Prefecture,
    /// The institution as read from the sheet.
    pub institution: Institution,
    /// Item lines as read and checked.
    pub lines: Vec<ItemLine>,
    /// Validation's findings (the queue adds its own).
    pub findings: Vec<Finding>,
    /// SHA-256 of the raw message (stored with [`super::blobs::put`]); None
    /// when filed by hand.
    pub source_message_sha256: Option<String>,
    /// SHA-256 of the attachment's bytes (stored with [`super::blobs::put`]).
    /// When both SHA-256s are None the filing cannot be recognised again and
    /// each call makes a new record.
    pub attachment_sha256: Option<String>,
    /// The attachment's file name as sent.
    pub attachment_name: String,
    /// The worksheet the form was found on.
    pub sheet_name: String,
    /// Who files: `mail`, `cli:<user>`…
    pub actor: String,
    /// Why the sender is trusted (stored as `requests.sender_auth`); decides
    /// whether this filing may supersede, and later be superseded.
    pub sender_trust: SenderTrust,
}

/// What became of a filed sheet.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FilingOutcome {
    /// The record's database id.
    pub record_id: i64,
    /// 受付番号.
    pub receipt: String,
    /// エラー有り or 都道府県・国確認中.
    pub status: Status,
    /// The batch the record is in.
    pub batch_date: NaiveDate,
    /// Receipt numbers of earlier records this one replaced.
    pub superseded: Vec<String>,
    /// Refused: the same institution and item are 受付完了 in this batch.
    pub refused_because_completed: bool,
    /// Earlier accepted distributions to the institution.
    pub earlier_distributions: i64,
    /// The findings the queue added (G-MIS registered, 受付完了 exists,
    /// supersedes), also stored with the record.
    pub findings_added: Vec<Finding>,
    /// True when this very input had been filed before; nothing changed.
    pub already_filed: bool,
}

/// What the rival records of a sheet mean for it.
struct RivalVerdict {
    /// Refused: the same institution and item is already 受付完了.
    refused: bool,
    /// The records (id, receipt) it replaces.
    to_supersede: Vec<(i64, String)>,
    /// The finding saying either.
    finding: Option<Finding>,
}

/// Judges a sheet against its rivals: a 受付完了 rival refuses it (an
/// error naming the receipts and items); otherwise it replaces the rivals
/// it may (a warning naming them).
fn judge_rivals(filing: &SheetFiling, rivals: &[Rival]) -> RivalVerdict {
    let completed: Vec<&Rival> = rivals
        .iter()
        .filter(|r| r.status == Status::Completed)
        .collect();
    if !completed.is_empty() {
        let receipts: Vec<String> = completed.iter().map(|r| r.receipt.clone()).collect();
        let mut items: Vec<Item> = completed
            .iter()
            .flat_map(|r| r.overlap.iter().copied())
            .collect();
        items.sort();
        items.dedup();
        let finding = queue_finding(
            Severity::Error,
            COMPLETED_EXISTS_CODE,
            Label::Request,
            &items
                .iter()
                .map(|i| i.label())
                .collect::<Vec<_>>()
                .join("、"),
            Problem::CompletedExists {
                receipts,
                items,
                batch_date: date_text(filing.batch_date),
            },
        );
        return RivalVerdict {
            refused: true,
            to_supersede: Vec::new(),
            finding: Some(finding),
        };
    }
    let to_supersede: Vec<(i64, String)> = rivals
        .iter()
        .filter(|r| may_replace(filing, r))
        .map(|r| (r.id, r.receipt.clone()))
        .collect();
    let finding = (!to_supersede.is_empty()).then(|| {
        let receipts: Vec<String> = to_supersede.iter().map(|(_, r)| r.clone()).collect();
        queue_finding(
            Severity::Warning,
            SUPERSEDES_CODE,
            Label::Request,
            &receipts.join("、"),
            Problem::Supersedes { receipts },
        )
    });
    RivalVerdict {
        refused: false,
        to_supersede,
        finding,
    }
}

/// Files one checked sheet in its own transaction. See the module and
/// [`super`] docs for the rules, and [`file_sheet_staged`].
pub async fn file_sheet(
    conn: &mut AnyConnection,
    filing: &SheetFiling,
) -> anyhow::Result<FilingOutcome> {
    let mut tx = conn
        .begin()
        .await
        .context("cannot start the filing transaction")?;
    let mut staged = Staged::new();
    let outcome = file_sheet_staged(&mut tx, &mut staged, filing).await?;
    staged.flush(&mut tx).await?;
    tx.commit()
        .await
        .with_context(|| format!("cannot commit filing {}", outcome.receipt))?;
    Ok(outcome)
}

/// Files one checked sheet inside the caller's transaction, the rows
/// nothing reads back (item lines, audit rows) staged in `staged`, which
/// the caller flushes before it commits ([`super::staged`]).
///
/// Long on purpose: its steps (receipt, G-MIS finding, the rivals' verdict
/// (`judge_rivals`), the insert, the supersession marks and the audit
/// row) share the findings, the receipt and the row id, in the statement
/// order tuned for throughput; split further only with the filing bench at
/// hand.
pub async fn file_sheet_staged(
    tx: &mut AnyConnection,
    staged: &mut Staged,
    filing: &SheetFiling,
) -> anyhow::Result<FilingOutcome> {
    let key = sheet_filing_key(filing);
    // No look for the key first: the insert below finds a sheet filed
    // before (ON CONFLICT), and the receipt number is then given back.
    // One round trip fewer per sheet.
    let number = staged.next_receipt_number(tx).await?;
    let receipt = receipt_text(filing.received_at, number);
    let code = filing.institution.code.trim().to_string();

    let (gmis_registered, earlier) = match staged.institution(&code) {
        Some(known) => known,
        None => {
            let known = institution_context(tx, &code).await?;
            staged.remember_institution(&code, known);
            known
        }
    };
    let mut added: Vec<Finding> = Vec::new();
    if gmis_registered {
        added.push(queue_finding(
            Severity::Error,
            GMIS_REGISTERED_CODE,
            Label::Code,
            &code,
            Problem::GmisRegistered { code: code.clone() },
        ));
    }

    let mut findings = filing.findings.clone();
    findings.extend(added.iter().cloned());
    let mut to_supersede: Vec<(i64, String)> = Vec::new();
    let mut refused = false;
    if !has_errors(&findings) {
        let requested: Vec<Item> = requested(&filing.lines);
        let rivals = overlapping_sheets(tx, staged, filing, &code, &requested).await?;
        let verdict = judge_rivals(filing, &rivals);
        refused = verdict.refused;
        to_supersede = verdict.to_supersede;
        if let Some(f) = verdict.finding {
            added.push(f.clone());
            findings.push(f);
        }
    }
    let status = if has_errors(&findings) {
        Status::HasErrors
    } else {
        Status::UnderReview
    };

    let now = now_text();
    let inserted = sqlx::query(
        "INSERT INTO requests (receipt, filing_key, source, status, received_at, batch_date, batch_reason, \
         prefecture, institution_code, institution_name, institution_postcode, institution_prefecture, \
         institution_address, institution_phone, institution_contact, requested_items, findings, error_count, \
         warning_count, earlier_distributions, refused_because_completed, source_message_sha256, \
         attachment_sha256, attachment_name, sheet_name, created_at, updated_at, sender_auth) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22, $23, $24, $25, $26, $26, $27) ON CONFLICT (filing_key) DO NOTHING RETURNING id",
    )
    .bind(&receipt)
    .bind(&key)
    .bind(Source::Sheet.as_str());
    let columns = RequestColumns {
        status,
        received_at: filing.received_at,
        batch_date: date_text(filing.batch_date),
        batch_reason: filing.batch_reason.clone().unwrap_or_default(),
        prefecture: filing.prefecture,
        code: &code,
        institution: &filing.institution,
        lines: &filing.lines,
        findings: &findings,
    };
    let inserted = bind_request_columns(inserted, columns)?
        .bind(earlier)
        .bind(refused as i64)
        .bind(
            filing
                .source_message_sha256
                .as_deref()
                .map(str::to_ascii_lowercase),
        )
        .bind(
            filing
                .attachment_sha256
                .as_deref()
                .map(str::to_ascii_lowercase),
        )
        .bind(&filing.attachment_name)
        .bind(&filing.sheet_name)
        .bind(&now)
        .bind(filing.sender_trust.as_str())
        .fetch_optional(&mut *tx)
        .await
        .with_context(|| format!("cannot file request {receipt}"))?;
    let Some(row) = inserted else {
        // Filed before (or by another process since this transaction
        // began): we report its record.
        staged.give_back_receipt_number(number);
        let id = id_by_key(tx, &key).await?.context("filing key vanished")?;
        return outcome_of(tx, id, true).await;
    };
    let id: i64 = row.try_get(0)?;
    staged.upsert_lines(id, &filing.lines);
    note_filed(
        staged,
        filing,
        &code,
        (id, &receipt, status),
        refused,
        &to_supersede,
    );

    mark_superseded(
        tx,
        staged,
        (id, &receipt),
        &to_supersede,
        (&filing.actor, &now),
    )
    .await?;
    let detail = serde_json::json!({
        "receipt": receipt,
        "status": status.as_str(),
        "batch_date": date_text(filing.batch_date),
        "attachment_name": filing.attachment_name,
        "sheet_name": filing.sheet_name,
        "supersedes": to_supersede.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>(),
    });
    let action = if refused {
        Action::RefusedCompleted
    } else {
        Action::Filed
    };
    staged.audit(Some(id), &filing.actor, action.as_str(), &detail, "");
    Ok(FilingOutcome {
        record_id: id,
        receipt,
        status,
        batch_date: filing.batch_date,
        superseded: to_supersede.into_iter().map(|(_, r)| r).collect(),
        refused_because_completed: refused,
        earlier_distributions: earlier,
        findings_added: added,
        already_filed: false,
    })
}

/// Marks each of `old` (id, receipt) as replaced by record `id`
/// (`receipt`), with an audit row on each.
async fn mark_superseded(
    tx: &mut AnyConnection,
    staged: &mut Staged,
    (id, receipt): (i64, &str),
    old: &[(i64, String)],
    (actor, now): (&str, &str),
) -> anyhow::Result<()> {
    for (old_id, old_receipt) in old {
        sqlx::query("UPDATE requests SET superseded_by = $1, updated_at = $2 WHERE id = $3")
            .bind(id)
            .bind(now)
            .bind(old_id)
            .execute(&mut *tx)
            .await
            .with_context(|| format!("cannot mark {old_receipt} superseded"))?;
        let detail = serde_json::json!({ "superseded_by": receipt });
        staged.audit(
            Some(*old_id),
            actor,
            Action::Superseded.as_str(),
            &detail,
            "",
        );
    }
    Ok(())
}

/// `sheet:<message sha>:<attachment sha>:<sheet name>`; a hand filing with
/// neither SHA gets a one-off key (a nonce), as it cannot be recognised.
fn sheet_filing_key(f: &SheetFiling) -> String {
    match (&f.source_message_sha256, &f.attachment_sha256) {
        (None, None) => format!("sheet:unkeyed:{}", hex::encode(rand::random::<[u8; 16]>())),
        (m, a) => format!(
            "sheet:{}:{}:{}",
            m.as_deref().unwrap_or("-").to_ascii_lowercase(),
            a.as_deref().unwrap_or("-").to_ascii_lowercase(),
            f.sheet_name
        ),
    }
}

async fn id_by_key(conn: &mut AnyConnection, key: &str) -> anyhow::Result<Option<i64>> {
    let row = sqlx::query("SELECT id FROM requests WHERE filing_key = $1")
        .bind(key)
        .fetch_optional(&mut *conn)
        .await
        .context("cannot look up the filing key")?;
    Ok(row.map(|r| r.try_get::<i64, _>(0)).transpose()?)
}

/// Rebuilds the outcome of an earlier filing from what was stored.
async fn outcome_of(
    conn: &mut AnyConnection,
    id: i64,
    already_filed: bool,
) -> anyhow::Result<FilingOutcome> {
    let row = sqlx::query(
        "SELECT receipt, status, batch_date, refused_because_completed, earlier_distributions, findings \
         FROM requests WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await
    .with_context(|| format!("cannot read request {id}"))?;
    let findings: Vec<Finding> = serde_json::from_str(&row.try_get::<String, _>("findings")?)?;
    let superseded =
        sqlx::query("SELECT receipt FROM requests WHERE superseded_by = $1 ORDER BY id")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?
            .iter()
            .map(|r| r.try_get::<String, _>(0))
            .collect::<Result<Vec<_>, _>>()?;
    Ok(FilingOutcome {
        record_id: id,
        receipt: row.try_get("receipt")?,
        status: Status::parse(&row.try_get::<String, _>("status")?).context("unknown status")?,
        batch_date: parse_date(&row.try_get::<String, _>("batch_date")?)?,
        superseded,
        refused_because_completed: row.try_get::<i64, _>("refused_because_completed")? != 0,
        earlier_distributions: row.try_get("earlier_distributions")?,
        findings_added: findings
            .into_iter()
            .filter(|f| f.code.starts_with("queue."))
            .collect(),
        already_filed,
    })
}

/// Takes the next receipt number: `SOS-<JST date of receipt>-<6-digit
/// sequence>`. The sequence is global and only grows, so numbers are unique
/// whatever the date part; a rolled-back filing leaves no gap, a lost race
/// may.
async fn next_receipt(
    conn: &mut AnyConnection,
    received_at: DateTime<Utc>,
) -> anyhow::Result<String> {
    let row = sqlx::query(
        "INSERT INTO receipt_sequence (name, last) VALUES ('receipt', 1) \
         ON CONFLICT (name) DO UPDATE SET last = receipt_sequence.last + 1 RETURNING last",
    )
    .fetch_one(&mut *conn)
    .await
    .context("cannot take a receipt number")?;
    let n: i64 = row.try_get(0)?;
    Ok(receipt_text(received_at, n))
}

/// `SOS-<JST date of receipt>-<6-digit sequence>`.
fn receipt_text(received_at: DateTime<Utc>, n: i64) -> String {
    format!(
        "SOS-{}-{n:06}",
        crate::base::time::in_jst(&received_at).format("%Y%m%d")
    )
}

/// What the queue knows about an institution, in one round trip: whether
/// G-MIS knows its code, and its earlier accepted distributions (受付完了
/// records with at least one approved item).
async fn institution_context(conn: &mut AnyConnection, code: &str) -> anyhow::Result<(bool, i64)> {
    if code.is_empty() {
        return Ok((false, 0));
    }
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM gmis_institutions WHERE code = $1) AS gmis, \
         (SELECT COUNT(*) FROM requests r WHERE r.institution_code = $1 AND r.status = $2 \
          AND EXISTS (SELECT 1 FROM request_items i WHERE i.request_id = r.id AND i.mhlw_approved = 1)) AS earlier",
    )
    .bind(code)
    .bind(Status::Completed.as_str())
    .fetch_one(&mut *conn)
    .await
    .with_context(|| format!("cannot look up institution {code}"))?;
    Ok((
        row.try_get::<i64, _>("gmis")? > 0,
        row.try_get::<i64, _>("earlier")?,
    ))
}

/// An earlier sheet of the same institution in the same batch sharing a
/// requested item.
struct Rival {
    id: i64,
    receipt: String,
    status: Status,
    overlap: Vec<Item>,
    /// The sender's prefecture.
    prefecture: String,
    /// None for a word this version does not know (never replaced).
    sender_trust: Option<SenderTrust>,
}

/// True when `filing` may supersede `rival`: both senders are known to be
/// who they say, and of the same prefecture (see the module docs).
fn may_replace(filing: &SheetFiling, rival: &Rival) -> bool {
    filing.sender_trust.may_supersede()
        && rival.sender_trust.is_some_and(SenderTrust::may_supersede)
        && rival.prefecture == filing.prefecture.name()
}

/// A current sheet (not superseded, not refused) of an institution and
/// batch, as the rivals' search reads it.
#[derive(Clone, Debug)]
pub(crate) struct CurrentSheet {
    id: i64,
    receipt: String,
    status: Status,
    items: Vec<Item>,
    prefecture: String,
    sender_trust: Option<SenderTrust>,
}

/// The current sheets of one institution and batch that a transaction has
/// read (see [`Staged`]): the completed ones, and per prefecture those a
/// trusted sender of it may replace. Kept up to date with the sheets the
/// transaction files and supersedes, so later sheets of the same
/// institution in the transaction need not ask again.
#[derive(Debug, Default)]
pub(crate) struct CurrentSheets {
    completed: Vec<CurrentSheet>,
    replaceable: HashMap<String, Vec<CurrentSheet>>,
}

/// The current sheets of the same institution and batch sharing an item
/// with `requested` that matter to `filing`: the completed ones (which
/// refuse it) and, when its sender may supersede, the ones it may replace.
/// Two index seeks (migration 0012), so the search costs the same however
/// many other current sheets the batch holds (e.g. unauthenticated resends,
/// which neither refuse nor can be replaced); each asked once per
/// transaction ([`CurrentSheets`]).
async fn overlapping_sheets(
    conn: &mut AnyConnection,
    staged: &mut Staged,
    filing: &SheetFiling,
    code: &str,
    requested: &[Item],
) -> anyhow::Result<Vec<Rival>> {
    if code.is_empty() || requested.is_empty() {
        return Ok(Vec::new());
    }
    let key = (code.to_string(), date_text(filing.batch_date));
    if !staged.current.contains_key(&key) {
        let completed = current_sheets(conn, filing, code, None).await?;
        staged.current.insert(
            key.clone(),
            CurrentSheets {
                completed,
                replaceable: HashMap::new(),
            },
        );
    }
    let prefecture = filing.prefecture.name();
    if filing.sender_trust.may_supersede()
        && !staged.current[&key].replaceable.contains_key(prefecture)
    {
        let rows = current_sheets(conn, filing, code, Some(prefecture)).await?;
        if let Some(sheets) = staged.current.get_mut(&key) {
            sheets.replaceable.insert(prefecture.to_string(), rows);
        }
    }
    let sheets = &staged.current[&key];
    let mut rows: Vec<&CurrentSheet> = sheets.completed.iter().collect();
    if filing.sender_trust.may_supersede()
        && let Some(replaceable) = sheets.replaceable.get(prefecture)
    {
        rows.extend(replaceable);
    }
    rows.sort_by_key(|r| r.id);
    rows.dedup_by_key(|r| r.id);
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let overlap: Vec<Item> = row
                .items
                .iter()
                .copied()
                .filter(|i| requested.contains(i))
                .collect();
            (!overlap.is_empty()).then(|| Rival {
                id: row.id,
                receipt: row.receipt.clone(),
                status: row.status,
                overlap,
                prefecture: row.prefecture.clone(),
                sender_trust: row.sender_trust,
            })
        })
        .collect())
}

/// The completed current sheets of the institution and batch of `filing`
/// (`prefecture` None), or those of `prefecture` a trusted sender may
/// replace.
async fn current_sheets(
    conn: &mut AnyConnection,
    filing: &SheetFiling,
    code: &str,
    prefecture: Option<&str>,
) -> anyhow::Result<Vec<CurrentSheet>> {
    const COLUMNS: &str = "SELECT id, receipt, status, requested_items, prefecture, sender_auth FROM requests \
         WHERE institution_code = $1 AND batch_date = $2 AND source = $3 AND superseded_by IS NULL \
         AND refused_because_completed = 0";
    let rows = match prefecture {
        None => sqlx::query(&format!("{COLUMNS} AND status = $4 ORDER BY id"))
            .bind(code)
            .bind(date_text(filing.batch_date))
            .bind(Source::Sheet.as_str())
            .bind(Status::Completed.as_str())
            .fetch_all(&mut *conn)
            .await
            .context("cannot look for completed sheets")?,
        // Error records stay out of review but are still replaced by a
        // clean resend, so staff see one current version.
        Some(prefecture) => sqlx::query(&format!(
            "{COLUMNS} AND prefecture = $4 AND sender_auth <> 'unchecked' ORDER BY id"
        ))
        .bind(code)
        .bind(date_text(filing.batch_date))
        .bind(Source::Sheet.as_str())
        .bind(prefecture)
        .fetch_all(&mut *conn)
        .await
        .context("cannot look for earlier sheets")?,
    };
    rows.iter()
        .map(|row| {
            Ok(CurrentSheet {
                id: row.try_get("id")?,
                receipt: row.try_get("receipt")?,
                status: Status::parse(&row.try_get::<String, _>("status")?)
                    .context("unknown status")?,
                items: parse_items_text(&row.try_get::<String, _>("requested_items")?),
                prefecture: row.try_get("prefecture")?,
                sender_trust: SenderTrust::parse(&row.try_get::<String, _>("sender_auth")?),
            })
        })
        .collect()
}

/// Keeps the transaction's [`CurrentSheets`] of `filing`'s institution and
/// batch as the database now has them: record `id` filed (current unless
/// refused), the records of `superseded` no longer current.
fn note_filed(
    staged: &mut Staged,
    filing: &SheetFiling,
    code: &str,
    (id, receipt, status): (i64, &str, Status),
    refused: bool,
    superseded: &[(i64, String)],
) {
    let key = (code.to_string(), date_text(filing.batch_date));
    let Some(sheets) = staged.current.get_mut(&key) else {
        return;
    };
    let gone = |s: &CurrentSheet| superseded.iter().any(|(old, _)| *old == s.id);
    sheets.completed.retain(|s| !gone(s));
    for rows in sheets.replaceable.values_mut() {
        rows.retain(|s| !gone(s));
    }
    // As the search's filter: not refused, and a sender other than
    // `unchecked` (the new record is never completed).
    if refused || filing.sender_trust.as_str() == "unchecked" {
        return;
    }
    if let Some(rows) = sheets.replaceable.get_mut(filing.prefecture.name()) {
        rows.push(CurrentSheet {
            id,
            receipt: receipt.to_string(),
            status,
            items: requested(&filing.lines),
            prefecture: filing.prefecture.name().to_string(),
            sender_trust: Some(filing.sender_trust),
        });
    }
}

fn requested(lines: &[ItemLine]) -> Vec<Item> {
    lines
        .iter()
        .filter(|l| l.requested)
        .map(|l| l.item)
        .collect()
}

fn count(findings: &[Finding], severity: Severity) -> i64 {
    findings.iter().filter(|f| f.severity == severity).count() as i64
}

/// A finding of the queue: about the sheet as a whole, not a cell.
fn queue_finding(
    severity: Severity,
    code: &str,
    label: Label,
    value: &str,
    problem: Problem,
) -> Finding {
    crate::validation::at_cell(severity, code, None, &Subject::plain(label), value, problem)
}

/// One G-MIS request (all rows of one レコードID) to file or update.
#[derive(Clone, Debug)]
pub struct GmisFiling {
    /// レコードID: the key; the same ID is the same record.
    pub record_id: String,
    /// 申請日時, as the receipt time.
    pub received_at: DateTime<Utc>,
    /// The batch from 申請日時 by the cut-off rule.
    pub batch_date: NaiveDate,
    /// Why that batch.
    pub batch_reason: Option<String>,
    /// 都道府県.
    pub prefecture: Prefecture,
    /// The institution (name and code from the export).
    pub institution: Institution,
    /// 対応ステータス as G-MIS reports it.
    pub status: Status,
    /// The item lines (institution values and the prefecture's decision).
    pub lines: Vec<ItemLine>,
    /// Findings about the rows (usually none).
    pub findings: Vec<Finding>,
    /// Who imports: `gmis-import`, `cli:<user>`…
    pub actor: String,
}

/// What an import did to one G-MIS request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GmisChange {
    /// A new record.
    Created,
    /// The record changed (it was not 受付完了).
    Updated,
    /// The export says what the record already says.
    Unchanged,
    /// The export differs but the record is 受付完了 here: left alone.
    KeptCompleted,
}

/// The result of [`import_gmis`] for one request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GmisImported {
    /// The record's database id.
    pub record_id: i64,
    /// 受付番号.
    pub receipt: String,
    /// What happened.
    pub change: GmisChange,
}

/// Files or updates one G-MIS request and remembers its institution as
/// G-MIS-registered. A record that is 受付完了 here is never touched; an
/// identical re-import changes nothing (not even the history).
pub async fn import_gmis(conn: &mut AnyConnection, g: &GmisFiling) -> anyhow::Result<GmisImported> {
    let key = format!("gmis:{}", g.record_id.trim());
    let content = gmis_content_sha(g)?;
    let mut tx = conn
        .begin()
        .await
        .context("cannot start the import transaction")?;
    remember_gmis_institution(&mut tx, &g.institution).await?;

    let existing = sqlx::query("SELECT id, receipt, status, gmis_content_sha256, received_at FROM requests WHERE filing_key = $1")
        .bind(&key)
        .fetch_optional(&mut *tx)
        .await
        .context("cannot look up the G-MIS record")?;
    let result = match existing {
        Some(row) => {
            let id: i64 = row.try_get("id")?;
            let receipt: String = row.try_get("receipt")?;
            let status: String = row.try_get("status")?;
            let old_sha: Option<String> = row.try_get("gmis_content_sha256")?;
            let change = if old_sha.as_deref() == Some(content.as_str()) {
                GmisChange::Unchanged
            } else if status == Status::Completed.as_str() {
                GmisChange::KeptCompleted
            } else {
                let old_received: String = row.try_get("received_at")?;
                update_gmis(
                    &mut tx,
                    id,
                    g,
                    &content,
                    old_received != time_text(g.received_at),
                )
                .await?;
                GmisChange::Updated
            };
            GmisImported {
                record_id: id,
                receipt,
                change,
            }
        }
        None => {
            let receipt = next_receipt(&mut tx, g.received_at).await?;
            match insert_gmis(&mut tx, g, &key, &receipt, &content).await? {
                Some(id) => GmisImported {
                    record_id: id,
                    receipt,
                    change: GmisChange::Created,
                },
                None => {
                    // Lost a race with another import of the same record.
                    drop(tx);
                    let id = id_by_key(conn, &key).await?.context("G-MIS key vanished")?;
                    let receipt = outcome_of(conn, id, true).await?.receipt;
                    return Ok(GmisImported {
                        record_id: id,
                        receipt,
                        change: GmisChange::Unchanged,
                    });
                }
            }
        }
    };
    tx.commit()
        .await
        .context("cannot commit the G-MIS import")?;
    Ok(result)
}

/// A stable hash of what the export says about one request.
fn gmis_content_sha(g: &GmisFiling) -> anyhow::Result<String> {
    let value = serde_json::json!({
        "received_at": time_text(g.received_at),
        "prefecture": g.prefecture.name(),
        "institution": g.institution,
        "status": g.status.as_str(),
        "lines": g.lines,
        "findings": g.findings,
    });
    Ok(hex::encode(Sha256::digest(serde_json::to_vec(&value)?)))
}

async fn remember_gmis_institution(
    conn: &mut AnyConnection,
    inst: &Institution,
) -> anyhow::Result<()> {
    let code = inst.code.trim();
    if code.is_empty() {
        return Ok(());
    }
    let now = now_text();
    sqlx::query(
        "INSERT INTO gmis_institutions (code, name, first_seen_at, last_seen_at) VALUES ($1, $2, $3, $3) \
         ON CONFLICT (code) DO UPDATE SET name = excluded.name, last_seen_at = excluded.last_seen_at",
    )
    .bind(code)
    .bind(&inst.name)
    .bind(&now)
    .execute(&mut *conn)
    .await
    .with_context(|| format!("cannot remember G-MIS institution {code}"))?;
    Ok(())
}

async fn insert_gmis(
    conn: &mut AnyConnection,
    g: &GmisFiling,
    key: &str,
    receipt: &str,
    content: &str,
) -> anyhow::Result<Option<i64>> {
    let now = now_text();
    let code = g.institution.code.trim();
    let (_, earlier) = institution_context(conn, code).await?;
    let insert = sqlx::query(
        "INSERT INTO requests (receipt, filing_key, source, status, received_at, batch_date, batch_reason, \
         prefecture, institution_code, institution_name, institution_postcode, institution_prefecture, \
         institution_address, institution_phone, institution_contact, requested_items, findings, error_count, \
         warning_count, earlier_distributions, gmis_record_id, gmis_content_sha256, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
         $21, $22, $23, $23) ON CONFLICT (filing_key) DO NOTHING RETURNING id",
    )
    .bind(receipt)
    .bind(key)
    .bind(Source::Gmis.as_str());
    let batch = (
        date_text(g.batch_date),
        g.batch_reason.clone().unwrap_or_default(),
    );
    let row = bind_request_columns(insert, gmis_columns(g, batch))?
        .bind(earlier)
        .bind(g.record_id.trim())
        .bind(content)
        .bind(&now)
        .fetch_optional(&mut *conn)
        .await
        .with_context(|| format!("cannot import G-MIS record {}", g.record_id))?;
    let Some(row) = row else { return Ok(None) };
    let id: i64 = row.try_get(0)?;
    upsert_lines(conn, id, &g.lines).await?;
    if g.status == Status::Completed {
        mark_completed(conn, id, &g.actor).await?;
    }
    let detail = serde_json::json!({
        "receipt": receipt,
        "gmis_record_id": g.record_id,
        "status": g.status.as_str(),
        "batch_date": date_text(g.batch_date),
    });
    audit::record(
        conn,
        Some(id),
        &g.actor,
        Action::GmisImported.as_str(),
        &detail,
        "",
    )
    .await?;
    Ok(Some(id))
}

/// A statement being built on the `Any` driver.
type AnyQuery<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>;

/// The sixteen columns every filing writes, `status` to `warning_count`.
struct RequestColumns<'q> {
    status: Status,
    received_at: DateTime<Utc>,
    batch_date: String,
    batch_reason: String,
    prefecture: Prefecture,
    /// The institution code as stored (trimmed).
    code: &'q str,
    institution: &'q Institution,
    lines: &'q [ItemLine],
    findings: &'q [Finding],
}

/// Binds `columns` in the order the filing statements name them (`status`,
/// `received_at`, …, `warning_count`).
fn bind_request_columns<'q>(
    query: AnyQuery<'q>,
    columns: RequestColumns<'q>,
) -> anyhow::Result<AnyQuery<'q>> {
    let institution = columns.institution;
    let findings = serde_json::to_string(columns.findings).context("cannot serialise findings")?;
    Ok(query
        .bind(columns.status.as_str())
        .bind(time_text(columns.received_at))
        .bind(columns.batch_date)
        .bind(columns.batch_reason)
        .bind(columns.prefecture.name())
        .bind(columns.code)
        .bind(&institution.name)
        .bind(&institution.postcode)
        .bind(institution.prefecture.map(|p| p.name()))
        .bind(&institution.address)
        .bind(&institution.phone)
        .bind(&institution.contact)
        .bind(requested_items_text(columns.lines))
        .bind(findings)
        .bind(count(columns.findings, Severity::Error))
        .bind(count(columns.findings, Severity::Warning)))
}

/// The columns of a G-MIS filing, with `batch` as (batch_date,
/// batch_reason).
fn gmis_columns(g: &GmisFiling, batch: (String, String)) -> RequestColumns<'_> {
    RequestColumns {
        // A request that arrives already 受付完了 is written as under review
        // and completed after its lines: the triggers freeze a completed
        // record's lines, including their first insert.
        status: if g.status == Status::Completed {
            Status::UnderReview
        } else {
            g.status
        },
        received_at: g.received_at,
        batch_date: batch.0,
        batch_reason: batch.1,
        prefecture: g.prefecture,
        code: g.institution.code.trim(),
        institution: &g.institution,
        lines: &g.lines,
        findings: &g.findings,
    }
}

/// Updates G-MIS request `id` from a newer export row: its status, lines and
/// the audit of what changed. One function because every step reads the
/// record as it was (`before`) and writes inside the same savepoint.
async fn update_gmis(
    conn: &mut AnyConnection,
    id: i64,
    g: &GmisFiling,
    content: &str,
    received_changed: bool,
) -> anyhow::Result<()> {
    let before = super::records::get(conn, id)
        .await
        .map_err(anyhow::Error::from)?;
    let now = now_text();
    // A batch moved by hand stays moved unless G-MIS reports a new 申請日時.
    let batch = if received_changed {
        (
            date_text(g.batch_date),
            g.batch_reason.clone().unwrap_or_default(),
        )
    } else {
        (date_text(before.batch_date), before.batch_reason.clone())
    };
    let update = sqlx::query(
        "UPDATE requests SET status = $1, received_at = $2, batch_date = $3, batch_reason = $4, prefecture = $5, \
         institution_code = $6, institution_name = $7, institution_postcode = $8, institution_prefecture = $9, \
         institution_address = $10, institution_phone = $11, institution_contact = $12, requested_items = $13, \
         findings = $14, error_count = $15, warning_count = $16, gmis_content_sha256 = $17, updated_at = $18 \
         WHERE id = $19",
    );
    bind_request_columns(update, gmis_columns(g, batch))?
        .bind(content)
        .bind(&now)
        .bind(id)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("cannot update G-MIS record {}", g.record_id))?;
    // Lines no longer in the export go; the others are updated in place,
    // keeping MHLW's decisions.
    let keep: Vec<&str> = g.lines.iter().map(|l| l.item.code()).collect();
    for line in &before.lines {
        if !keep.contains(&line.item.code()) {
            sqlx::query("DELETE FROM request_items WHERE request_id = $1 AND item = $2")
                .bind(id)
                .bind(line.item.code())
                .execute(&mut *conn)
                .await
                .context("cannot drop an item line")?;
        }
    }
    upsert_lines(conn, id, &g.lines).await?;
    if g.status == Status::Completed {
        mark_completed(conn, id, &g.actor).await?;
    }
    let detail = serde_json::json!({
        "gmis_record_id": g.record_id,
        "status": { "from": before.status.as_str(), "to": g.status.as_str() },
        "received_at": { "from": time_text(before.received_at), "to": time_text(g.received_at) },
        "requested_items": { "from": requested_items_text(&before.lines), "to": requested_items_text(&g.lines) },
    });
    audit::record(
        conn,
        Some(id),
        &g.actor,
        Action::GmisUpdated.as_str(),
        &detail,
        "",
    )
    .await?;
    Ok(())
}

/// Sets 受付完了 (the last change a record ever gets).
pub(crate) async fn mark_completed(
    conn: &mut AnyConnection,
    id: i64,
    actor: &str,
) -> anyhow::Result<()> {
    let now = now_text();
    sqlx::query("UPDATE requests SET status = $1, completed_at = $2, completed_by = $3, updated_at = $2 WHERE id = $4")
        .bind(Status::Completed.as_str())
        .bind(&now)
        .bind(actor)
        .bind(id)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("cannot complete request {id}"))?;
    Ok(())
}
