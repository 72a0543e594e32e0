//! Helpers shared by the integration tests: fresh databases, real mail
//! servers on loopback, headless Chromium. Each test binary uses a part.
#![allow(dead_code)]

/// Fresh queue databases (SQLite, PostgreSQL) and `both_backends!`.
pub mod db;

/// The web UI on a free port, an HTTP client, headless Chromium.
pub mod browser;

/// Dovecot (IMAP, LMTP, auth) and Postfix (SMTP) on loopback.
pub mod maillab;

/// A loopback OAuth 2.0 token and introspection endpoint (issue 17).
pub mod oauth_server;

/// A child process (`serve`) killed when dropped.
pub mod process {
    use std::process::Child;

    /// A running `serve`, killed when dropped, so a failed assertion never
    /// leaves a gateway running after the test.
    pub struct Serving(pub Child);

    impl std::ops::Deref for Serving {
        type Target = Child;
        fn deref(&self) -> &Child {
            &self.0
        }
    }

    impl std::ops::DerefMut for Serving {
        fn deref_mut(&mut self) -> &mut Child {
            &mut self.0
        }
    }

    impl Drop for Serving {
        fn drop(&mut self) {
            if matches!(self.0.try_wait(), Ok(None)) {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
}

/// Workbooks changed the way a hostile or careless writer would.
pub mod sheets {
    use std::io::{Read, Write};

    /// `samples/sheets/valid.xlsx`.
    pub fn valid() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/samples/sheets/valid.xlsx"
        ))
        .expect("valid.xlsx")
    }

    /// `valid.xlsx` with `inserted` written (as XML) right after `needle`
    /// in its shared strings, e.g. `_x0000_` for an escaped NUL.
    pub fn valid_with(needle: &str, inserted: &str) -> Vec<u8> {
        let mut zin = zip::ZipArchive::new(std::io::Cursor::new(valid())).expect("zip");
        let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for i in 0..zin.len() {
            let mut f = zin.by_index(i).expect("entry");
            let name = f.name().expect("name").to_string();
            let mut data = Vec::new();
            f.read_to_end(&mut data).expect("inflate");
            if name == "xl/sharedStrings.xml" {
                let text = String::from_utf8(data).expect("UTF-8");
                assert!(text.contains(needle), "{needle} in the shared strings");
                data = text
                    .replace(needle, &format!("{needle}{inserted}"))
                    .into_bytes();
            }
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            out.start_file(name, opts).expect("entry");
            out.write_all(&data).expect("write");
        }
        out.finish().expect("zip").into_inner()
    }
}
