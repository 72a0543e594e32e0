//! `sos-intake config check`: the unsafe settings a production gateway
//! should not run with, as typed warnings (the wording is in
//! `messages::ops`).

use crate::config::{SenderAuth, Settings, Tls};

/// The password `scripts/demo.sh` gives its `demo` account.
pub const DEMO_PASSWORD: &str = "sos-demo-password";

/// One unsafe setting.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Warning {
    /// `[mail] sender_auth` is off: a forged From of a registered address
    /// is trusted.
    SenderAuthOff,
    /// The UI listens off loopback without `[web] secure_cookies`: staff
    /// reach it over plain HTTP unless a TLS proxy is in front.
    WebPlainHttpOffLoopback(String),
    /// A staff account still has the demo password.
    DemoPassword(String),
    /// `[smtp] tls = "none"`: replies and the relay password in clear.
    SmtpWithoutTls,
    /// No `[smtp]`: replies are only written as files.
    NoSmtp,
    /// `[imap] tls = "none"`: mail and the password in clear.
    ImapWithoutTls,
    /// The `[health]` token is configured but cannot be read: every
    /// monitor off loopback gets 403.
    HealthTokenUnreadable(String),
}

/// The warnings that follow from the configuration alone.
pub fn config_warnings(settings: &Settings) -> Vec<Warning> {
    let c = &settings.config;
    let mut out = Vec::new();
    if c.mail.sender_auth_mode() == SenderAuth::Off {
        out.push(Warning::SenderAuthOff);
    }
    if !crate::config::is_loopback_listen(&c.web.listen) && !c.web.secure_cookies {
        out.push(Warning::WebPlainHttpOffLoopback(c.web.listen.clone()));
    }
    match &c.smtp {
        None => out.push(Warning::NoSmtp),
        Some(s) if s.tls == Tls::None => out.push(Warning::SmtpWithoutTls),
        Some(_) => {}
    }
    if c.imap.as_ref().is_some_and(|i| i.tls == Tls::None) {
        out.push(Warning::ImapWithoutTls);
    }
    if let Err(e) = c.health.token() {
        out.push(Warning::HealthTokenUnreadable(format!("{e:#}")));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn warnings(text: &str) -> Vec<Warning> {
        config_warnings(&Settings::resolve(Config::parse(text).unwrap(), None))
    }

    #[test]
    fn defaults_warn_about_sender_auth_and_smtp() {
        assert_eq!(warnings(""), vec![Warning::SenderAuthOff, Warning::NoSmtp]);
    }

    #[test]
    fn a_safe_configuration_has_no_warning() {
        let w = warnings(
            "[mail]\nauthserv_id = \"mx.mhlw.go.jp\"\n[smtp]\nhost = \"relay\"\ntls = \"starttls\"\n[web]\nlisten = \"0.0.0.0:8080\"\nsecure_cookies = true\n",
        );
        assert!(w.is_empty(), "{w:?}");
    }

    #[test]
    fn plain_connections_and_open_ui_are_named() {
        let w = warnings(
            "[smtp]\nhost = \"relay\"\ntls = \"none\"\n[imap]\nhost = \"imap\"\ntls = \"none\"\nuser = \"u\"\n[web]\nlisten = \"0.0.0.0:8080\"\n",
        );
        assert!(w.contains(&Warning::SmtpWithoutTls));
        assert!(w.contains(&Warning::ImapWithoutTls));
        assert!(w.contains(&Warning::WebPlainHttpOffLoopback("0.0.0.0:8080".into())));
    }
}
