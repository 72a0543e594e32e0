//! `sos-intake queue list` and `sos-intake queue show`: the queue from the
//! command line, as a table or JSON.

use crate::base::time::JST;
use crate::config::Settings;
use crate::messages::queue as msg;
use crate::messages::queue::cli as label;
use crate::prefecture::Prefecture;
use crate::queue::{self, Db, ListFilter, Listing, RequestRecord};
use crate::request::{Item, Source, Status};
use chrono::NaiveDate;
use std::io::Write;
use std::process::ExitCode;

/// Subcommands of `sos-intake queue`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List requests (current versions; newest batch first).
    List(ListArgs),
    /// Show one request: everything stored, with its history.
    Show(ShowArgs),
}

/// Arguments of `sos-intake queue list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Batch date (対応日), YYYY-MM-DD.
    #[arg(long, value_name = "D")]
    pub date: Option<String>,
    /// Prefecture (東京都, 東京…).
    #[arg(long, value_name = "P")]
    pub prefecture: Option<String>,
    /// Status: 未申請 | エラー有り | 都道府県・国確認中 | 受付完了 (or not-submitted | errors | review | completed).
    #[arg(long, value_name = "S")]
    pub status: Option<String>,
    /// Source: g-mis | sheet.
    #[arg(long, value_name = "S")]
    pub source: Option<String>,
    /// Only requests for this item (label or code).
    #[arg(long, value_name = "I")]
    pub item: Option<String>,
    /// Institution name containing, or code starting with, this text.
    #[arg(long, value_name = "TEXT")]
    pub search: Option<String>,
    /// Include versions replaced by a newer sheet.
    #[arg(long)]
    pub all: bool,
    /// Page size (at most 1000).
    #[arg(long, default_value_t = 100)]
    pub limit: i64,
    /// Records to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: i64,
    /// One JSON document: records, total, counts per status.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `sos-intake queue show`.
#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// Numeric id or receipt number (SOS-…).
    pub id: String,
    /// The record as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs the command.
pub async fn run(settings: &Settings, cmd: Command) -> anyhow::Result<ExitCode> {
    match cmd {
        Command::List(args) => list(settings, args).await,
        Command::Show(args) => show(settings, args).await,
    }
}

/// Turns the arguments into a filter; a bad value is the user's error.
fn filter_of(args: &ListArgs) -> anyhow::Result<ListFilter> {
    fn parse<T>(
        value: &Option<String>,
        what: &str,
        expected: &str,
        f: impl Fn(&str) -> Option<T>,
    ) -> anyhow::Result<Option<T>> {
        value
            .as_deref()
            .map(|v| f(v).ok_or_else(|| anyhow::anyhow!(msg::bad_argument(what, v, expected))))
            .transpose()
    }
    Ok(ListFilter {
        batch_date: parse(&args.date, label::BATCH_DATE, msg::EXPECTED_DATE, |v| {
            NaiveDate::parse_from_str(v.trim(), "%Y-%m-%d").ok()
        })?,
        prefecture: parse(
            &args.prefecture,
            label::PREFECTURE,
            msg::EXPECTED_PREFECTURE,
            Prefecture::parse,
        )?,
        status: parse(
            &args.status,
            label::STATUS,
            msg::EXPECTED_STATUS,
            Status::parse,
        )?,
        source: parse(
            &args.source,
            label::SOURCE,
            msg::EXPECTED_SOURCE,
            Source::parse,
        )?,
        item: parse(&args.item, label::ITEMS, msg::EXPECTED_ITEM, Item::parse)?,
        search: args.search.clone(),
        include_superseded: args.all,
        limit: args.limit,
        offset: args.offset,
    })
}

async fn list(settings: &Settings, args: ListArgs) -> anyhow::Result<ExitCode> {
    let filter = filter_of(&args)?;
    let db = Db::connect(&settings.database_url).await?;
    let mut conn = db.pool().acquire().await?;
    let listing = queue::list(&mut conn, &filter).await?;
    drop(conn);
    db.close().await;
    print(args.json, &listing, |out| write_listing(out, &listing))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints `value` on stdout: as pretty JSON with `--json`, else with
/// `human`.
fn print<T: serde::Serialize>(
    json: bool,
    value: &T,
    human: impl FnOnce(&mut std::io::StdoutLock<'static>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)?;
        Ok(())
    } else {
        human(&mut out)
    }
}

fn write_listing(out: &mut impl Write, listing: &Listing) -> anyhow::Result<()> {
    writeln!(out, "{}", msg::LIST_HEADER.join("\t"))?;
    for r in &listing.records {
        let items: Vec<&str> = r.items.iter().map(|i| i.label()).collect();
        let superseded = r
            .superseded_by
            .as_deref()
            .map(msg::superseded_mark)
            .unwrap_or_default();
        writeln!(
            out,
            "{}\t{}\t{}\t{}{superseded}\t{}\t{}\t{} {}\t{}",
            r.id,
            r.receipt,
            r.batch_date,
            r.status,
            r.source.as_str(),
            r.prefecture,
            r.institution_code,
            r.institution_name,
            items.join("、"),
        )?;
    }
    let counts: Vec<String> = listing
        .counts
        .iter()
        .map(|c| format!("{} {}", c.status, c.count))
        .collect();
    writeln!(
        out,
        "{}（{}）",
        msg::list_footer(listing.records.len(), listing.total),
        counts.join("・")
    )?;
    Ok(())
}

async fn show(settings: &Settings, args: ShowArgs) -> anyhow::Result<ExitCode> {
    let db = Db::connect(&settings.database_url).await?;
    let mut conn = db.pool().acquire().await?;
    let mut record = match queue::resolve(&mut conn, &args.id).await {
        Ok(id) => queue::get(&mut conn, id).await?,
        Err(queue::QueueError::NotFound(key)) => {
            eprintln!("{}", msg::not_found(&key));
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    drop(conn);
    db.close().await;
    // Findings are printed as people read them, worded.
    record.findings = record
        .findings
        .iter()
        .map(crate::messages::findings::plain)
        .collect();
    print(args.json, &record, |out| write_record(out, &record))?;
    Ok(ExitCode::SUCCESS)
}

/// One record for people, as `queue show` prints it.
fn write_record(out: &mut impl Write, r: &RequestRecord) -> anyhow::Result<()> {
    writeln!(out, "{}: {} (ID {})", label::RECEIPT, r.receipt, r.id)?;
    writeln!(out, "{}: {}", label::STATUS, r.status)?;
    writeln!(out, "{}: {}", label::SOURCE, r.source.as_str())?;
    writeln!(
        out,
        "{}: {}",
        label::RECEIVED_AT,
        r.received_at
            .with_timezone(&JST)
            .format("%Y-%m-%d %H:%M:%S")
    )?;
    writeln!(
        out,
        "{}: {} {}",
        label::BATCH_DATE,
        r.batch_date,
        r.batch_reason
    )?;
    writeln!(out, "{}: {}", label::PREFECTURE, r.prefecture)?;
    let i = &r.institution;
    writeln!(
        out,
        "{}: {} {} / 〒{} {} / {} / {}",
        label::INSTITUTION,
        i.name,
        i.code,
        i.postcode,
        i.address,
        i.phone,
        i.contact
    )?;
    writeln!(out, "{}: {}", label::EARLIER, r.earlier_distributions)?;
    if let Some(by) = &r.superseded_by {
        writeln!(
            out,
            "{}: {} ({})",
            label::SUPERSEDED_BY,
            by.receipt,
            by.status
        )?;
    }
    if !r.supersedes.is_empty() {
        let list: Vec<&str> = r.supersedes.iter().map(|v| v.receipt.as_str()).collect();
        writeln!(out, "{}: {}", label::SUPERSEDES, list.join("、"))?;
    }
    write_lines(out, r)?;
    write_findings_and_history(out, r)
}

/// The item lines of a record: the institution's part, the prefecture's
/// decision and MHLW's.
fn write_lines(out: &mut impl Write, r: &RequestRecord) -> anyhow::Result<()> {
    writeln!(out, "{}:", label::ITEMS)?;
    for l in r.requested_lines() {
        let p = &l.prefecture;
        writeln!(
            out,
            "  {}: {} {} / {} {} / {} {} / {} | {}: {} {} {}{} {}{} {}{} 「{}」 | {}: {} {} {} {}",
            l.item.label(),
            label::STOCK,
            opt(l.stock),
            label::WEEKLY_USE,
            opt(l.weekly_use),
            label::WEEKLY_PURCHASE,
            opt(l.weekly_purchase),
            l.reason,
            label::PREFECTURE_DECISION,
            p.need.map(label::need).unwrap_or("-"),
            p.method.map(|m| m.as_str()).unwrap_or("-"),
            label::PREFECTURE_QUANTITY,
            opt(p.prefecture_quantity),
            label::NATIONAL_QUANTITY,
            opt(p.national_quantity),
            label::TOTAL_QUANTITY,
            opt(p.total_quantity),
            p.opinion,
            label::MHLW_DECISION,
            label::approval(l.mhlw.approved),
            opt(l.mhlw.quantity),
            l.mhlw.ship_date.map(|d| d.to_string()).unwrap_or_default(),
            l.mhlw.reason,
        )?;
    }
    Ok(())
}

/// A record's findings, where its raw mail and attachment are, and its
/// history.
fn write_findings_and_history(out: &mut impl Write, r: &RequestRecord) -> anyhow::Result<()> {
    if !r.findings.is_empty() {
        writeln!(out, "{}:", label::FINDINGS)?;
        for f in &r.findings {
            super::write_finding(out, f)?;
        }
    }
    writeln!(
        out,
        "{}: mail {} / attachment {} {} [{}]",
        label::RAW,
        r.source_message_sha256.as_deref().unwrap_or("-"),
        r.attachment_sha256.as_deref().unwrap_or("-"),
        r.attachment_name,
        r.sheet_name
    )?;
    writeln!(out, "{}:", label::HISTORY)?;
    for h in &r.history {
        let at = h.at.with_timezone(&JST).format("%Y-%m-%d %H:%M:%S");
        let why = if h.reason.is_empty() {
            String::new()
        } else {
            format!(" 「{}」", h.reason)
        };
        writeln!(out, "  {at} {} {} {}{why}", h.actor, h.action, h.detail)?;
    }
    Ok(())
}

fn opt(v: Option<i64>) -> String {
    v.map(|n| n.to_string()).unwrap_or_else(|| "-".into())
}
