//! Fresh queue databases for integration tests, on SQLite and PostgreSQL.
//!
//! - [`TestDb::sqlite`]: a database file in a temporary directory, removed
//!   with the [`TestDb`].
//! - [`TestDb::postgres`]: a new database `sos_test_<random>` on the server
//!   at `$SOS_TEST_POSTGRES_URL` (default
//!   `postgres://postgres@127.0.0.1:5432/postgres`), dropped (`WITH (FORCE)`)
//!   when the [`TestDb`] is dropped. Set `SOS_TEST_KEEP_DB=1` to keep it for
//!   a post-mortem; the name is printed.
//! - [`both_backends!`](crate::both_backends): writes the same async test
//!   body once and runs it as `<name>::sqlite` and `<name>::postgres`.
//!
//! Both are migrated by [`Db::connect`], exactly as the application does.

use sos_intake::queue::Db;
use sqlx::{Connection, Executor};
use std::path::PathBuf;

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_ENV: &str = "SOS_TEST_POSTGRES_URL";
/// The server used when the variable is unset.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// A fresh, migrated database that disappears with this value.
pub struct TestDb {
    /// The connected, migrated database.
    pub db: Db,
    /// Its URL (give it to a second process or pool to race against `db`).
    pub url: String,
    /// The temporary directory (SQLite file; also usable as a data dir).
    pub dir: tempfile::TempDir,
    /// For PostgreSQL: the admin URL and the database name to drop.
    postgres: Option<(String, String)>,
}

impl TestDb {
    /// A SQLite database file in a new temporary directory.
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}/queue.db", dir.path().display());
        let db = Db::connect(&url).await.expect("connect and migrate SQLite");
        TestDb {
            db,
            url,
            dir,
            postgres: None,
        }
    }

    /// A new PostgreSQL database on `$SOS_TEST_POSTGRES_URL`.
    pub async fn postgres() -> TestDb {
        let admin = postgres_admin_url();
        let name = format!("sos_test_{}", hex::encode(rand::random::<[u8; 6]>()));
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|e| {
                panic!("PostgreSQL at {admin} is needed for this test ({POSTGRES_URL_ENV}): {e}")
            });
        conn.execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create test database");
        conn.close().await.ok();
        let url = replace_database(&admin, &name);
        let db = Db::connect(&url)
            .await
            .expect("connect and migrate PostgreSQL");
        let dir = tempfile::tempdir().expect("temporary directory");
        TestDb {
            db,
            url,
            dir,
            postgres: Some((admin, name)),
        }
    }

    /// A second, independent handle on the same database (its own pool), as
    /// another process would have.
    pub async fn second_handle(&self) -> Db {
        Db::connect(&self.url).await.expect("second connection")
    }

    /// The temporary directory as a data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// `"sqlite"` or `"postgres"`, for messages.
    pub fn backend_name(&self) -> &'static str {
        if self.postgres.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Makes the database refuse (a trigger named `name`, error "refused
    /// for the test") every `mail_messages` row whose subject is `subject`.
    #[allow(dead_code)]
    pub async fn refuse_subject(&self, name: &str, subject: &str) {
        let sql = match self.backend_name() {
            "sqlite" => vec![format!(
                "CREATE TRIGGER {name} BEFORE INSERT ON mail_messages WHEN NEW.subject = '{subject}' \
                 BEGIN SELECT RAISE(ABORT, 'refused for the test'); END"
            )],
            _ => vec![
                format!(
                    "CREATE FUNCTION {name}() RETURNS trigger AS $$ BEGIN \
                     IF NEW.subject = '{subject}' THEN RAISE EXCEPTION 'refused for the test'; END IF; \
                     RETURN NEW; END $$ LANGUAGE plpgsql"
                ),
                format!(
                    "CREATE TRIGGER {name} BEFORE INSERT ON mail_messages FOR EACH ROW EXECUTE FUNCTION {name}()"
                ),
            ],
        };
        for statement in sql {
            sqlx::query(&statement)
                .execute(self.db.pool())
                .await
                .unwrap();
        }
    }

    /// Drops the trigger [`TestDb::refuse_subject`] made.
    #[allow(dead_code)]
    pub async fn stop_refusing(&self, name: &str) {
        let sql = match self.backend_name() {
            "sqlite" => format!("DROP TRIGGER {name}"),
            _ => format!("DROP TRIGGER {name} ON mail_messages"),
        };
        sqlx::query(&sql).execute(self.db.pool()).await.unwrap();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.postgres.take() else {
            return;
        };
        if std::env::var("SOS_TEST_KEEP_DB").is_ok_and(|v| v == "1") {
            eprintln!("kept test database {name}");
            return;
        }
        let pool = self.db.pool().clone();
        // Drop runs inside the test's runtime; a fresh thread with its own
        // runtime can block on the cleanup.
        let handle = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                pool.close().await;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = handle.join();
    }
}

/// `$SOS_TEST_POSTGRES_URL` or the default.
pub fn postgres_admin_url() -> String {
    std::env::var(POSTGRES_URL_ENV)
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_string())
}

/// The same server URL with another database name (query string kept).
fn replace_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[scheme_end..]
        .find('/')
        .map(|i| i + scheme_end)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

/// Runs one async test body on both backends:
///
/// ```ignore
/// both_backends!(files_a_sheet, |t| {
///     let mut tx = t.db.begin().await.unwrap();
///     // …
/// });
/// ```
///
/// makes `files_a_sheet::sqlite` and `files_a_sheet::postgres`, each with
/// `t: TestDb` fresh. The body is an async block's contents.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, |$t:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                #[allow(unused_variables)]
                let $t = $crate::common::db::TestDb::sqlite().await;
                $body
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                #[allow(unused_variables)]
                let $t = $crate::common::db::TestDb::postgres().await;
                $body
            }
        }
    };
}

/// A clean, checked sheet for `code` requesting `items`, received at
/// `received` (RFC 3339) into batch `batch` (`YYYY-MM-DD`), from 東京都,
/// keyed by `attachment` (a fake attachment SHA-256 seed: the same seed is
/// the same input). Tests adjust fields from there.
pub fn sheet_filing(
    code: &str,
    items: &[sos_intake::request::Item],
    received: &str,
    batch: &str,
    attachment: &str,
) -> sos_intake::queue::SheetFiling {
    use sos_intake::prefecture::Prefecture;
    use sos_intake::request::{Institution, Item, ItemLine, Method, Need, Outlook};
    let tokyo = Prefecture::parse("東京都").expect("東京都");
    let lines = Item::ALL
        .iter()
        .map(|item| {
            let mut line = ItemLine::empty(*item);
            if items.contains(item) {
                line.requested = true;
                line.stock = Some(3000);
                line.outlook = Some(Outlook::WithinOneWeek);
                line.weekly_use = Some(8000);
                line.weekly_purchase = Some(2000);
                line.reason = "卸の欠品".into();
                line.prefecture.need = Some(Need::Needed);
                line.prefecture.method = Some(Method::NationalDirect);
                line.prefecture.prefecture_quantity = Some(0);
                line.prefecture.national_quantity = Some(12000);
                line.prefecture.total_quantity = Some(12000);
                line.prefecture.opinion = "過去の緊急配布：0回。卸3社とも欠品".into();
            }
            line
        })
        .collect();
    sos_intake::queue::SheetFiling {
        received_at: chrono::DateTime::parse_from_rfc3339(received)
            .expect("received time")
            .to_utc(),
        batch_date: chrono::NaiveDate::parse_from_str(batch, "%Y-%m-%d").expect("batch date"),
        batch_reason: Some("13:00までの受付のため当日分".into()),
        prefecture: tokyo,
        institution: Institution {
            name: format!("テスト病院{code}"),
            code: code.to_string(),
            postcode: "100-0001".into(),
            prefecture: Some(tokyo),
            address: "東京都千代田区千代田1-1".into(),
            phone: "0312345678".into(),
            contact: "厚労 太郎".into(),
        },
        lines,
        findings: Vec::new(),
        source_message_sha256: None,
        attachment_sha256: Some(sos_intake::queue::blobs::sha256_hex(attachment.as_bytes())),
        attachment_name: format!("{attachment}.xlsx"),
        sheet_name: "要請シート".into(),
        actor: "test".into(),
        sender_trust: sos_intake::mailbox::senders::SenderTrust::Authenticated,
    }
}

/// A G-MIS request with レコードID `record_id` for `code`, requesting `items`,
/// with status `status`.
pub fn gmis_filing(
    record_id: &str,
    code: &str,
    items: &[sos_intake::request::Item],
    status: sos_intake::request::Status,
    received: &str,
    batch: &str,
) -> sos_intake::queue::GmisFiling {
    let sheet = sheet_filing(code, items, received, batch, record_id);
    sos_intake::queue::GmisFiling {
        record_id: record_id.to_string(),
        received_at: sheet.received_at,
        batch_date: sheet.batch_date,
        batch_reason: sheet.batch_reason,
        prefecture: sheet.prefecture,
        institution: sheet.institution,
        status,
        lines: sheet.lines.into_iter().filter(|l| l.requested).collect(),
        findings: Vec::new(),
        actor: "gmis-import".into(),
    }
}

/// Approves every requested item of record `id` (2,000 each, shipping
/// 2026-11-25) and completes it (受付完了), as a reviewer would.
pub async fn approve_and_complete(db: &Db, id: i64) {
    use sos_intake::queue;
    let mut tx = db.begin().await.unwrap();
    let record = queue::get(&mut tx, id).await.unwrap();
    for line in record.requested_lines() {
        let decision = sos_intake::request::MhlwDecision {
            approved: Some(true),
            quantity: Some(2000),
            ship_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 25),
            reason: String::new(),
        };
        queue::set_mhlw_decision(&mut tx, id, line.item, &decision, "reviewer", "")
            .await
            .unwrap();
    }
    queue::complete(&mut tx, id, "reviewer").await.unwrap();
    tx.commit().await.unwrap();
}

/// One number from the database: the first column of the one row `sql`
/// selects (`SELECT COUNT(*) …`).
pub async fn count(db: &Db, sql: &str) -> i64 {
    use sqlx::Row;
    sqlx::query(sql)
        .fetch_one(db.pool())
        .await
        .expect("count query")
        .try_get::<i64, _>(0)
        .expect("count")
}
