//! `sos-intake status`: is the gateway ready? It asks the running
//! gateway's own `/readyz` on the `[web] listen` address (the only process
//! that knows whether its mailbox connection is alive) and prints the
//! answer, in Japanese or as `--json`. When the gateway does not answer,
//! it checks the database itself and says so. Exit status 0 when ready,
//! 1 when not.

use crate::config::Settings;
use crate::messages::ops as msg;
use crate::ops::readiness::{self, Readiness};
use crate::queue::Db;
use anyhow::Context;
use http_body_util::{BodyExt, Empty, Limited};
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `sos-intake status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON (the body of `/readyz`, plus `gateway`).
    #[arg(long)]
    pub json: bool,
}

/// The largest `/readyz` body read.
const MAX_BODY: usize = 1024 * 1024;

/// Runs the command.
pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let url = readyz_url(&settings.config.web.listen);
    let (gateway, report) = match fetch(settings, &url).await {
        Ok(report) => ("answering".to_string(), report),
        Err(e) => {
            let db = Db::connect(&settings.database_url).await?;
            let report = readiness::check(&db, settings).await;
            db.close().await;
            (format!("not answering: {e:#}"), report)
        }
    };
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["gateway"] = serde_json::Value::String(gateway);
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        print_human(&url, &gateway, &report);
    }
    Ok(if report.ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_human(url: &str, gateway: &str, report: &Readiness) {
    if let Some(why) = gateway.strip_prefix("not answering: ") {
        println!("{}", msg::gateway_not_answering(url, why));
    }
    println!("{}", msg::status_heading(report.ready));
    for check in &report.checks {
        println!(
            "{}",
            msg::check_line(&msg::check_label(&check.name), check.ok, &check.detail)
        );
    }
    for (connection, token) in &report.tokens {
        if let Some(step) = &token.failing_step {
            println!("{}", msg::token_failing(connection, step));
        }
    }
    if let Some(q) = &report.queue {
        println!(
            "{}",
            msg::counts(
                q.outbox_queued,
                q.outbox_failed,
                q.quarantined,
                q.dead_letters
            )
        );
    }
}

/// `http://<listen>/readyz`, with a wildcard listen address (`0.0.0.0`,
/// `[::]`) asked on loopback.
pub fn readyz_url(listen: &str) -> String {
    let listen = listen.trim();
    let host_port = if let Some(port) = listen.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = listen.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        listen.to_string()
    };
    format!("http://{host_port}/readyz")
}

/// GETs `/readyz` (200 or 503 both carry the report).
async fn fetch(settings: &Settings, url: &str) -> anyhow::Result<Readiness> {
    let uri: hyper::Uri = url.parse().context("invalid [web] listen address")?;
    let authority = uri.authority().context("no host in [web] listen")?.clone();
    let token = settings.config.health.token()?;
    let work = async {
        let stream = tokio::net::TcpStream::connect(authority.as_str()).await?;
        let io = hyper_util::rt::TokioIo::new(stream);
        let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await?;
        tokio::spawn(conn);
        let mut request =
            hyper::Request::get(uri.path()).header(hyper::header::HOST, authority.as_str());
        if let Some(token) = token {
            request = request.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = sender
            .send_request(request.body(Empty::<hyper::body::Bytes>::new())?)
            .await?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .to_bytes();
        anyhow::ensure!(status == 200 || status == 503, "/readyz answered {status}");
        Ok::<Readiness, anyhow::Error>(serde_json::from_slice(&body)?)
    };
    tokio::time::timeout(Duration::from_secs(10), work)
        .await
        .context("no answer within 10 s")?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_listen_is_asked_on_loopback() {
        for (input, want) in [
            ("127.0.0.1:8080", "http://127.0.0.1:8080/readyz"),
            ("0.0.0.0:9000", "http://127.0.0.1:9000/readyz"),
            ("[::]:9000", "http://[::1]:9000/readyz"),
        ] {
            assert_eq!(readyz_url(input), want, "{input:?}");
        }
    }
}
