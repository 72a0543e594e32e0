//! The identity of the host the service runs on.
//!
//! Workers name themselves after the host (outbox claims, IMAP leases) so
//! that an operator can tell which machine holds what, and so that a worker
//! can recognise its own claims after a restart.

/// The host's name: `/etc/hostname`, else `$HOSTNAME`, else `localhost`.
///
/// Read from the file rather than a system call so that no extra dependency
/// or `unsafe` is needed; containers and systemd hosts both have the file.
pub fn name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| {
            std::env::var("HOSTNAME")
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        })
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_host_has_a_name() {
        let name = super::name();
        assert!(!name.is_empty());
        assert_eq!(name, name.trim());
    }
}
