//! OAuth 2.0 mailboxes (issue 17) against the real Dovecot of the mail lab
//! with its `oauth2` passdb, which asks a loopback token server
//! (`tests/common/oauth_server.rs`) about every token by introspection:
//! XOAUTH2 and OAUTHBEARER logins, token reuse and renewal, a token that
//! expires while the watcher idles, a revoked client, the Microsoft
//! certificate and Google service-account grants, `imap check`
//! diagnostics, and the SMTP sender with XOAUTH2 through Postfix.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::maillab::{MailLab, USER};
use common::oauth_server::{CLIENT_ID, CLIENT_SECRET, TokenServer, rsa_key};
use lab::{Running, append, fast_options, folder_count, messages, plain_mail, replies};
use sos_intake::config::{ImapConfig, Tls};
use sos_intake::mailbox::imap::Phase;
use sos_intake::mailbox::imap::connect::{self, Endpoint, ImapError};
use std::path::Path;
use std::time::Duration;

/// `[imap]` for the lab over IMAPS with `[imap.oauth]` = `oauth` (TOML
/// lines), no password at all.
fn oauth_imap(lab: &MailLab, oauth: &str) -> ImapConfig {
    let text = format!(
        "host = \"localhost\"\nport = {}\ntls = \"implicit\"\nuser = \"{USER}\"\nca_file = \"{}\"\n[oauth]\n{oauth}",
        lab.ports.imaps,
        lab.ca_file.display()
    );
    toml::from_str(&text).expect("[imap] with oauth")
}

/// `[imap.oauth]` lines: generic client credentials with a secret file.
fn generic(idp: &TokenServer, dir: &Path, mechanism: &str) -> String {
    let secret = dir.join("client-secret");
    std::fs::write(&secret, format!("{CLIENT_SECRET}\n")).unwrap();
    format!(
        "mechanism = \"{mechanism}\"\nprovider = \"generic\"\ntoken_url = \"{}\"\nclient_id = \"{CLIENT_ID}\"\n\
         client_secret_file = \"{}\"\nscope = \"mail\"\n",
        idp.token_url(),
        secret.display()
    )
}

async fn lab_with(idp: &TokenServer) -> MailLab {
    let url = idp.introspection_url();
    tokio::task::spawn_blocking(move || MailLab::start_dovecot_oauth(&url))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn xoauth2_and_oauthbearer_log_in_and_reuse_the_cached_token() {
    let idp = TokenServer::start(USER).await;
    let server = lab_with(&idp).await;
    let tmp = tempfile::tempdir().unwrap();
    for (mechanism, said) in [
        ("xoauth2", "AUTHENTICATE XOAUTH2"),
        ("oauthbearer", "AUTHENTICATE OAUTHBEARER"),
    ] {
        let before = idp.token_requests();
        let endpoint =
            Endpoint::from_config(&oauth_imap(&server, &generic(&idp, tmp.path(), mechanism)))
                .unwrap();
        for _ in 0..2 {
            let mut c = connect::connect(&endpoint)
                .await
                .unwrap_or_else(|e| panic!("{mechanism}: {e}\n{}", server.dovecot_log()));
            assert_eq!(c.mechanism, said);
            c.session
                .select("INBOX")
                .await
                .expect("select as the token's user");
            c.session.logout().await.unwrap();
        }
        assert_eq!(
            idp.token_requests() - before,
            1,
            "{mechanism}: the second login reuses the cached token"
        );
    }
    assert!(
        idp.introspections() >= 4,
        "Dovecot really asked about each token"
    );
    // Password logins keep working beside OAuth.
    append(&server, "INBOX", &plain_mail(1)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_the_server_refuses_is_renewed_once_before_reporting() {
    let idp = TokenServer::start(USER).await;
    let server = lab_with(&idp).await;
    let tmp = tempfile::tempdir().unwrap();
    let endpoint =
        Endpoint::from_config(&oauth_imap(&server, &generic(&idp, tmp.path(), "xoauth2"))).unwrap();
    connect::connect(&endpoint)
        .await
        .unwrap()
        .session
        .logout()
        .await
        .unwrap();
    // The server stops accepting the cached token (revoked server-side,
    // clocks apart): the gateway renews it and gets in.
    idp.expire_all();
    let c = connect::connect(&endpoint)
        .await
        .expect("renewed and logged in");
    drop(c);
    assert_eq!(idp.token_requests(), 2);

    // A revoked client: the renewal itself is refused, and said so.
    idp.revoke(CLIENT_ID);
    let err = match connect::connect(&endpoint).await {
        Ok(_) => panic!("a revoked client must not log in"),
        Err(e) => e,
    };
    assert!(matches!(err, ImapError::Token(_)), "{err:?}");
    assert!(err.needs_attention());
    let ja = err.to_string();
    assert!(
        ja.contains("取り消されています") && ja.contains("AADSTS7000215"),
        "{ja}"
    );
    let en = err.english().unwrap();
    assert!(en.contains("invalid client"), "{en}");
    assert_eq!(idp.token_requests(), 3, "one renewal, not a loop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_the_mechanism_is_reported_without_a_useless_renewal() {
    let idp = TokenServer::start(USER).await;
    // The plain lab: passwords only.
    let server = tokio::task::spawn_blocking(MailLab::start_dovecot)
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::from_config(&oauth_imap(
        &server,
        &generic(&idp, tmp.path(), "oauthbearer"),
    ))
    .unwrap();
    let err = match connect::connect(&endpoint).await {
        Ok(_) => panic!("no OAUTHBEARER there"),
        Err(e) => e,
    };
    assert!(matches!(err, ImapError::OAuthUnsupported { .. }), "{err:?}");
    assert!(
        err.to_string().contains("OAUTHBEARER") && err.to_string().contains("PLAIN"),
        "{err}"
    );
    assert!(err.english().unwrap().contains("does not offer"));
    assert_eq!(idp.token_requests(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_for_another_mailbox_is_reported_as_refused_by_the_server() {
    // The app's token is valid, but not for this mailbox (Exchange:
    // Add-MailboxPermission missing).
    let idp = TokenServer::start("someone-else").await;
    let server = lab_with(&idp).await;
    let tmp = tempfile::tempdir().unwrap();
    let endpoint = Endpoint::from_config(&oauth_imap(
        &server,
        &generic(&idp, tmp.path(), "oauthbearer"),
    ))
    .unwrap();
    endpoint
        .oauth
        .as_ref()
        .unwrap()
        .report_as("test:another-mailbox", "imap");
    let err = match connect::connect(&endpoint).await {
        Ok(_) => panic!("a token for another mailbox must be refused"),
        Err(e) => e,
    };
    assert!(matches!(err, ImapError::TokenRefused { .. }), "{err:?}");
    assert!(err.to_string().contains("Add-MailboxPermission"), "{err}");
    assert_eq!(idp.token_requests(), 2, "renewed once before reporting");
    // Reported to the monitor as the server's refusal, not the endpoint's.
    let token = &sos_intake::observe::monitor::global().tokens()["test:another-mailbox"];
    assert_eq!(
        token.failing_step.as_deref(),
        Some("server_refused"),
        "{token:?}"
    );
    assert!(
        token.last_success.is_some(),
        "the endpoint did issue: {token:?}"
    );
}

// On both backends: the checkpoint that prevents doubling lives in the
// queue database.
both_backends!(
    watcher_survives_a_token_expiring_mid_idle_without_missing_or_doubling_mail,
    |t| {
        let idp = TokenServer::start(USER).await;
        idp.set_lifetime(Duration::from_secs(4));
        let server = lab_with(&idp).await;
        let config = oauth_imap(&server, &generic(&idp, t.dir.path(), "xoauth2"));
        let running = Running::start_with(&config, &t, fast_options());
        running
            .wait_phase(Phase::Idle, Duration::from_secs(30))
            .await;
        append(&server, "INBOX", &plain_mail(1)).await;
        running.wait_handled(1, Duration::from_secs(20)).await;
        running
            .wait_phase(Phase::Idle, Duration::from_secs(30))
            .await;

        // The token expires while the watcher idles; the server then ends the
        // session, as Exchange Online does ("AccessTokenExpired"). Mail
        // arrives while the watcher is away.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let sessions = running.status().sessions;
        server.doveadm(&["kick", USER]);
        append(&server, "INBOX", &plain_mail(2)).await;
        running.wait_handled(2, Duration::from_secs(30)).await;
        running
            .wait_phase(Phase::Idle, Duration::from_secs(30))
            .await;
        append(&server, "INBOX", &plain_mail(3)).await;
        running.wait_handled(3, Duration::from_secs(20)).await;
        let status = running.status();
        running.stop().await;

        assert!(status.sessions > sessions, "reconnected: {status:?}");
        assert!(idp.token_requests() >= 2, "the expired token was renewed");
        assert_eq!(messages(&t).await, 3, "each message once");
        assert_eq!(replies(&t).await, 3, "each answered once");
        assert_eq!(folder_count(&server, "INBOX").await.0, 0);
    }
);

/// Runs `sos-intake imap check` for `imap` with `[imap.oauth]` = `oauth`
/// (a child process; the token server keeps answering on this runtime).
async fn imap_check(dir: &Path, imap: &ImapConfig, oauth: &str) -> (i32, String) {
    let config = dir.join("sos-intake.toml");
    std::fs::write(
        &config,
        format!(
            "data_dir = \"{}\"\n[imap]\nhost = \"{}\"\nport = {}\ntls = \"implicit\"\nuser = \"{}\"\nca_file = \"{}\"\n[imap.oauth]\n{oauth}",
            dir.join("data").display(),
            imap.host,
            imap.port.unwrap(),
            imap.user,
            imap.ca_file.as_ref().unwrap().display()
        ),
    )
    .unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(&config)
        .args(["imap", "check", "--no-db"])
        .output()
        .await
        .expect("run imap check");
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_check_says_which_oauth_step_failed_in_japanese_and_english() {
    let idp = TokenServer::start(USER).await;
    let server = lab_with(&idp).await;
    let tmp = tempfile::tempdir().unwrap();
    let oauth = generic(&idp, tmp.path(), "xoauth2");
    let imap = oauth_imap(&server, &oauth);

    let (code, out) = imap_check(tmp.path(), &imap, &oauth).await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("AUTHENTICATE XOAUTH2"), "{out}");
    assert!(out.contains(&idp.token_url()), "{out}");

    // The token endpoint is not there.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    let (code, out) = imap_check(tmp.path(), &imap, &oauth.replace(&idp.token_url(), &dead)).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("接続できません") && out.contains("unreachable"),
        "{out}"
    );

    // A wrong secret.
    let (code, out) = imap_check(
        tmp.path(),
        &imap,
        &oauth.replace("client-secret", "nothing-here"),
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("client_secret_file") && out.contains("OAuth configuration"),
        "{out}"
    );
    std::fs::write(tmp.path().join("wrong-secret"), "nope").unwrap();
    let (code, out) = imap_check(
        tmp.path(),
        &imap,
        &oauth.replace("client-secret", "wrong-secret"),
    )
    .await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("取り消されています") && out.contains("invalid client"),
        "{out}"
    );
    assert!(
        !out.contains("nope") && !out.contains(CLIENT_SECRET),
        "secrets never shown: {out}"
    );

    // Consent / delegation missing.
    let (code, out) = imap_check(tmp.path(), &imap, &oauth.replace(CLIENT_ID, "unknown-app")).await;
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("権限がありません") && out.contains("AADSTS700016"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn microsoft_certificate_and_google_service_account_grants_log_in() {
    let idp = TokenServer::start(USER).await;
    let server = lab_with(&idp).await;
    let tmp = tempfile::tempdir().unwrap();
    let (pem, public) = rsa_key(tmp.path(), "app");
    idp.trust_jwt_key(public);

    // Microsoft: a certificate (self-signed, as uploaded to the app
    // registration) and its key in one PEM file.
    let key_file = tmp.path().join("app.key");
    let cert = tmp.path().join("app.crt");
    let out = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-days",
            "30",
            "-subj",
            "/CN=sos-intake",
            "-key",
        ])
        .arg(&key_file)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let both = tmp.path().join("app-with-key.pem");
    std::fs::write(
        &both,
        format!("{}{pem}", std::fs::read_to_string(&cert).unwrap()),
    )
    .unwrap();
    let microsoft = format!(
        "provider = \"microsoft\"\ntenant = \"contoso.onmicrosoft.com\"\nclient_id = \"{CLIENT_ID}\"\n\
         certificate_file = \"{}\"\ntoken_url = \"{}\"\n",
        both.display(),
        idp.token_url()
    );
    let endpoint = Endpoint::from_config(&oauth_imap(&server, &microsoft)).unwrap();
    connect::connect(&endpoint)
        .await
        .unwrap_or_else(|e| panic!("microsoft certificate: {e}"))
        .session
        .logout()
        .await
        .unwrap();

    // Google: the service account's JSON key; the mailbox is the subject.
    let json = tmp.path().join("sa.json");
    std::fs::write(
        &json,
        serde_json::json!({
            "type": "service_account",
            "client_email": "sos-intake@project.iam.gserviceaccount.com",
            "private_key_id": "k1",
            "private_key": pem,
            "token_uri": idp.token_url(),
        })
        .to_string(),
    )
    .unwrap();
    let google = format!(
        "mechanism = \"oauthbearer\"\nprovider = \"google\"\nservice_account_file = \"{}\"\n",
        json.display()
    );
    let endpoint = Endpoint::from_config(&oauth_imap(&server, &google)).unwrap();
    connect::connect(&endpoint)
        .await
        .unwrap_or_else(|e| panic!("google service account: {e}"))
        .session
        .logout()
        .await
        .unwrap();
    assert_eq!(idp.token_requests(), 2);

    // A key the endpoint does not know is refused as such.
    let (other, _) = rsa_key(tmp.path(), "other");
    let json2 = tmp.path().join("sa2.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    v["private_key"] = other.into();
    std::fs::write(&json2, v.to_string()).unwrap();
    let endpoint =
        Endpoint::from_config(&oauth_imap(&server, &google.replace("sa.json", "sa2.json")))
            .unwrap();
    let err = match connect::connect(&endpoint).await {
        Ok(_) => panic!("an unknown key must not get a token"),
        Err(e) => e,
    };
    assert!(err.to_string().contains("取り消されています"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_sender_sends_with_xoauth2_through_postfix() {
    use sos_intake::outbox::{self, OutgoingMail, Sender, Transport};
    let idp = TokenServer::start(USER).await;
    let url = idp.introspection_url();
    let mut lab = tokio::task::spawn_blocking(move || MailLab::start_oauth(&url))
        .await
        .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut smtp = lab.smtp_config(Tls::Starttls);
    smtp.password_file = None;
    let oauth = generic(&idp, tmp.path(), "xoauth2");
    smtp.oauth = Some(toml::from_str(&oauth).unwrap());
    let db = sos_intake::queue::Db::connect(&format!("sqlite://{}/q.db", tmp.path().display()))
        .await
        .unwrap();
    let recipient = "sos@fukushi.metro.tokyo.lg.jp";
    let enqueue = |n: usize| {
        let db = db.clone();
        async move {
            let mut tx = db.begin().await.unwrap();
            outbox::enqueue(
                &mut tx,
                &OutgoingMail {
                    kind: outbox::kind::NAIJI.into(),
                    mail_message_id: None,
                    envelope_from: "sos-busshi@mhlw.go.jp".into(),
                    recipient: recipient.into(),
                    subject: format!("内示 {n}"),
                    message_id: format!("oauth-{n}@mhlw.go.jp"),
                    raw: format!("Subject: oauth {n}\r\nMessage-ID: <oauth-{n}@mhlw.go.jp>\r\n\r\nbody {n}\r\n")
                        .into_bytes(),
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
        }
    };
    let sender = Sender::new(db.clone(), Transport::smtp(&smtp).unwrap());
    enqueue(1).await;
    let report = sender.run_once().await.unwrap();
    assert_eq!(
        report.sent,
        1,
        "{report:?}\n{}\n{}",
        lab.postfix_log(),
        lab.dovecot_log()
    );
    // The sender's token is reported to the monitor under its relay.
    let tokens = sos_intake::observe::monitor::global().tokens();
    let token = &tokens[&format!("smtp:{}@{}", smtp.user.as_deref().unwrap(), smtp.host)];
    assert_eq!(token.kind, "smtp");
    assert_eq!(token.failing_step, None, "{token:?}");
    assert!(token.expires_at.is_some_and(|t| t > chrono::Utc::now()));
    // The relay stops accepting the token and the pooled connection is
    // gone (a restart): the token is renewed and the next reply still
    // goes, once.
    assert_eq!(idp.token_requests(), 1, "one token for the first reply");
    // Stop Postfix only once it has delivered and dropped the first reply
    // (stopped mid-delivery it would deliver it again after the restart).
    assert_eq!(
        lab.wait_for_mail(recipient, 1, Duration::from_secs(20))
            .len(),
        1
    );
    lab::wait_until(
        Duration::from_secs(20),
        "the first reply leaves the queue",
        || {
            let log = lab.postfix_log();
            async move { log.contains(": removed") }
        },
    )
    .await;
    idp.expire_all();
    lab.stop_postfix();
    lab.start_postfix();
    enqueue(2).await;
    let report = sender.run_once().await.unwrap();
    assert_eq!(report.sent, 1, "{report:?}\n{}", lab.postfix_log());
    let got = lab.wait_for_mail(recipient, 2, Duration::from_secs(20));
    assert_eq!(got.len(), 2, "{}", lab.postfix_log());
    let all: String = got
        .iter()
        .map(|m| String::from_utf8_lossy(m).to_string())
        .collect();
    assert_eq!(
        all.matches("Subject: oauth 1").count(),
        1,
        "{all}\n{}",
        lab.postfix_log()
    );
    assert_eq!(all.matches("Subject: oauth 2").count(), 1);
    assert!(
        lab.postfix_log().contains("sasl_method=XOAUTH2"),
        "{}",
        lab.postfix_log()
    );
    assert_eq!(idp.token_requests(), 2);

    // The client is revoked (and the pool gone): the next reply waits and
    // the monitor names the failing step for the outbox's readiness.
    lab::wait_until(
        Duration::from_secs(20),
        "the second reply leaves the queue",
        || {
            let log = lab.postfix_log();
            async move { log.matches(": removed").count() >= 2 }
        },
    )
    .await;
    idp.revoke(CLIENT_ID);
    lab.stop_postfix();
    lab.start_postfix();
    enqueue(3).await;
    let report = sender.run_once().await.unwrap();
    assert_eq!(report.sent, 0, "{report:?}");
    let tokens = sos_intake::observe::monitor::global().tokens();
    let token = &tokens[&format!("smtp:{}@{}", smtp.user.as_deref().unwrap(), smtp.host)];
    assert_eq!(
        token.failing_step.as_deref(),
        Some("invalid_client"),
        "{token:?}"
    );
    assert_eq!(token.expires_at, None);
}
