//! Queue benchmarks (issue 3), on SQLite and PostgreSQL:
//!
//! - `file_10000/<backend>`: filing 10,000 clean sheets into a fresh queue,
//!   each in its own transaction as the mail pipeline does (receipt number,
//!   G-MIS check, supersession check, earlier distributions, lines, audit),
//!   measured as ten samples of 1,000 filings while the queue grows (after
//!   one warm-up sample); the time for 10,000 is ten times the mean.
//! - `list_100000/<case>/<backend>`: listing from a queue of 100,000
//!   requests (1,000 per batch over 100 business days, 47 prefectures),
//!   built once with a bulk insert: a day's batch (first page of 100, with
//!   the total and counts per status), the same narrowed to one status and
//!   prefecture, a search by institution name within the day, an item
//!   filter, and the first page of the whole queue.
//!
//! Run: `cargo bench --bench queue` (PostgreSQL at `$SOS_TEST_POSTGRES_URL`,
//! default `postgres://postgres@127.0.0.1:5432/postgres`; set
//! `SOS_BENCH_BACKENDS=sqlite` to skip it). `SOS_BENCH_FILINGS` changes the
//! 10,000. Figures and how to read them: `docs/benchmarks-queue.md`.

#[path = "../tests/common/db.rs"]
#[allow(dead_code, unused_macros)]
mod db;

use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use db::TestDb;
use sos_intake::prefecture::Prefecture;
use sos_intake::queue::{self, ListFilter, SheetFiling};
use sos_intake::request::{Item, Status};
use std::time::{Duration, Instant};

const QUEUE_SIZE: i64 = 100_000;
const DAYS: i64 = 100;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The backends to measure: both unless `SOS_BENCH_BACKENDS` says otherwise.
fn backends() -> Vec<&'static str> {
    let wanted = std::env::var("SOS_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    ["sqlite", "postgres"]
        .into_iter()
        .filter(|b| wanted.split(',').any(|w| w.trim() == *b))
        .collect()
}

async fn fresh(backend: &str) -> TestDb {
    match backend {
        "sqlite" => TestDb::sqlite().await,
        _ => TestDb::postgres().await,
    }
}

fn filings() -> u64 {
    std::env::var("SOS_BENCH_FILINGS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
}

/// A clean sheet for institution number `i` (distinct institutions, so each
/// filing does the full supersession lookup and finds nothing).
fn filing(i: u64) -> SheetFiling {
    let code = format!("13{:08}", i);
    let mut f = db::sheet_filing(
        &code,
        &[Item::NonSterileGloves],
        "2026-11-20T09:00:00+09:00",
        "2026-11-20",
        &code,
    );
    f.actor = "bench".into();
    f
}

fn bench_filing(c: &mut Criterion) {
    let rt = runtime();
    // Ten samples of a tenth each: the queue grows by the full 10,000 (plus
    // one warm-up tenth) and every filing is measured once.
    let per_sample = (filings() / 10).max(1);
    let mut group = c.benchmark_group("file_10000");
    group
        .sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .throughput(Throughput::Elements(per_sample));
    // Short targets make criterion run exactly one iteration per sample.
    group
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(1));
    for backend in backends() {
        let t = rt.block_on(fresh(backend));
        let mut next = 0u64;
        group.bench_function(BenchmarkId::from_parameter(backend), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let inputs: Vec<SheetFiling> =
                            (next..next + per_sample).map(filing).collect();
                        next += per_sample;
                        let start = Instant::now();
                        for f in &inputs {
                            let mut tx = t.db.begin().await.expect("begin");
                            queue::file_sheet(&mut tx, f).await.expect("file");
                            tx.commit().await.expect("commit");
                        }
                        total += start.elapsed();
                    }
                    total
                })
            })
        });
        let filed = rt.block_on(async {
            let mut conn = t.db.pool().acquire().await.expect("conn");
            queue::list(
                &mut conn,
                &ListFilter {
                    limit: 1,
                    ..ListFilter::default()
                },
            )
            .await
            .expect("list")
            .total
        });
        eprintln!("file_10000/{backend}: {filed} records filed in all (warm-up included)");
        rt.block_on(t.db.close());
    }
    group.finish();
}

/// Fills the queue with `QUEUE_SIZE` requests and one gloves line each,
/// 500 rows a statement, in one transaction; a tenth of them completed.
async fn bulk_fill(t: &TestDb) {
    let days: Vec<chrono::NaiveDate> = {
        let mut d = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
        let mut out = Vec::new();
        while out.len() < DAYS as usize {
            if sos_intake::calendar::is_business_day(d) {
                out.push(d);
            }
            d = d.succ_opt().expect("date");
        }
        out
    };
    let prefectures: Vec<Prefecture> = Prefecture::all().collect();
    let mut tx = t.db.begin().await.expect("begin");
    const CHUNK: i64 = 500;
    let mut start = 0;
    while start < QUEUE_SIZE {
        let end = (start + CHUNK).min(QUEUE_SIZE);
        let mut sql = String::from(
            "INSERT INTO requests (id, receipt, filing_key, source, status, received_at, batch_date, prefecture, \
             institution_code, institution_name, requested_items, findings, error_count, created_at, updated_at) VALUES ",
        );
        let mut binds: Vec<String> = Vec::new();
        for i in start..end {
            let day = days[(i / (QUEUE_SIZE / DAYS)) as usize];
            let pref = prefectures[(i % 47) as usize];
            let minute = i % 1000;
            let status = if i % 5 == 0 {
                Status::HasErrors
            } else {
                Status::UnderReview
            };
            let received = format!(
                "{}T{:02}:{:02}:00.000000Z",
                day.format("%Y-%m-%d"),
                minute / 60 % 24,
                minute % 60
            );
            let row = [
                format!("R{i}"),
                format!("bench:{i}"),
                if i % 3 == 0 {
                    "g-mis".into()
                } else {
                    "sheet".into()
                },
                status.as_str().to_string(),
                received.clone(),
                day.format("%Y-%m-%d").to_string(),
                pref.name().to_string(),
                format!("{}{:08}", pref.code(), i),
                format!("ベンチ病院{i}"),
                "non_sterile_gloves".into(),
                "[]".into(),
                received,
            ];
            let base = binds.len();
            if i > start {
                sql.push(',');
            }
            // id and error_count are literals; the rest are binds.
            sql.push_str(&format!(
                "({}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, {}, ${}, ${})",
                i + 1,
                base + 1,
                base + 2,
                base + 3,
                base + 4,
                base + 5,
                base + 6,
                base + 7,
                base + 8,
                base + 9,
                base + 10,
                base + 11,
                if status == Status::HasErrors { 1 } else { 0 },
                base + 12,
                base + 12
            ));
            binds.extend(row);
        }
        let mut q = sqlx::query(&sql);
        for b in &binds {
            q = q.bind(b.as_str());
        }
        q.execute(&mut *tx).await.expect("bulk insert requests");
        let mut sql = String::from(
            "INSERT INTO request_items (request_id, item, position, requested) VALUES ",
        );
        for i in start..end {
            if i > start {
                sql.push(',');
            }
            sql.push_str(&format!("({}, 'non_sterile_gloves', 4, 1)", i + 1));
        }
        sqlx::query(&sql)
            .execute(&mut *tx)
            .await
            .expect("bulk insert lines");
        start = end;
    }
    sqlx::query("UPDATE requests SET status = '受付完了' WHERE id % 10 = 2")
        .execute(&mut *tx)
        .await
        .expect("complete a tenth");
    tx.commit().await.expect("commit bulk fill");
    if t.db.backend() == queue::Backend::Postgres {
        // Identity columns do not see explicit ids.
        sqlx::query("SELECT setval(pg_get_serial_sequence('requests', 'id'), (SELECT MAX(id) FROM requests))")
            .execute(t.db.pool())
            .await
            .expect("reset identity");
    }
    sqlx::query("ANALYZE")
        .execute(t.db.pool())
        .await
        .expect("analyze");
}

fn bench_listing(c: &mut Criterion) {
    let rt = runtime();
    let day = {
        // The 50th business day from 2026-06-01, a batch in the middle.
        let mut d = chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("date");
        let mut seen = 0;
        loop {
            if sos_intake::calendar::is_business_day(d) {
                seen += 1;
                if seen == 50 {
                    break d;
                }
            }
            d = d.succ_opt().expect("date");
        }
    };
    let cases: Vec<(&str, ListFilter)> = vec![
        (
            "day",
            ListFilter {
                batch_date: Some(day),
                ..ListFilter::default()
            },
        ),
        (
            "day_status_prefecture",
            ListFilter {
                batch_date: Some(day),
                status: Some(Status::UnderReview),
                prefecture: Prefecture::parse("東京都"),
                ..ListFilter::default()
            },
        ),
        (
            "day_search",
            ListFilter {
                batch_date: Some(day),
                search: Some("病院4912".into()),
                ..ListFilter::default()
            },
        ),
        (
            "day_item",
            ListFilter {
                batch_date: Some(day),
                item: Some(Item::NonSterileGloves),
                ..ListFilter::default()
            },
        ),
        ("all_first_page", ListFilter::default()),
    ];
    let mut group = c.benchmark_group("list_100000");
    group
        .sample_size(30)
        .measurement_time(Duration::from_secs(5));
    for backend in backends() {
        let t = rt.block_on(async {
            let t = fresh(backend).await;
            bulk_fill(&t).await;
            t
        });
        for (name, filter) in &cases {
            // Sanity: the case lists what it should.
            let listing = rt.block_on(async {
                let mut conn = t.db.pool().acquire().await.expect("conn");
                queue::list(&mut conn, filter).await.expect("list")
            });
            assert!(!listing.records.is_empty(), "{name} lists nothing");
            group.bench_function(BenchmarkId::new(*name, backend), |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut conn = t.db.pool().acquire().await.expect("conn");
                        let start = Instant::now();
                        for _ in 0..iters {
                            let listing = queue::list(&mut conn, filter).await.expect("list");
                            std::hint::black_box(listing);
                        }
                        start.elapsed()
                    })
                })
            });
        }
        rt.block_on(t.db.close());
        drop(t);
    }
    group.finish();
}

criterion_group!(benches, bench_filing, bench_listing);
criterion_main!(benches);
