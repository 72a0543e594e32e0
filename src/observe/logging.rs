//! Log output: human-readable text (default) or one JSON object a line
//! (`--log-format json`) for a log collector. Levels come from `RUST_LOG`
//! (default `info,sqlx=warn`).
//!
//! Every line written while a message is processed carries the message's
//! id: `Intake::process` runs inside a `message` span holding the
//! Message-ID (or the SHA-256 of the bytes when there is none), and both
//! formats print the current span's fields on each line (JSON: `"span"`
//! and `"spans"`).

use std::sync::OnceLock;

/// The two log formats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Text lines for people.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Chooses the format for [`init`] (the command line does, once).
pub fn set_format(format: LogFormat) {
    let _ = FORMAT.set(format);
}

/// Logs to standard error in the chosen format (a no-op when logging is
/// already set up).
pub fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match FORMAT.get().copied().unwrap_or_default() {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
    };
}

/// The span a message is processed in: its Message-ID, or for a message
/// without one `sha256:<hex of its bytes>` (hashed only then: large
/// messages are not hashed twice).
pub fn message_span(message_id: &str, raw: &[u8]) -> tracing::Span {
    if message_id.is_empty() {
        use sha2::Digest;
        let sha = hex::encode(sha2::Sha256::digest(raw));
        tracing::info_span!("message", message_id = %format!("sha256:{sha}"))
    } else {
        tracing::info_span!("message", message_id = %message_id)
    }
}
