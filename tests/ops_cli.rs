//! Issue 14 point 6: `--log-format json` (one JSON object a line, the
//! Message-ID on every line written while a message is processed, levels
//! by `RUST_LOG`) and `sos-intake config check` (the effective
//! configuration, warnings about unsafe settings, the demo password).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sos_intake(dir: &Path, config: &Path, args: &[&str], stdin: &str) -> Output {
    sos_intake_logging(dir, config, args, stdin, "info,sqlx=warn")
}

fn sos_intake_logging(
    dir: &Path,
    config: &Path,
    args: &[&str],
    stdin: &str,
    rust_log: &str,
) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SOS_INTAKE_DATABASE_URL")
        .env("RUST_LOG", rust_log)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run sos-intake");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn json_logs_carry_the_message_id_on_every_line_about_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let config = repo().join("samples/sos-intake.toml");
    let mail = repo().join("samples/inbox/03-error-sheet.eml");
    let out = sos_intake(
        dir.path(),
        &config,
        &[
            "--log-format",
            "json",
            "ingest",
            mail.to_str().unwrap(),
            "--no-send",
        ],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty(), "{stderr}");
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["timestamp"].is_string())
    );
    // Every line from the pipeline is inside the message's span.
    let id = "7a9b0c1d.20261117152044@pref.osaka.lg.jp";
    let pipeline: Vec<_> = lines
        .iter()
        .filter(|l| {
            l["target"]
                .as_str()
                .is_some_and(|t| t.starts_with("sos_intake::pipeline"))
        })
        .collect();
    assert!(!pipeline.is_empty(), "{stderr}");
    for l in pipeline {
        assert_eq!(l["span"]["message_id"], id, "{l}");
    }

    // Levels by RUST_LOG: at `warn` the info lines are gone.
    let mail = repo().join("samples/inbox/01-valid-submission.eml");
    let quiet = sos_intake_logging(
        dir.path(),
        &config,
        &[
            "--log-format",
            "json",
            "ingest",
            mail.to_str().unwrap(),
            "--no-send",
        ],
        "",
        "warn",
    );
    assert!(quiet.status.success(), "{quiet:?}");
    let stderr = String::from_utf8(quiet.stderr).unwrap();
    assert!(!stderr.contains("\"INFO\""), "{stderr}");
}

#[test]
fn config_check_warns_about_unsafe_settings_and_the_demo_password() {
    let dir = tempfile::tempdir().unwrap();
    let unsafe_config = dir.path().join("unsafe.toml");
    std::fs::write(
        &unsafe_config,
        "[smtp]\nhost = \"relay.example\"\ntls = \"none\"\n[web]\nlisten = \"0.0.0.0:8080\"\n",
    )
    .unwrap();
    let add = sos_intake(
        dir.path(),
        &unsafe_config,
        &["users", "add", "demo", "--role", "admin"],
        "sos-demo-password\n",
    );
    assert!(add.status.success(), "{add:?}");
    let out = sos_intake(dir.path(), &unsafe_config, &["config", "check"], "");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("有効な設定"), "{text}");
    assert!(
        text.contains("relay.example"),
        "the effective configuration is printed: {text}"
    );
    for warning in [
        "sender_auth が off",
        "HTTP のまま公開",
        "「demo」がデモ用パスワードのまま",
        "[smtp] tls = \"none\"",
    ] {
        assert!(text.contains(warning), "missing {warning}: {text}");
    }

    let safe_config = dir.path().join("safe.toml");
    std::fs::write(
        &safe_config,
        "[mail]\nauthserv_id = \"mx.mhlw.go.jp\"\n[smtp]\nhost = \"relay.example\"\ntls = \"starttls\"\n",
    )
    .unwrap();
    let renamed = sos_intake(dir.path(), &safe_config, &["users", "remove", "demo"], "");
    assert!(renamed.status.success(), "{renamed:?}");
    let out = sos_intake(dir.path(), &safe_config, &["config", "check"], "");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("危険な設定は見つかりませんでした"), "{text}");
}
