//! The `sos-intake` binary: a thin shell over the library.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    sos_intake::cli::run().await
}
