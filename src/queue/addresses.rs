//! Completing delivery addresses from a G-MIS institution list (issue
//! 13.8): which open requests without an address a list would complete,
//! and completing them, each audited like an address typed by staff.
//!
//! A request matches by 医療機関コード when it has one and the list has
//! that code; otherwise by exact name (width-folded) within the request's
//! prefecture. A key the list holds twice with different addresses is
//! ambiguous and left alone. An address already there, typed by the
//! prefecture or by staff, is never overwritten: the check is made again,
//! under the row's write lock, when the change is saved.

use crate::gmis_institutions::Institution;
use crate::request::Status;
use crate::text;
use anyhow::Context;
use sqlx::{AnyConnection, Row};
use std::collections::HashMap;

/// How a request was matched to the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub enum MatchedBy {
    /// 医療機関コード.
    Code,
    /// 医療機関名 within the prefecture.
    Name,
}

/// One request the list would complete.
#[derive(Clone, Debug, serde::Serialize)]
pub struct AddressMatch {
    /// The request.
    pub record_id: i64,
    /// Its 受付番号.
    pub receipt: String,
    /// Its prefecture.
    pub prefecture: String,
    /// Its 医療機関コード.
    pub institution_code: String,
    /// Its 医療機関名.
    pub institution_name: String,
    /// How it was matched.
    pub by: MatchedBy,
    /// The list's line.
    pub line: usize,
    /// 郵便番号 from the list.
    pub postcode: String,
    /// 住所 from the list, as written.
    pub address: String,
}

/// What a list would do to the open requests without an address.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AddressPlan {
    /// Requests it completes.
    pub matches: Vec<AddressMatch>,
    /// Receipts of requests whose key the list holds twice, differently.
    pub ambiguous: Vec<String>,
    /// How many open requests without an address the list does not know.
    pub unmatched: usize,
}

/// The plan of `list` against the current queue.
pub async fn plan(conn: &mut AnyConnection, list: &[Institution]) -> anyhow::Result<AddressPlan> {
    let rows = sqlx::query(
        "SELECT id, receipt, prefecture, institution_code, institution_name FROM requests \
         WHERE status = $1 AND superseded_by IS NULL AND institution_address = '' ORDER BY id",
    )
    .bind(Status::UnderReview.as_str())
    .fetch_all(&mut *conn)
    .await
    .context("cannot list requests without an address")?;
    let by_code = index(list, |i| (!i.code.is_empty()).then(|| i.code.clone()));
    let by_name = index(list, |i| {
        let p = i.prefecture?;
        (!i.name.is_empty()).then(|| format!("{}\u{1f}{}", p.name(), text::normalize(&i.name)))
    });
    let mut out = AddressPlan::default();
    for row in rows {
        let code: String = row.try_get("institution_code")?;
        let name: String = row.try_get("institution_name")?;
        let prefecture: String = row.try_get("prefecture")?;
        let receipt: String = row.try_get("receipt")?;
        let found = match by_code
            .get(&text::normalize(&code))
            .filter(|_| !code.is_empty())
        {
            Some(hit) => Some((hit, MatchedBy::Code)),
            None => by_name
                .get(&format!("{prefecture}\u{1f}{}", text::normalize(&name)))
                .map(|hit| (hit, MatchedBy::Name)),
        };
        match found {
            Some((Hit::One(i), by)) => out.matches.push(AddressMatch {
                record_id: row.try_get("id")?,
                receipt,
                prefecture,
                institution_code: code,
                institution_name: name,
                by,
                line: i.line,
                postcode: i.postcode.clone(),
                address: i.address.clone(),
            }),
            Some((Hit::Ambiguous, _)) => out.ambiguous.push(receipt),
            None => out.unmatched += 1,
        }
    }
    Ok(out)
}

/// A key's entry in the list: one address, or two different ones.
enum Hit<'a> {
    One(&'a Institution),
    Ambiguous,
}

fn index<'a>(
    list: &'a [Institution],
    key: impl Fn(&Institution) -> Option<String>,
) -> HashMap<String, Hit<'a>> {
    let mut map: HashMap<String, Hit<'a>> = HashMap::new();
    for i in list {
        let Some(k) = key(i) else { continue };
        let same = |j: &Institution| j.address == i.address && j.postcode == i.postcode;
        match map.get(&k) {
            None => {
                map.insert(k, Hit::One(i));
            }
            Some(Hit::One(j)) if same(j) => {}
            Some(_) => {
                map.insert(k, Hit::Ambiguous);
            }
        }
    }
    map
}

/// Completes the addresses of `plan`, each through
/// [`super::set_delivery_address`] (audited per request as `actor`).
/// A request that got an address or left review since the plan was made
/// is skipped. Returns the ids completed.
pub async fn apply(
    conn: &mut AnyConnection,
    plan: &AddressPlan,
    actor: &str,
) -> anyhow::Result<Vec<i64>> {
    let mut done = Vec::new();
    for m in &plan.matches {
        // Takes the row's write lock and checks, in one statement, that
        // nobody has typed an address meanwhile.
        let still_empty = sqlx::query(
            "UPDATE requests SET updated_at = updated_at \
             WHERE id = $1 AND institution_address = '' AND status = $2 AND superseded_by IS NULL",
        )
        .bind(m.record_id)
        .bind(Status::UnderReview.as_str())
        .execute(&mut *conn)
        .await
        .context("cannot lock a request for its address")?
        .rows_affected()
            == 1;
        if !still_empty {
            continue;
        }
        super::set_delivery_address(conn, m.record_id, &m.postcode, &m.address, actor)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        done.push(m.record_id);
    }
    Ok(done)
}
