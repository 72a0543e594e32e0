//! New mail announced in the response to the watcher's last `UID SEARCH`
//! (before it starts IDLE) is fetched at once, not after the 5-minute
//! `idle_silence` check (the fix of 96f0c4f).
//!
//! Dovecot syncs the mailbox at the end of each command, so a mail that
//! arrives while the catch-up's final search runs can come back as
//! `* N EXISTS` inside that search's response, and the server does not
//! repeat it at IDLE. The real Dovecot of the mail lab cannot be made to do
//! that deterministically (the mail would have to land during the search),
//! so this test talks to a tiny scripted IMAP server on loopback instead:
//! its first `UID SEARCH` answers "nothing" followed by `* 1 EXISTS`; the
//! second finds UID 1; the third (after UID 1 is handled) finds UID 1 again
//! and announces `* 2 EXISTS` (a burst: a second mail during the extra
//! round); every later one finds UIDs 1 and 2.
//!
//! The other way round, a server that says `* 1 EXISTS` with every search
//! (servers may send EXISTS at any time) gets one extra search, not an
//! endless loop of them: the watcher still goes to IDLE.

mod common;
#[path = "imap_lab/mod.rs"]
mod lab;

use common::db::TestDb;
use lab::{Running, fast_options, messages, plain_mail};
use sos_intake::mailbox::imap::{Phase, utf7};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// The commands the scripted server received (without tags), in order.
type Log = Arc<Mutex<Vec<String>>>;

/// How the scripted server answers `UID SEARCH`.
#[derive(Clone, Copy, PartialEq)]
enum Script {
    /// Mail announced in search responses, twice (see the header).
    Race,
    /// Every one finds nothing and announces `* 1 EXISTS`.
    Chatty,
}

/// Serves connections on `listener` one script each, logging commands.
async fn scripted_server(listener: TcpListener, log: Log, mail: [Vec<u8>; 2], script: Script) {
    while let Ok((stream, _)) = listener.accept().await {
        tokio::spawn(serve(stream, log.clone(), mail.clone(), script));
    }
}

/// One connection: the script described in the header.
async fn serve(
    stream: TcpStream,
    log: Log,
    mail: [Vec<u8>; 2],
    script: Script,
) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read).lines();
    write
        .write_all(b"* OK [CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS] scripted server ready\r\n")
        .await?;
    while let Some(line) = lines.next_line().await? {
        let (tag, command) = line.split_once(' ').unwrap_or((&line, ""));
        let verb = command.to_ascii_uppercase();
        let searches = {
            let mut log = log.lock().unwrap();
            log.push(command.to_string());
            log.iter().filter(|c| c.starts_with("UID SEARCH")).count()
        };
        let reply = if verb.starts_with("CAPABILITY") {
            format!("* CAPABILITY IMAP4rev1 IDLE MOVE UIDPLUS\r\n{tag} OK done\r\n")
        } else if verb.starts_with("LOGIN") {
            format!("{tag} OK logged in\r\n")
        } else if verb.starts_with("LIST") {
            // Only the inbox: the watcher creates its three folders.
            format!("* LIST (\\HasNoChildren) \"/\" INBOX\r\n{tag} OK done\r\n")
        } else if verb.starts_with("CREATE") {
            format!("{tag} OK created\r\n")
        } else if verb.starts_with("SELECT") {
            format!(
                "* FLAGS (\\Seen \\Deleted)\r\n* 0 EXISTS\r\n* 0 RECENT\r\n\
                 * OK [UIDVALIDITY 1700000000] UIDs valid\r\n* OK [UIDNEXT 1] next\r\n\
                 {tag} OK [READ-WRITE] selected\r\n"
            )
        } else if verb.starts_with("UID SEARCH") && (searches == 1 || script == Script::Chatty) {
            // The race: nothing found, but the mail arrived meanwhile and
            // the server says so at the end of this very command.
            format!("* SEARCH\r\n* 1 EXISTS\r\n{tag} OK search done\r\n")
        } else if verb.starts_with("UID SEARCH") && searches == 2 {
            format!("* SEARCH 1\r\n{tag} OK search done\r\n")
        } else if verb.starts_with("UID SEARCH") && searches == 3 {
            // A second mail arrives during the extra round.
            format!("* SEARCH 1\r\n* 2 EXISTS\r\n{tag} OK search done\r\n")
        } else if verb.starts_with("UID SEARCH") {
            format!("* SEARCH 1 2\r\n{tag} OK search done\r\n")
        } else if let Some(uid @ (1 | 2)) = verb
            .strip_prefix("UID FETCH ")
            .and_then(|rest| rest.split(' ').next())
            .and_then(|uid| uid.parse::<usize>().ok())
        {
            let mail = &mail[uid - 1];
            // `fetch_one` asks (UID INTERNALDATE BODY.PEEK[]<0.limit>).
            write
                .write_all(
                    format!(
                        "* {uid} FETCH (UID {uid} INTERNALDATE \"20-Nov-2026 09:00:05 +0900\" BODY[]<0> {{{}}}\r\n",
                        mail.len()
                    )
                    .as_bytes(),
                )
                .await?;
            write.write_all(mail).await?;
            format!(")\r\n{tag} OK fetched\r\n")
        } else if verb.starts_with("UID MOVE") {
            format!("{tag} OK moved\r\n")
        } else if verb.starts_with("IDLE") {
            write.write_all(b"+ idling\r\n").await?;
            // Nothing new while idling (that is the point): wait for DONE.
            match lines.next_line().await? {
                Some(done) if done.eq_ignore_ascii_case("DONE") => {}
                _ => return Ok(()),
            }
            format!("{tag} OK idle done\r\n")
        } else if verb.starts_with("LOGOUT") {
            write
                .write_all(format!("* BYE bye\r\n{tag} OK logged out\r\n").as_bytes())
                .await?;
            return Ok(());
        } else if verb.starts_with("NOOP") {
            format!("{tag} OK noop\r\n")
        } else {
            format!("{tag} BAD not in the script\r\n")
        };
        write.write_all(reply.as_bytes()).await?;
    }
    Ok(())
}

/// The scripted server on a free port, and an `[imap]` for it.
async fn start(script: Script, t: &TestDb) -> (Log, sos_intake::config::ImapConfig) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("address").port();
    let log = Log::default();
    tokio::spawn(scripted_server(
        listener,
        log.clone(),
        [plain_mail(1), plain_mail(2)],
        script,
    ));
    let password_file = t.dir.path().join("imap-password");
    std::fs::write(&password_file, "secret\n").expect("password file");
    let config = toml::from_str(&format!(
        "host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nuser = \"sos\"\n\
         password_file = \"{}\"\n",
        password_file.display()
    ))
    .expect("[imap]");
    (log, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_mail_announced_in_the_last_search_is_fetched_before_idle() {
    let t = TestDb::sqlite().await;
    let (log, config) = start(Script::Race, &t).await;
    let options = fast_options();
    // The default: without the fix the mail waits this long.
    assert_eq!(options.idle_silence, Duration::from_secs(5 * 60));

    let started = Instant::now();
    let running = Running::start_with(&config, &t, options);
    running.wait_handled(2, Duration::from_secs(15)).await;
    eprintln!("handled after {:?}", started.elapsed());
    assert_eq!(messages(&t).await, 2, "each mail is filed once");
    // Then it idles (and stops from IDLE with DONE, LOGOUT).
    running
        .wait_phase(Phase::Idle, Duration::from_secs(15))
        .await;
    running.stop().await;

    let log = log.lock().unwrap().clone();
    let count = |prefix: &str| log.iter().filter(|c| c.starts_with(prefix)).count();
    assert_eq!(count("LOGIN"), 1, "one session, no reconnect: {log:#?}");
    assert_eq!(count("UID FETCH 1 "), 1, "fetched once: {log:#?}");
    assert_eq!(count("UID FETCH 2 "), 1, "fetched once: {log:#?}");
    let fetched_at = log.iter().rposition(|c| c.starts_with("UID FETCH"));
    let idle_at = log.iter().position(|c| c == "IDLE");
    assert!(
        fetched_at < idle_at,
        "searched again and fetched both before the first IDLE: {log:#?}"
    );
    for uid in [1, 2] {
        let error_folder = format!("UID MOVE {uid} \"{}\"", utf7::encode("エラー"));
        assert_eq!(
            count(&error_folder),
            1,
            "no-sheet mail moved to the error folder once: {log:#?}"
        );
    }
    assert_eq!(count("CREATE"), 3, "the three folders made: {log:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_announcing_exists_with_every_search_gets_one_extra_search() {
    let t = TestDb::sqlite().await;
    let (log, config) = start(Script::Chatty, &t).await;
    let running = Running::start_with(&config, &t, fast_options());
    running
        .wait_phase(Phase::Idle, Duration::from_secs(15))
        .await;
    // Give an endless loop of searches time to show.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let status = running.status();
    running.stop().await;

    let log = log.lock().unwrap().clone();
    let searches = log.iter().filter(|c| c.starts_with("UID SEARCH")).count();
    assert_eq!(searches, 2, "the search and one more, then IDLE: {log:#?}");
    assert_eq!(status.handled, 0);
    assert_eq!(messages(&t).await, 0);
}
