//! The `sos-intake` binary: a thin shell over the library.

fn main() -> std::process::ExitCode {
    limit_malloc_arenas();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("sos-intake: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(sos_intake::cli::run())
}

/// glibc gives each thread that meets a locked heap an arena of its own, up
/// to 8 per core; the gateway's many short blocking tasks (reading sheets,
/// rendering replies) then leave memory spread over a dozen arenas. Two are
/// enough for this workload and keep a drain's peak RSS lower (issue 15,
/// docs/benchmarks-intake.md). Set before any thread starts; an arena
/// limit in the environment (`MALLOC_ARENA_MAX`, or `arena_max` in
/// `GLIBC_TUNABLES`) still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none()
        && !std::env::var("GLIBC_TUNABLES").is_ok_and(|t| t.contains("arena_max"))
    {
        // SAFETY: mallopt only sets an allocator parameter; called before
        // any other thread exists.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
