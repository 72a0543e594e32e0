//! `sos-intake calendar` run as a real binary: the batch date printed for
//! receipt times at the edges of both cut-off rules, and the holiday list.

use std::path::Path;
use std::process::{Command, Output};

fn sos_intake(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

/// The batch date for `at`, with the configuration in a fresh directory.
fn batch_date(at: &str, rule: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec!["calendar", "batch-date", "--at", at];
    if let Some(rule) = rule {
        args.extend(["--rule", rule]);
    }
    stdout(&sos_intake(dir.path(), &args))
        .trim_end()
        .to_string()
}

#[test]
fn the_issue_example_year_end_after_13() {
    assert_eq!(batch_date("2026-12-28T13:00:01+09:00", None), "2027-01-04");
    assert_eq!(batch_date("2026-12-28T13:00:00+09:00", None), "2026-12-28");
}

#[test]
fn daily_cutoff_edges() {
    assert_eq!(batch_date("2026-11-19T12:59:59+09:00", None), "2026-11-19");
    assert_eq!(batch_date("2026-11-19T13:00:00+09:00", None), "2026-11-19");
    assert_eq!(batch_date("2026-11-19T13:00:01+09:00", None), "2026-11-20");
}

#[test]
fn friday_afternoon_monday_holiday_and_golden_week() {
    assert_eq!(batch_date("2026-11-13T16:00:00+09:00", None), "2026-11-16");
    // 2026-11-23 (Mon) is 勤労感謝の日.
    assert_eq!(batch_date("2026-11-20T15:00:00+09:00", None), "2026-11-24");
    assert_eq!(batch_date("2026-05-01T13:30:00+09:00", None), "2026-05-07");
}

#[test]
fn time_given_in_utc() {
    assert_eq!(batch_date("2026-11-19T04:00:00Z", None), "2026-11-19");
    assert_eq!(batch_date("2026-11-19T04:00:01Z", None), "2026-11-20");
    assert_eq!(batch_date("2026-11-18T15:30:00Z", None), "2026-11-19");
}

#[test]
fn weekly_rule_edges() {
    let weekly = Some("weekly-wed-17");
    assert_eq!(
        batch_date("2026-11-18T17:00:00+09:00", weekly),
        "2026-11-18"
    );
    assert_eq!(
        batch_date("2026-11-18T17:00:01+09:00", weekly),
        "2026-11-25"
    );
    // 2026-09-23 (Wed) is 秋分の日: the deadline moves to Thursday 17:00.
    assert_eq!(
        batch_date("2026-09-23T10:00:00+09:00", weekly),
        "2026-09-24"
    );
    assert_eq!(
        batch_date("2026-09-24T17:00:01+09:00", weekly),
        "2026-09-30"
    );
}

#[test]
fn rule_from_configuration_and_explain() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("sos-intake.toml"),
        "cutoff_rule = \"weekly-wed-17\"\n",
    )
    .unwrap();
    let out = sos_intake(
        dir.path(),
        &[
            "calendar",
            "batch-date",
            "--at",
            "2026-11-19T09:00:00+09:00",
        ],
    );
    assert_eq!(stdout(&out), "2026-11-25\n");
    let out = sos_intake(
        dir.path(),
        &[
            "calendar",
            "batch-date",
            "--rule",
            "daily-13",
            "--explain",
            "--at",
            "2026-11-19T13:30:00+09:00",
        ],
    );
    assert_eq!(
        stdout(&out),
        "2026-11-20\t13時を過ぎての受信のため翌営業日扱い\n"
    );
}

#[test]
fn bad_input_is_refused_in_japanese() {
    let dir = tempfile::tempdir().unwrap();
    let out = sos_intake(
        dir.path(),
        &["calendar", "batch-date", "--at", "2026-11-19 1pm"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("日時を読めません"));
    let out = sos_intake(
        dir.path(),
        &[
            "calendar",
            "batch-date",
            "--rule",
            "monthly",
            "--at",
            "2026-11-19T09:00:00Z",
        ],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("締切ルール"));
    std::fs::write(
        dir.path().join("sos-intake.toml"),
        "cutoff_rule = \"hourly\"\n",
    )
    .unwrap();
    let out = sos_intake(
        dir.path(),
        &["calendar", "batch-date", "--at", "2026-11-19T09:00:00Z"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cutoff_rule"));
}

#[test]
fn holidays_of_2026() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout(&sos_intake(
        dir.path(),
        &["calendar", "holidays", "--year", "2026"],
    ));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 18, "{out}");
    assert_eq!(lines[0], "2026-01-01\t木\t元日");
    assert!(lines.contains(&"2026-05-06\t水\t振替休日"));
    assert!(lines.contains(&"2026-09-22\t火\t国民の休日"));
    assert_eq!(lines[17], "2026-11-23\t月\t勤労感謝の日");
}
