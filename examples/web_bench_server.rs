//! The web UI over a queue of 100,000 requests, for the load benchmark
//! (`scripts/bench-web.sh`, figures in `docs/benchmarks-web.md`).
//!
//! Fills a fresh database with `--records` requests (1,000 per batch over
//! the business days ending at today's batch, 47 prefectures, a fifth with
//! errors, a tenth with warnings, a tenth 受付完了) by bulk insert, creates a
//! reviewer with a session, serves the UI on 127.0.0.1:`--port`, and prints:
//!
//! ```text
//! COOKIE sos_session=<token>
//! REQUEST <id of a record in today's batch>
//! READY http://127.0.0.1:<port>
//! ```
//!
//! Usage: `cargo run --release --example web_bench_server -- --data-dir DIR
//! [--records 100000] [--port 18080]`; `SOS_INTAKE_DATABASE_URL` selects an
//! (empty) PostgreSQL database instead of SQLite in DIR.

use anyhow::Context;
use chrono::{NaiveDate, Utc};
use sos_intake::calendar::{self, CutoffRule};
use sos_intake::config::{Config, Settings};
use sos_intake::prefecture::Prefecture;
use sos_intake::queue::{Backend, Db};
use sos_intake::request::Status;
use sos_intake::web::{self, AppState, auth};
use std::path::PathBuf;

const PER_DAY: i64 = 1000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut data_dir = PathBuf::from("./target/bench-web");
    let mut records: i64 = 100_000;
    let mut port: u16 = 18080;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--data-dir" => data_dir = args.next().context("--data-dir DIR")?.into(),
            "--records" => records = args.next().context("--records N")?.parse()?,
            "--port" => port = args.next().context("--port N")?.parse()?,
            other => anyhow::bail!("unknown argument {other}"),
        }
    }
    let settings = Settings::resolve(Config::default(), Some(data_dir));
    let db = Db::connect(&settings.database_url).await?;
    let today = web::queue_page::todays_batch(CutoffRule::Daily13, Utc::now());
    let have: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM requests")
        .fetch_one(db.pool())
        .await?;
    if have == 0 {
        let started = std::time::Instant::now();
        fill(&db, records, today).await?;
        eprintln!(
            "filled {records} requests in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    } else {
        eprintln!("reusing {have} requests");
    }
    let mut conn = db.pool().acquire().await?;
    auth::upsert_user(&mut conn, "bench", auth::Role::Reviewer, "bench-password").await?;
    let user: i64 = sqlx::query_scalar("SELECT id FROM web_users WHERE name = 'bench'")
        .fetch_one(&mut *conn)
        .await?;
    let session = auth::create_session(&mut conn, user).await?;
    let request: i64 = sqlx::query_scalar("SELECT MIN(id) FROM requests WHERE batch_date = $1")
        .bind(today.to_string())
        .fetch_one(&mut *conn)
        .await?;
    drop(conn);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("COOKIE {}={}", auth::SESSION_COOKIE, session.token);
    println!("REQUEST {request}");
    println!("READY http://{}", listener.local_addr()?);
    let state = AppState::new(settings, db)?;
    web::serve_on(listener, state, async {
        tokio::signal::ctrl_c().await.ok();
    })
    .await
}

/// The business days ending at `last`, newest last.
fn days_ending(last: NaiveDate, n: usize) -> Vec<NaiveDate> {
    let mut out = vec![last];
    let mut d = last;
    while out.len() < n {
        let Some(prev) = d.pred_opt() else { break };
        d = prev;
        if calendar::is_business_day(d) {
            out.push(d);
        }
    }
    out.reverse();
    out
}

/// Bulk-inserts `records` requests with one requested item each.
async fn fill(db: &Db, records: i64, today: NaiveDate) -> anyhow::Result<()> {
    let days = days_ending(today, ((records + PER_DAY - 1) / PER_DAY) as usize);
    let prefectures: Vec<Prefecture> = Prefecture::all().collect();
    let mut tx = db.begin().await?;
    const CHUNK: i64 = 500;
    let mut start = 0;
    while start < records {
        let end = (start + CHUNK).min(records);
        let mut sql = String::from(
            "INSERT INTO requests (id, receipt, filing_key, source, status, received_at, batch_date, prefecture, \
             institution_code, institution_name, institution_address, requested_items, findings, error_count, \
             warning_count, created_at, updated_at) VALUES ",
        );
        let mut binds: Vec<String> = Vec::new();
        for i in start..end {
            let day = days.get((i / PER_DAY) as usize).copied().unwrap_or(today);
            let pref = prefectures[(i % 47) as usize];
            let minute = i % PER_DAY;
            let (status, errors, warnings) = match i % 10 {
                0 | 5 => (Status::HasErrors, 1, 0),
                // Made 受付完了 after its line is inserted (the database
                // refuses new lines on a 受付完了 record).
                2 => (Status::UnderReview, 0, 0),
                7 => (Status::UnderReview, 0, 1),
                _ => (Status::UnderReview, 0, 0),
            };
            let received = format!(
                "{}T{:02}:{:02}:00.000000Z",
                day,
                minute / 60 % 24,
                minute % 60
            );
            let row = [
                format!("SOS-{}-{:06}", day.format("%Y%m%d"), i),
                format!("bench:{i}"),
                if i % 3 == 0 {
                    "g-mis".into()
                } else {
                    "sheet".into()
                },
                status.as_str().to_string(),
                received.clone(),
                day.to_string(),
                pref.name().to_string(),
                format!("{}{:08}", pref.code(), i),
                format!("ベンチ病院{i}"),
                format!("{}ベンチ市{}-1", pref.name(), i % 100),
                "non_sterile_gloves".into(),
                "[]".into(),
                received,
            ];
            let b = binds.len();
            if i > start {
                sql.push(',');
            }
            sql.push_str(&format!(
                "({}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, {errors}, {warnings}, ${}, ${})",
                i + 1,
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6,
                b + 7,
                b + 8,
                b + 9,
                b + 10,
                b + 11,
                b + 12,
                b + 13,
                b + 13
            ));
            binds.extend(row);
        }
        let mut q = sqlx::query(&sql);
        for v in &binds {
            q = q.bind(v.as_str());
        }
        q.execute(&mut *tx).await.context("bulk insert requests")?;
        let mut sql = String::from(
            "INSERT INTO request_items (request_id, item, position, requested, mhlw_approved, mhlw_quantity, mhlw_ship_date) VALUES ",
        );
        for i in start..end {
            if i > start {
                sql.push(',');
            }
            if i % 10 == 2 {
                sql.push_str(&format!(
                    "({}, 'non_sterile_gloves', 4, 1, 1, 2000, '{}')",
                    i + 1,
                    today
                ));
            } else {
                sql.push_str(&format!(
                    "({}, 'non_sterile_gloves', 4, 1, NULL, NULL, NULL)",
                    i + 1
                ));
            }
        }
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .context("bulk insert lines")?;
        start = end;
    }
    sqlx::query("UPDATE requests SET status = $1, completed_by = 'bench' WHERE id % 10 = 3")
        .bind(Status::Completed.as_str())
        .execute(&mut *tx)
        .await
        .context("complete a tenth")?;
    // The receipt counter moves past the numbers used here, so mail filed
    // into this queue afterwards (scripts/bench-drain.sh) takes new ones.
    sqlx::query(
        "INSERT INTO receipt_sequence (name, last) VALUES ('receipt', $1) \
         ON CONFLICT (name) DO UPDATE SET last = $1",
    )
    .bind(records)
    .execute(&mut *tx)
    .await
    .context("advance the receipt counter")?;
    tx.commit().await?;
    if db.backend() == Backend::Postgres {
        sqlx::query("SELECT setval(pg_get_serial_sequence('requests', 'id'), (SELECT MAX(id) FROM requests))")
            .execute(db.pool())
            .await?;
    }
    sqlx::query("ANALYZE").execute(db.pool()).await?;
    Ok(())
}
