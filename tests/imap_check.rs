//! `sos-intake imap check` against a real Dovecot (the mail lab): it logs
//! in, lists the folders and the backlog, and says in plain Japanese what
//! is wrong — bad password, TLS name mismatch, refused connection, missing
//! folder — with exit code 1.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::maillab::MailLab;
use lab::{append_all, plain_mail};
use sos_intake::config::Tls;
use std::path::Path;
use std::process::Command;

/// Writes a configuration with `[imap]` from the lab, adjusted by `edit`
/// (host, port, mailbox, password file), and runs `imap check`.
fn check(
    lab: &MailLab,
    dir: &Path,
    tls: Tls,
    edit: impl FnOnce(&mut Vec<(String, String)>),
) -> (i32, String) {
    let imap = lab.imap_config(tls);
    let mut keys: Vec<(String, String)> = vec![
        ("host".into(), imap.host.clone()),
        ("port".into(), imap.port.unwrap_or(993).to_string()),
        ("tls".into(), format!("{tls:?}").to_lowercase()),
        ("user".into(), imap.user.clone()),
        (
            "password_file".into(),
            imap.password_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
        (
            "ca_file".into(),
            imap.ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
        ),
    ];
    edit(&mut keys);
    let mut text = format!("data_dir = \"{}\"\n[imap]\n", dir.join("data").display());
    for (k, v) in keys {
        if k == "port" {
            text.push_str(&format!("{k} = {v}\n"));
        } else {
            text.push_str(&format!("{k} = \"{v}\"\n"));
        }
    }
    let config = dir.join("sos-intake.toml");
    std::fs::write(&config, text).expect("config");
    let out = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(&config)
        .args(["imap", "check"])
        .env_remove("SOS_INTAKE_DATABASE_URL")
        .env("SOS_TEST_IMAP_PASSWORD", common::maillab::PASSWORD)
        .output()
        .expect("run imap check");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn set(keys: &mut Vec<(String, String)>, key: &str, value: &str) {
    match keys.iter_mut().find(|(k, _)| k == key) {
        Some(kv) => kv.1 = value.to_string(),
        None => keys.push((key.to_string(), value.to_string())),
    }
}

/// A name other than `localhost` that resolves to 127.0.0.1 here (the
/// machine's own host name): the lab certificate does not carry it.
fn other_loopback_name() -> String {
    let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
    hosts
        .lines()
        .filter(|l| l.starts_with("127.0.0.1"))
        .flat_map(|l| l.split_whitespace().skip(1))
        .find(|n| !n.starts_with("localhost") && !n.starts_with('#'))
        .map(str::to_string)
        .expect("this test needs a second name for 127.0.0.1 in /etc/hosts (the host name)")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_lists_folders_and_counts_the_backlog() {
    let lab = MailLab::start_dovecot();
    append_all(&lab, "INBOX", (0..3).map(plain_mail)).await;
    let dir = tempfile::tempdir().unwrap();
    for tls in [Tls::Implicit, Tls::Starttls, Tls::None] {
        let (code, out) = check(&lab, dir.path(), tls, |_| {});
        assert_eq!(code, 0, "{out}");
        assert!(
            out.contains("ログイン: test（AUTHENTICATE PLAIN）… OK"),
            "{out}"
        );
        assert!(
            out.contains("監視フォルダー「INBOX」: 全 3 通、未処理 3 通"),
            "{out}"
        );
        assert!(
            out.contains("処理済み用フォルダー「処理済」… なし"),
            "{out}"
        );
        assert!(out.contains("IDLE あり"), "{out}");
        assert!(out.contains("監視中のゲートウェイ: なし"), "{out}");
        assert!(out.contains("問題はありません"), "{out}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_a_bad_password() {
    let lab = MailLab::start_dovecot();
    let dir = tempfile::tempdir().unwrap();
    let wrong = dir.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password\n").unwrap();
    let (code, out) = check(&lab, dir.path(), Tls::Implicit, |k| {
        set(k, "password_file", &wrong.display().to_string())
    });
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("ユーザー名 test またはパスワードが違います"),
        "{out}"
    );
    assert!(
        !out.contains("not-the-password"),
        "the password is never printed: {out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_a_tls_name_mismatch_and_an_untrusted_ca() {
    let lab = MailLab::start_dovecot();
    let dir = tempfile::tempdir().unwrap();
    let name = other_loopback_name();
    let (code, out) = check(&lab, dir.path(), Tls::Implicit, |k| set(k, "host", &name));
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains(&format!("証明書の名前が {name} と一致しません")),
        "{out}"
    );

    let other_ca = dir.path().join("other-ca.pem");
    let made = common::maillab::new_p256_certificate(1)
        .args(["-subj", "/CN=other CA", "-keyout"])
        .arg(dir.path().join("other-ca.key"))
        .arg("-out")
        .arg(&other_ca)
        .output()
        .unwrap();
    assert!(made.status.success());
    let (code, out) = check(&lab, dir.path(), Tls::Starttls, |k| {
        set(k, "ca_file", &other_ca.display().to_string())
    });
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("証明書を信頼できません"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_a_refused_connection_and_a_missing_folder() {
    let mut lab = MailLab::start_dovecot();
    let dir = tempfile::tempdir().unwrap();
    let (code, out) = check(&lab, dir.path(), Tls::Implicit, |k| {
        set(k, "mailbox", "受信箱")
    });
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("監視するフォルダー「受信箱」が IMAP サーバーにありません"),
        "{out}"
    );

    lab.stop_dovecot();
    let (code, out) = check(&lab, dir.path(), Tls::Implicit, |_| {});
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("接続を拒否されました"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reads_the_password_from_the_environment_and_says_when_it_is_missing() {
    let lab = MailLab::start_dovecot();
    let dir = tempfile::tempdir().unwrap();
    let from_env = |k: &mut Vec<(String, String)>, name: &str| {
        k.retain(|(key, _)| key != "password_file");
        k.push(("password_env".into(), name.into()));
    };
    let (code, out) = check(&lab, dir.path(), Tls::Implicit, |k| {
        from_env(k, "SOS_TEST_IMAP_PASSWORD")
    });
    assert_eq!(code, 0, "{out}");
    let (code, out) = check(&lab, dir.path(), Tls::Implicit, |k| {
        from_env(k, "SOS_TEST_NO_SUCH_VARIABLE")
    });
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("環境変数 SOS_TEST_NO_SUCH_VARIABLE が設定されていません"),
        "{out}"
    );
}
