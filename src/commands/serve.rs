//! `sos-intake serve`: the long-running gateway. It runs a list of tasks
//! that share one [`Shutdown`] signal: the mail worker (the Maildir under
//! `<data_dir>/inbox`, or IMAP when configured), the outbox sender, and the
//! web UI. Ctrl-C or SIGTERM triggers the signal; each task finishes the
//! message or delivery it is on and stops.
//!
//! To add a task, push a named future onto the list built by `tasks`.

use crate::config::Settings;
use crate::mailbox::maildir::{Maildir, MaildirSource};
use crate::outbox::{Sender, Transport};
use crate::pipeline::{Intake, Shutdown, ShutdownTrigger};
use crate::queue::Db;
use futures::future::BoxFuture;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `sos-intake serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Do not send replies (they stay queued in the outbox).
    #[arg(long)]
    pub no_send: bool,
    /// Process what is waiting, deliver what is due, then exit.
    #[arg(long)]
    pub once: bool,
    /// Do not serve the web UI (also `[web] enabled = false`).
    #[arg(long)]
    pub no_web: bool,
}

/// One named task of `serve`.
type Task = (&'static str, BoxFuture<'static, anyhow::Result<()>>);

/// How a spawned task ended, with its name.
type Ended = (
    &'static str,
    Result<anyhow::Result<()>, tokio::task::JoinError>,
);

/// Runs the command: with `--once`, one pass of each task; otherwise the
/// tasks of `tasks` until a signal or until one of them ends on its own.
pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    warn_if_sender_auth_off(&settings.config.mail);
    let stop = stop_signal();
    let db = Db::connect(&settings.database_url).await?;
    let intake = Intake::new(db.clone(), settings)?;
    let sender = Sender::new(db.clone(), Transport::from_settings(settings)?);
    let inbox = Maildir::open(&settings.data_dir.join("inbox"))?;
    let poll = Duration::from_millis(settings.config.mail.poll_interval_ms.max(10));
    let source = MaildirSource::new(inbox.clone(), intake.clone(), poll);

    if args.once {
        run_once(settings, &args, &db, intake, &sender, &source).await?;
        db.close().await;
        return Ok(ExitCode::SUCCESS);
    }

    let (trigger, shutdown) = Shutdown::new();
    let parts = Parts {
        db: db.clone(),
        intake,
        sender,
        source,
        inbox,
    };
    let tasks = tasks(settings, &args, parts, &shutdown)?;
    let code = run_tasks(tasks, stop, trigger).await;
    db.close().await;
    Ok(code)
}

/// `--once`: catch up on the mailbox, deliver what is due, and return.
async fn run_once(
    settings: &Settings,
    args: &Args,
    db: &Db,
    intake: Intake,
    sender: &Sender,
    source: &MaildirSource,
) -> anyhow::Result<()> {
    if let Some(imap) = &settings.config.imap {
        // `[imap]`: catch up on the IMAP mailbox once (issue 5).
        let handled =
            crate::mailbox::imap::catch_up_once(imap, settings, db.clone(), intake).await?;
        tracing::info!(handled, "IMAP mailbox caught up once");
    } else {
        let drained = source.drain(&Shutdown::never()).await?;
        tracing::info!(
            processed = drained.processed,
            failed = drained.failed,
            "inbox drained once"
        );
    }
    if !args.no_send {
        sender.deliver_due().await?;
    }
    Ok(())
}

/// What the tasks are built from.
struct Parts {
    db: Db,
    intake: Intake,
    sender: Sender,
    source: MaildirSource,
    inbox: Maildir,
}

/// The named tasks `serve` runs, each stopping on `shutdown`. To add a
/// task, push a named future here.
fn tasks(
    settings: &Settings,
    args: &Args,
    parts: Parts,
    shutdown: &Shutdown,
) -> anyhow::Result<Vec<Task>> {
    let Parts {
        db,
        intake,
        sender,
        source,
        inbox,
    } = parts;
    let mut tasks: Vec<Task> = Vec::new();
    if let Some(imap) = &settings.config.imap {
        // `[imap]` replaces the Maildir as the source (issue 5).
        let task = crate::mailbox::imap::serve_task(
            imap,
            settings,
            db.clone(),
            intake.clone(),
            shutdown.clone(),
        )?;
        tasks.push(("IMAP watcher", task));
    } else {
        let shutdown = shutdown.clone();
        tracing::info!("watching the Maildir {}", inbox.root().display());
        tasks.push((
            "mail worker",
            Box::pin(async move { source.run(shutdown).await }),
        ));
    }
    if !args.no_send {
        let shutdown = shutdown.clone();
        tasks.push((
            "outbox sender",
            Box::pin(async move { sender.run(shutdown).await }),
        ));
    }

    if settings.config.web.enabled && !args.no_web {
        // The staff review desk (issue 6) on `[web] listen`.
        let mut shutdown = shutdown.clone();
        let web = crate::web::serve(settings.clone(), db.clone(), async move {
            shutdown.triggered().await
        });
        tasks.push(("web UI", Box::pin(web)));
    }
    Ok(tasks)
}

/// Spawns the tasks and runs them until `stop`, or until one ends on its
/// own (it failed, e.g. the web port is taken): then it stops the others
/// too and waits for each. The exit status is non-zero when a task failed
/// or ended early.
async fn run_tasks(
    tasks: Vec<Task>,
    stop: impl Future<Output = ()>,
    trigger: ShutdownTrigger,
) -> ExitCode {
    let running: Vec<BoxFuture<'static, Ended>> = tasks
        .into_iter()
        .map(|(name, task)| {
            let handle = tokio::spawn(task);
            Box::pin(async move { (name, handle.await) }) as BoxFuture<'static, Ended>
        })
        .collect();
    let mut code = ExitCode::SUCCESS;
    let mut all = futures::future::select_all(running);
    let early = tokio::select! {
        _ = stop => None,
        (ended, _, rest) = &mut all => Some((ended, rest)),
    };
    let rest = match early {
        None => {
            tracing::info!("stopping: finishing the current message");
            all.into_inner()
        }
        Some(((name, result), rest)) => {
            report(name, result, &mut code);
            tracing::error!("{name} ended on its own; stopping the others");
            code = ExitCode::FAILURE;
            rest
        }
    };
    trigger.trigger();
    for task in rest {
        let (name, result) = task.await;
        report(name, result, &mut code);
    }
    code
}

/// With `[mail] sender_auth = "off"` anyone who writes a registered
/// prefecture's From is trusted: say so loudly at every start.
fn warn_if_sender_auth_off(mail: &crate::config::MailConfig) {
    if mail.sender_auth_mode() == crate::config::SenderAuth::Off {
        tracing::warn!(
            "[mail] sender_auth is off: the [prefectures] directory alone decides who is trusted, so a forged From of a registered address is filed and answered; set [mail] authserv_id to the authserv-id of our MTA's Authentication-Results"
        );
    }
}

/// Logs how a task ended; a failure makes the exit status non-zero.
fn report(
    name: &str,
    result: Result<anyhow::Result<()>, tokio::task::JoinError>,
    code: &mut ExitCode,
) {
    match result {
        Ok(Ok(())) => tracing::info!("{name} stopped"),
        Ok(Err(e)) => {
            tracing::error!("{name} failed: {e:#}");
            *code = ExitCode::FAILURE;
        }
        Err(e) => {
            tracing::error!("{name} panicked: {e}");
            *code = ExitCode::FAILURE;
        }
    }
}

/// Logs to standard error, `info` and up unless `RUST_LOG` says otherwise,
/// as text or JSON (`--log-format`, see [`crate::observe::logging`]); a no-op
/// when logging is already set up.
pub fn init_logging() {
    crate::observe::logging::init();
}

/// Listens for Ctrl-C (SIGINT) or SIGTERM from the moment it is called (the
/// handlers are registered here, not when the future is first polled), so a
/// stop that arrives while `serve` is still starting (a slow database) is as
/// graceful as one that arrives later.
fn stop_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut term), Ok(mut int)) => {
                    tokio::select! {
                        _ = term.recv() => {}
                        _ = int.recv() => {}
                    }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
