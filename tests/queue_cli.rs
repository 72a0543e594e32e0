//! The queue's command line, run as a real process against SQLite and
//! PostgreSQL: `file`, `queue list`, `queue show`, `gmis import`.

mod common;

use std::path::Path;
use std::process::Output;

const VALID: &str = "samples/sheets/valid.xlsx";
const TWO_FORMS: &str = "samples/sheets/valid-two-forms.xlsx";
const CODE_ERROR: &str = "samples/sheets/error-institution-code-format.xlsx";
const HOKKAIDO: &str = "samples/sheets/valid-hokkaido-numeric-code.xlsx";
const GMIS: &str = "samples/gmis/gmis-sos-export-sample.csv";

/// Runs the binary on the test's database (via `SOS_INTAKE_DATABASE_URL`,
/// as an operator would select PostgreSQL) with a fresh data directory.
fn run(t: &common::db::TestDb, args: &[&str]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::process::Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .current_dir(root)
        .arg("--data-dir")
        .arg(t.data_dir())
        .args(args)
        .env("SOS_INTAKE_DATABASE_URL", &t.url)
        .env("USER", "tester")
        .output()
        .expect("run sos-intake")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn json_lines(o: &Output) -> Vec<serde_json::Value> {
    stdout(o)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect()
}

both_backends!(file_then_list_and_show, |t| {
    let filed = run(
        &t,
        &[
            "file",
            VALID,
            "--received-at",
            "2026-11-20T13:00:00+09:00",
            "--prefecture",
            "東京都",
        ],
    );
    assert_eq!(
        filed.status.code(),
        Some(0),
        "{}{}",
        stdout(&filed),
        String::from_utf8_lossy(&filed.stderr)
    );
    let text = stdout(&filed);
    assert!(text.contains("受付番号: SOS-20261120-"), "{text}");
    assert!(text.contains("都道府県・国確認中"), "{text}");
    assert!(
        text.contains("2026-11-20（13時までの受信のため当日扱い）"),
        "{text}"
    );

    // Filing the same file again changes nothing.
    let again = run(
        &t,
        &[
            "file",
            VALID,
            "--received-at",
            "2026-11-20T13:00:00+09:00",
            "--prefecture",
            "東京都",
            "--json",
        ],
    );
    let lines = json_lines(&again);
    assert_eq!(lines[0]["outcome"]["already_filed"], true);

    let listed = run(&t, &["queue", "list", "--date", "2026-11-20", "--json"]);
    assert_eq!(listed.status.code(), Some(0));
    let listing: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(listing["total"], 1);
    let receipt = listing["records"][0]["receipt"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(listing["records"][0]["institution_code"], "1312345679");

    let shown = run(&t, &["queue", "show", &receipt, "--json"]);
    assert_eq!(shown.status.code(), Some(0));
    let record: serde_json::Value = serde_json::from_str(&stdout(&shown)).unwrap();
    assert_eq!(record["receipt"], receipt.as_str());
    assert_eq!(record["attachment_name"], "valid.xlsx");
    assert_eq!(record["history"][0]["actor"], "cli:tester");
    let human = stdout(&run(&t, &["queue", "show", &receipt]));
    assert!(
        human.contains("みどり内科") || human.contains("1312345679"),
        "{human}"
    );
    assert!(human.contains("履歴"), "{human}");

    let missing = run(&t, &["queue", "show", "SOS-20990101-999999"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("見つかりません"));
});

both_backends!(file_reports_errors_and_wrong_prefecture, |t| {
    let bad = run(
        &t,
        &[
            "file",
            CODE_ERROR,
            "--received-at",
            "2026-11-20T09:00:00+09:00",
            "--prefecture",
            "東京都",
        ],
    );
    assert_eq!(bad.status.code(), Some(1), "{}", stdout(&bad));
    assert!(stdout(&bad).contains("エラー有り"));

    let elsewhere = run(
        &t,
        &[
            "file",
            HOKKAIDO,
            "--received-at",
            "2026-11-20T09:00:00+09:00",
            "--prefecture",
            "東京都",
            "--json",
        ],
    );
    assert_eq!(elsewhere.status.code(), Some(1));
    let line = &json_lines(&elsewhere)[0];
    assert_eq!(line["outcome"]["status"], "エラー有り");
    assert!(
        line["findings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["code"] == "queue.prefecture_mismatch")
    );

    let errors = run(&t, &["queue", "list", "--status", "errors", "--json"]);
    let listing: serde_json::Value = serde_json::from_str(&stdout(&errors)).unwrap();
    assert_eq!(listing["total"], 2);

    let unknown = run(&t, &["file", VALID, "--prefecture", "東京県"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("都道府県「東京県」"));
});

both_backends!(one_record_per_form_in_a_workbook, |t| {
    // valid-two-forms holds a 東京都 and a 神奈川県 form: filed as 東京都, the
    // second is refused for its prefecture, both are kept.
    let out = run(
        &t,
        &[
            "file",
            TWO_FORMS,
            "--received-at",
            "2026-11-20T09:00:00+09:00",
            "--prefecture",
            "東京都",
            "--json",
        ],
    );
    let lines = json_lines(&out);
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["outcome"]["status"], "都道府県・国確認中");
    assert_eq!(lines[1]["outcome"]["status"], "エラー有り");
    assert_ne!(
        lines[0]["outcome"]["receipt"],
        lines[1]["outcome"]["receipt"]
    );
});

both_backends!(gmis_import_then_list_by_source, |t| {
    let first = run(&t, &["gmis", "import", GMIS, "--json"]);
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}{}",
        stdout(&first),
        String::from_utf8_lossy(&first.stderr)
    );
    let first: serde_json::Value = serde_json::from_str(&stdout(&first)).unwrap();
    let requests = first["requests"].as_array().unwrap();
    assert!(requests.len() >= 2);
    assert!(requests.iter().all(|r| r["change"] == "created"));
    let second = run(&t, &["gmis", "import", GMIS]);
    let summary = format!("新規 0件・更新 0件・変更なし {}件", requests.len());
    assert!(stdout(&second).contains(&summary), "{}", stdout(&second));

    let listed = run(
        &t,
        &[
            "queue", "list", "--source", "g-mis", "--json", "--limit", "1000",
        ],
    );
    let listing: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(listing["total"].as_u64(), Some(requests.len() as u64));
    let hokkaido = run(
        &t,
        &[
            "queue",
            "list",
            "--source",
            "g-mis",
            "--prefecture",
            "北海道",
            "--json",
        ],
    );
    let hokkaido: serde_json::Value = serde_json::from_str(&stdout(&hokkaido)).unwrap();
    assert_eq!(hokkaido["records"][0]["institution_name"], "北斗クリニック");

    // A sheet for an institution G-MIS knows is an error.
    let sheet = run(
        &t,
        &[
            "file",
            HOKKAIDO,
            "--received-at",
            "2026-11-20T09:00:00+09:00",
            "--prefecture",
            "北海道",
            "--json",
        ],
    );
    let line = &json_lines(&sheet)[0];
    assert_eq!(
        line["outcome"]["findings_added"][0]["code"],
        "queue.gmis_registered"
    );
});
