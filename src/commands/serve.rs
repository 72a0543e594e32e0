//! `sos-intake serve`: the long-running gateway. It runs a list of tasks
//! that share one [`Shutdown`] signal: the mail worker (the Maildir under
//! `<data_dir>/inbox`, or IMAP when configured), the outbox sender, and the
//! web UI. Ctrl-C or SIGTERM triggers the signal; each task finishes the
//! message or delivery it is on and stops.
//!
//! To add a task, push a named future onto `tasks` in [`run`].

use crate::config::Settings;
use crate::mailbox::maildir::{Maildir, MaildirSource};
use crate::outbox::{Sender, Transport};
use crate::pipeline::{Intake, Shutdown};
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
}

/// One named task of `serve`.
type Task = (&'static str, BoxFuture<'static, anyhow::Result<()>>);

/// Runs the command.
pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    init_logging();
    let db = Db::connect(&settings.database_url).await?;
    let intake = Intake::new(db.clone(), settings)?;
    let sender = Sender::new(db.clone(), Transport::from_settings(settings)?);
    let inbox = Maildir::open(&settings.data_dir.join("inbox"))?;
    let poll = Duration::from_millis(settings.config.mail.poll_interval_ms.max(10));
    let source = MaildirSource::new(inbox.clone(), intake.clone(), poll);

    if args.once {
        let drained = source.drain(&Shutdown::never()).await?;
        tracing::info!(
            processed = drained.processed,
            failed = drained.failed,
            "inbox drained once"
        );
        if !args.no_send {
            sender.deliver_due().await?;
        }
        db.close().await;
        return Ok(ExitCode::SUCCESS);
    }

    let (trigger, shutdown) = Shutdown::new();
    let mut tasks: Vec<Task> = Vec::new();
    if let Some(imap) = &settings.config.imap {
        // `[imap]` replaces the Maildir as the source (issue 5).
        let task =
            crate::mailbox::imap::serve_task(imap, db.clone(), intake.clone(), shutdown.clone())?;
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

    if settings.config.web.enabled {
        // The staff review desk (issue 6) on `[web] listen`.
        let mut shutdown = shutdown.clone();
        let (settings, db) = (settings.clone(), db.clone());
        tasks.push((
            "web UI",
            Box::pin(async move {
                crate::web::serve(settings, db, async move { shutdown.triggered().await }).await
            }),
        ));
    }
    let handles: Vec<_> = tasks
        .into_iter()
        .map(|(name, task)| (name, tokio::spawn(task)))
        .collect();
    wait_for_signal().await;
    tracing::info!("stopping: finishing the current message");
    trigger.trigger();
    let mut code = ExitCode::SUCCESS;
    for (name, handle) in handles {
        match handle.await {
            Ok(Ok(())) => tracing::info!("{name} stopped"),
            Ok(Err(e)) => {
                tracing::error!("{name} failed: {e:#}");
                code = ExitCode::FAILURE;
            }
            Err(e) => {
                tracing::error!("{name} panicked: {e}");
                code = ExitCode::FAILURE;
            }
        }
    }
    db.close().await;
    Ok(code)
}

/// Logs to standard error, `info` and up unless `RUST_LOG` says otherwise
/// (a no-op when logging is already set up).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Waits for Ctrl-C (SIGINT) or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
