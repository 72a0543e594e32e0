//! Who sent a mail and whether we may answer it.
//!
//! - [`PrefectureDirectory`]: the `[prefectures]` table of the configuration
//!   (`"東京都" = ["sos@metro.tokyo.lg.jp", "@fukushi.metro.tokyo.lg.jp"]`).
//!   Matching is case-insensitive. An `@domain` entry matches addresses at
//!   exactly that domain, **not its subdomains**: a prefecture lists every
//!   domain it sends from, so a forgotten subdomain is quarantined (and
//!   visible to staff) rather than trusted by accident.
//! - [`AuthenticationResults`]: our own server's verdicts. Only
//!   `Authentication-Results` headers whose authserv-id equals
//!   `mail.authserv_id` count, and of those only the ones our server can
//!   have written: those above every `Received` line. Our MTA prepends its
//!   `Received` line to whatever the sender wrote, so a header the sender
//!   forged always sits below it and is ignored. A message without any
//!   `Received` line never came through our MTA and is authenticated by
//!   nothing. When our own delivery adds `Received` lines above the MTA's
//!   verdict (an LDA or LMTP hop), `mail.own_received_hops` says how many
//!   to look past (default 0). For several trusted headers per message, have
//!   the MTA strip incoming ones with our authserv-id (RFC 8601 section 5).
//! - [`auto_generated`]: mail we must never answer (no backscatter, no
//!   mail loops).
//! - [`classify`]: the three together → [`Classification`] with an
//!   [`AnswerPolicy`]. With `mail.sender_auth = "required"` (the default
//!   when `authserv_id` is set) a registered sender is trusted only when
//!   our server vouches for its From domain: DMARC pass for it, or SPF or
//!   DKIM pass aligned with it (and no DMARC verdict against it). Otherwise
//!   it is [`SenderClass::UnauthenticatedPrefecture`]: quarantined, not
//!   answered, until an admin releases it ([`Classification::vouched_by_staff`]).
//!   The per-sender reply rate limit needs the database and is applied by
//!   the pipeline on top of [`AnswerPolicy::Answer`].

use crate::config::{Config, MailConfig, SenderAuth};
use crate::message::{AttachmentKind, ParsedMessage, ReturnPath, domain_of};
use crate::prefecture::Prefecture;
use anyhow::bail;
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;

/// The header set on every reply we send; mail carrying it is our own and is
/// never answered (mail loops between two gateways).
pub const OWN_REPLY_HEADER: &str = "X-SOS-Gateway";

/// The prefecture directory: registered addresses and domains.
#[derive(Clone, Debug, Default)]
pub struct PrefectureDirectory {
    addresses: HashMap<String, Prefecture>,
    domains: HashMap<String, Prefecture>,
}

impl PrefectureDirectory {
    /// Builds the directory from `[prefectures]`. Fails on an unknown
    /// prefecture name, an entry that is neither `user@domain` nor
    /// `@domain`, or one entry listed for two prefectures.
    pub fn from_config(config: &Config) -> anyhow::Result<PrefectureDirectory> {
        let mut dir = PrefectureDirectory::default();
        for (name, entries) in &config.prefectures {
            let Some(prefecture) = Prefecture::parse(name) else {
                bail!("[prefectures]: unknown prefecture {name:?}");
            };
            for entry in entries {
                let entry = entry.trim().to_lowercase();
                let (map, key) = match entry.strip_prefix('@') {
                    Some(domain) if valid_domain(domain) => (&mut dir.domains, domain.to_string()),
                    None if entry
                        .rsplit_once('@')
                        .is_some_and(|(l, d)| !l.is_empty() && valid_domain(d)) =>
                    {
                        (&mut dir.addresses, entry.clone())
                    }
                    _ => bail!(
                        "[prefectures] {name}: {entry:?} is neither an address nor an @domain"
                    ),
                };
                if let Some(other) = map.insert(key, prefecture)
                    && other != prefecture
                {
                    bail!("[prefectures]: {entry:?} is listed for both {other} and {prefecture}");
                }
            }
        }
        Ok(dir)
    }

    /// The prefecture `address` belongs to: its exact address, else its
    /// exact domain (case-insensitive; subdomains do not match).
    pub fn prefecture_of(&self, address: &str) -> Option<Prefecture> {
        let address = address
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .to_lowercase();
        if let Some(p) = self.addresses.get(&address) {
            return Some(*p);
        }
        let (_, domain) = address.rsplit_once('@')?;
        self.domains.get(domain).copied()
    }

    /// This directory with the senders an admin authorised in the web UI
    /// added (an address configured in `[prefectures]` keeps its
    /// prefecture).
    pub fn with_authorised(&self, authorised: &[(String, Prefecture)]) -> PrefectureDirectory {
        let mut dir = self.clone();
        for (address, prefecture) in authorised {
            dir.addresses
                .entry(address.trim().to_lowercase())
                .or_insert(*prefecture);
        }
        dir
    }

    /// True when no prefecture is configured.
    pub fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.domains.is_empty()
    }
}

fn valid_domain(d: &str) -> bool {
    !d.is_empty()
        && d.contains('.')
        && d.split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_alphanumeric() || c == '-'))
}

/// One method's verdict from an Authentication-Results header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AuthResult {
    /// `spf`, `dkim`, `dmarc`, ... (lower-case, version dropped).
    pub method: String,
    /// `pass`, `fail`, `softfail`, `none`, ... (lower-case).
    pub result: String,
    /// The properties, `ptype.property` → value (`smtp.mailfrom`,
    /// `header.d`, `header.i`, `header.from`), names lower-cased.
    pub properties: Vec<(String, String)>,
}

impl AuthResult {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The verdicts of our own server, from the trusted headers (see module
/// docs).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AuthenticationResults {
    /// Every method result of the trusted headers.
    pub results: Vec<AuthResult>,
}

impl AuthenticationResults {
    /// Reads the trusted headers of `parsed` for `authserv_id` (None: trust
    /// none): those above every `Received` line but the first
    /// `own_received_hops` (see the module docs). A message with no
    /// `Received` line beyond those hops has no trusted header.
    pub fn of(
        parsed: &ParsedMessage,
        authserv_id: Option<&str>,
        own_received_hops: usize,
    ) -> AuthenticationResults {
        let Some(ours) = authserv_id.map(str::trim).filter(|s| !s.is_empty()) else {
            return AuthenticationResults::default();
        };
        // The first Received line our delivery did not write: our MTA's.
        let Some(mta_received) = parsed
            .headers
            .iter()
            .enumerate()
            .filter(|(_, h)| h.name.eq_ignore_ascii_case("Received"))
            .nth(own_received_hops)
            .map(|(i, _)| i)
        else {
            return AuthenticationResults::default();
        };
        let results = parsed.headers[..mta_received]
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case("Authentication-Results"))
            .filter_map(|h| parse_authentication_results(&h.value))
            .filter(|(id, _)| id.eq_ignore_ascii_case(ours))
            .flat_map(|(_, results)| results)
            .collect();
        AuthenticationResults { results }
    }

    /// True when our server vouches for `from_domain`: DMARC passed for
    /// `header.from` = `from_domain`, or (unless a DMARC verdict for that
    /// domain says otherwise) SPF passed for an aligned MAIL FROM domain or
    /// DKIM for an aligned signing domain (`header.d` or `header.i`).
    /// Aligned: the same domain, or one a subdomain of the other. A DMARC
    /// `fail` (or error) for the From domain overrides an SPF or DKIM pass:
    /// the domain's own policy says those passes are not aligned enough.
    pub fn vouches_for(&self, from_domain: &str) -> bool {
        let from_domain = from_domain.trim().to_lowercase();
        if from_domain.is_empty() {
            return false;
        }
        let dmarc: Vec<&str> = self
            .results
            .iter()
            .filter(|r| r.method == "dmarc")
            .filter(|r| {
                r.property("header.from")
                    .is_some_and(|v| domain_part(v) == from_domain)
            })
            .map(|r| r.result.as_str())
            .collect();
        if dmarc.contains(&"pass") {
            return true;
        }
        if dmarc.iter().any(|r| *r != "none") {
            return false;
        }
        self.results
            .iter()
            .filter(|r| r.result == "pass")
            .any(|r| match r.method.as_str() {
                "spf" => r
                    .property("smtp.mailfrom")
                    .or_else(|| r.property("smtp.helo"))
                    .is_some_and(|v| aligned(&domain_part(v), &from_domain)),
                "dkim" => ["header.d", "header.i"]
                    .iter()
                    .filter_map(|p| r.property(p))
                    .any(|v| aligned(&domain_part(v), &from_domain)),
                _ => false,
            })
    }
}

/// `user@Example.JP` → `example.jp`; `Example.JP` → `example.jp`.
fn domain_part(v: &str) -> String {
    let v = v.trim().trim_matches(['<', '>', '"']);
    match v.rsplit_once('@') {
        Some((_, d)) => d.to_lowercase(),
        None => v.to_lowercase(),
    }
}

/// Relaxed alignment without a public-suffix list: equal, or one is a
/// subdomain of the other (never a bare top-level or `lg.jp`-like suffix,
/// since such a domain is nobody's to pass SPF or DKIM for).
fn aligned(a: &str, b: &str) -> bool {
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}"))
}

/// Parses one Authentication-Results value (RFC 8601): the authserv-id and
/// each `method=result property=value ...` clause. Comments are dropped.
/// None when there is no authserv-id.
pub fn parse_authentication_results(value: &str) -> Option<(String, Vec<AuthResult>)> {
    let clauses = split_clauses(&strip_comments(value));
    let mut iter = clauses.into_iter();
    let id = iter.next()?.split_whitespace().next()?.to_string();
    let mut results = Vec::new();
    for clause in iter {
        let mut tokens = tokenize(&clause).into_iter();
        let Some(first) = tokens.next() else { continue };
        let Some((method, result)) = first.split_once('=') else {
            continue;
        };
        let method = method
            .split('/')
            .next()
            .unwrap_or(method)
            .trim()
            .to_lowercase();
        let result = result.trim().to_lowercase();
        let mut properties = Vec::new();
        for token in tokens {
            if let Some((name, value)) = token.split_once('=') {
                let name = name.trim().to_lowercase();
                if name != "reason" {
                    properties.push((name, value.trim().to_string()));
                }
            }
        }
        results.push(AuthResult {
            method,
            result,
            properties,
        });
    }
    Some((id, results))
}

/// Removes `(comments)`, nested, outside quoted strings.
fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in s.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Splits on `;` outside quoted strings.
fn split_clauses(s: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                if let Some(l) = out.last_mut() {
                    l.push(c)
                }
            }
            ';' if !quoted => out.push(String::new()),
            _ => {
                if let Some(l) = out.last_mut() {
                    l.push(c)
                }
            }
        }
    }
    out.into_iter()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty())
        .collect()
}

/// Splits on whitespace outside quoted strings; quotes are removed.
fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    // "method = result" written with spaces: join the pieces.
    let mut joined: Vec<String> = Vec::new();
    for t in out {
        match joined.last_mut() {
            Some(last) if last.ends_with('=') || t.starts_with('=') => last.push_str(&t),
            _ => joined.push(t),
        }
    }
    joined
}

/// Why a mail is automatic and must not be answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "reason", content = "detail", rename_all = "snake_case")]
pub enum AutoReason {
    /// `Auto-Submitted` other than `no` (auto-replied, auto-generated, ...).
    AutoSubmitted(String),
    /// `Precedence: bulk | junk`, or `list` on mail without a workbook.
    Precedence(String),
    /// A mailing list header (`List-Id`, `List-Unsubscribe`, ...) on mail
    /// without a workbook or archive.
    ListHeader(String),
    /// `X-Auto-Response-Suppress` (Exchange's mark on automatic mail) on
    /// mail without a workbook or archive.
    AutoResponseSuppress,
    /// An autoresponder's own header (`X-Autoreply`, `X-Autorespond`).
    AutoreplyHeader(String),
    /// The null return path `<>` (bounces, receipts).
    NullReturnPath,
    /// Return-Path or From is `MAILER-DAEMON` or `postmaster`.
    DaemonSender(String),
    /// A delivery or disposition report (`multipart/report`,
    /// `message/delivery-status`).
    DeliveryReport,
    /// One of our own replies (it carries [`OWN_REPLY_HEADER`]).
    OwnReply,
}

impl fmt::Display for AutoReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AutoReason::AutoSubmitted(v) => write!(f, "Auto-Submitted: {v}"),
            AutoReason::Precedence(v) => write!(f, "Precedence: {v}"),
            AutoReason::ListHeader(h) => write!(f, "mailing-list header {h}"),
            AutoReason::AutoResponseSuppress => write!(f, "X-Auto-Response-Suppress present"),
            AutoReason::AutoreplyHeader(h) => write!(f, "autoresponder header {h}"),
            AutoReason::NullReturnPath => write!(f, "null return path <>"),
            AutoReason::DaemonSender(a) => write!(f, "sent by a mail daemon ({a})"),
            AutoReason::DeliveryReport => write!(f, "delivery or disposition report"),
            AutoReason::OwnReply => write!(f, "our own reply ({OWN_REPLY_HEADER})"),
        }
    }
}

impl AutoReason {
    /// True for mail a person wrote that a machine passed on: forwarded by
    /// a rule or a shared mailbox (`Auto-Submitted: auto-forwarded`). From
    /// an authenticated prefecture such mail is read and filed like any
    /// other, just never answered (RFC 3834): its sheets must not vanish.
    pub fn is_forwarded(&self) -> bool {
        matches!(self, AutoReason::AutoSubmitted(v) if v == "auto-forwarded")
    }
}

/// Why `parsed` is automatic mail, if it is. Checked in a fixed order so the
/// log names the most telling reason.
pub fn auto_generated(parsed: &ParsedMessage) -> Option<AutoReason> {
    if parsed.header(OWN_REPLY_HEADER).is_some() {
        return Some(AutoReason::OwnReply);
    }
    let ctype = parsed.content_type.as_deref().unwrap_or_default();
    if ctype == "multipart/report"
        || ctype == "message/delivery-status"
        || ctype == "message/disposition-notification"
    {
        return Some(AutoReason::DeliveryReport);
    }
    if let Some(v) = parsed.header("Auto-Submitted") {
        let token = v
            .split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase();
        if token != "no" {
            return Some(AutoReason::AutoSubmitted(token));
        }
    }
    let precedence = parsed
        .header("Precedence")
        .map(|v| v.trim().to_ascii_lowercase());
    if let Some(v) = precedence
        .as_deref()
        .filter(|v| matches!(*v, "bulk" | "junk"))
    {
        return Some(AutoReason::Precedence(v.to_string()));
    }
    // Weak signals: a mailing list's headers and Exchange's request not to
    // be auto-answered also come on mail a person wrote — relayed by a
    // prefecture's list, or sent from an Outlook set up that way (helpdesks
    // that dropped such mail lost real messages). A mail carrying a workbook
    // or an archive is then a request; without one it is automatic.
    if !carries_request_file(parsed) {
        if let Some(v) = precedence.filter(|v| v == "list") {
            return Some(AutoReason::Precedence(v));
        }
        if let Some(h) = parsed
            .headers
            .iter()
            .find(|h| h.name.to_ascii_lowercase().starts_with("list-"))
        {
            return Some(AutoReason::ListHeader(h.name.clone()));
        }
        if parsed.header("X-Auto-Response-Suppress").is_some() {
            return Some(AutoReason::AutoResponseSuppress);
        }
    }
    for name in ["X-Autoreply", "X-Autorespond", "X-Auto-Reply"] {
        if parsed.header(name).is_some() {
            return Some(AutoReason::AutoreplyHeader(name.to_string()));
        }
    }
    match &parsed.return_path {
        Some(ReturnPath::Null) => return Some(AutoReason::NullReturnPath),
        Some(ReturnPath::Address(a)) if is_daemon(a) => {
            return Some(AutoReason::DaemonSender(a.clone()));
        }
        _ => {}
    }
    if let Some(from) = parsed.from.as_ref().filter(|f| is_daemon(&f.address)) {
        return Some(AutoReason::DaemonSender(from.address.clone()));
    }
    None
}

/// True when `parsed` carries a file that may be a request sheet: a
/// workbook (readable, encrypted or too large) or an archive.
fn carries_request_file(parsed: &ParsedMessage) -> bool {
    parsed.attachments.iter().any(|a| {
        matches!(
            a.kind,
            AttachmentKind::Sheet(_)
                | AttachmentKind::EncryptedOffice
                | AttachmentKind::Zip { .. }
                | AttachmentKind::Tnef { .. }
                | AttachmentKind::EncryptedZip
                | AttachmentKind::TooLarge(_)
        )
    })
}

fn is_daemon(address: &str) -> bool {
    let local = address
        .trim()
        .rsplit_once('@')
        .map_or(address.trim(), |(l, _)| l)
        .to_ascii_lowercase();
    matches!(local.as_str(), "mailer-daemon" | "postmaster")
}

/// Why a registered sender is trusted; stored with every record filed
/// from its mail (`requests.sender_auth`), since supersession only ever
/// replaces a record whose sender was authenticated or vouched for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SenderTrust {
    /// Our server's Authentication-Results vouch for the From domain.
    Authenticated,
    /// A person vouched: an admin released the mail from quarantine, or
    /// staff filed the sheet by hand.
    Vouched,
    /// Not checked: `sender_auth = "off"`, the directory alone decided.
    Unchecked,
}

impl SenderTrust {
    /// The word stored in `requests.sender_auth`.
    pub fn as_str(self) -> &'static str {
        match self {
            SenderTrust::Authenticated => "authenticated",
            SenderTrust::Vouched => "vouched",
            SenderTrust::Unchecked => "unchecked",
        }
    }

    /// Reads a stored word.
    pub fn parse(s: &str) -> Option<SenderTrust> {
        [
            SenderTrust::Authenticated,
            SenderTrust::Vouched,
            SenderTrust::Unchecked,
        ]
        .into_iter()
        .find(|t| t.as_str() == s)
    }

    /// True when a filing with this trust may replace, or be replaced by,
    /// another of the same prefecture: the sender is known to be who it
    /// says (our server or a person checked).
    pub fn may_supersede(self) -> bool {
        self != SenderTrust::Unchecked
    }
}

/// Who the sender is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "sender", rename_all = "snake_case")]
pub enum SenderClass {
    /// A registered address or domain of this prefecture, trusted.
    Prefecture {
        /// The prefecture.
        prefecture: Prefecture,
        /// Why it is trusted.
        trust: SenderTrust,
    },
    /// A registered address or domain of this prefecture, but our server
    /// did not vouch for the From domain while `sender_auth = "required"`:
    /// anyone can write that From. Quarantined (kept, listed, not filed,
    /// not answered) until an admin releases it.
    UnauthenticatedPrefecture {
        /// The prefecture the From address claims.
        prefecture: Prefecture,
    },
    /// Not in the directory: quarantined (kept, listed, not filed).
    Unknown {
        /// Our server's Authentication-Results vouch for the From domain.
        authenticated: bool,
    },
    /// No usable From address at all.
    NoAddress,
}

impl SenderClass {
    /// The kind stored with a quarantined mail (`quarantine.kind`), so the
    /// staff list tells a forged-looking registered address from a sender
    /// that is simply not in the directory.
    pub fn quarantine_kind(&self) -> &'static str {
        match self {
            SenderClass::UnauthenticatedPrefecture { .. } => "unauthenticated_sender",
            SenderClass::NoAddress => "no_address",
            SenderClass::Prefecture { .. } | SenderClass::Unknown { .. } => "unknown_sender",
        }
    }

    /// The prefecture the From address is registered for, trusted or not.
    pub fn claimed_prefecture(&self) -> Option<Prefecture> {
        match self {
            SenderClass::Prefecture { prefecture, .. }
            | SenderClass::UnauthenticatedPrefecture { prefecture } => Some(*prefecture),
            _ => None,
        }
    }
}

/// Whether to reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "policy", content = "reason", rename_all = "snake_case")]
pub enum AnswerPolicy {
    /// Reply (subject to the per-sender rate limit).
    Answer,
    /// Never reply; log and keep.
    Never(NeverReason),
}

/// Why a mail gets no reply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "why", content = "detail", rename_all = "snake_case")]
pub enum NeverReason {
    /// Automatic mail or our own reply.
    AutoGenerated(AutoReason),
    /// An unknown sender our server did not authenticate (no backscatter to
    /// forged senders).
    UnauthenticatedUnknownSender,
    /// A registered prefecture address our server did not authenticate
    /// (the From may be forged: no reply to it, nor to its Reply-To).
    UnauthenticatedPrefectureSender,
    /// Nowhere to answer: no From address.
    NoAddress,
}

impl fmt::Display for NeverReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NeverReason::AutoGenerated(r) => write!(f, "automatic mail: {r}"),
            NeverReason::UnauthenticatedUnknownSender => {
                write!(
                    f,
                    "unknown sender not authenticated by our server (SPF/DKIM)"
                )
            }
            NeverReason::UnauthenticatedPrefectureSender => write!(
                f,
                "registered prefecture address not authenticated by our server (SPF/DKIM/DMARC)"
            ),
            NeverReason::NoAddress => write!(f, "no From address to answer"),
        }
    }
}

/// The verdict on one mail's sender.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// Who sent it.
    pub sender: SenderClass,
    /// Whether to answer.
    pub policy: AnswerPolicy,
}

impl Classification {
    /// The reason in words, for logs.
    pub fn describe(&self) -> String {
        let who = match &self.sender {
            SenderClass::Prefecture { prefecture, trust } => {
                format!("registered sender of {prefecture} ({})", trust.as_str())
            }
            SenderClass::UnauthenticatedPrefecture { prefecture } => {
                format!("registered address of {prefecture}, not authenticated")
            }
            SenderClass::Unknown {
                authenticated: true,
            } => "unknown sender, authenticated".to_string(),
            SenderClass::Unknown {
                authenticated: false,
            } => "unknown sender, not authenticated".to_string(),
            SenderClass::NoAddress => "no From address".to_string(),
        };
        match &self.policy {
            AnswerPolicy::Answer => format!("{who}; answer"),
            AnswerPolicy::Never(r) => format!("{who}; do not answer: {r}"),
        }
    }

    /// This verdict once an admin has released the mail from quarantine: a
    /// person checked the sender, so a registered (or just authorised)
    /// address that our server did not authenticate counts as
    /// [`SenderTrust::Vouched`] and is answered. Automatic mail stays
    /// unanswered; other senders are unchanged.
    pub fn vouched_by_staff(self) -> Classification {
        let prefecture = match self.sender {
            SenderClass::UnauthenticatedPrefecture { prefecture }
            | SenderClass::Prefecture {
                prefecture,
                trust: SenderTrust::Unchecked,
            } => prefecture,
            _ => return self,
        };
        let policy = match self.policy {
            AnswerPolicy::Never(NeverReason::UnauthenticatedPrefectureSender) => {
                AnswerPolicy::Answer
            }
            other => other,
        };
        Classification {
            sender: SenderClass::Prefecture {
                prefecture,
                trust: SenderTrust::Vouched,
            },
            policy,
        }
    }
}

/// Classifies the sender of `parsed` and decides whether to answer.
pub fn classify(
    parsed: &ParsedMessage,
    directory: &PrefectureDirectory,
    mail: &MailConfig,
) -> Classification {
    let auth = AuthenticationResults::of(parsed, mail.authserv_id(), mail.own_received_hops);
    let required = mail.sender_auth_mode() == SenderAuth::Required;
    let sender = match &parsed.from {
        None => SenderClass::NoAddress,
        Some(from) => {
            let authenticated = auth.vouches_for(&domain_of(&from.address));
            match directory.prefecture_of(&from.address) {
                Some(prefecture) if authenticated => SenderClass::Prefecture {
                    prefecture,
                    trust: SenderTrust::Authenticated,
                },
                Some(prefecture) if required => {
                    SenderClass::UnauthenticatedPrefecture { prefecture }
                }
                Some(prefecture) => SenderClass::Prefecture {
                    prefecture,
                    trust: SenderTrust::Unchecked,
                },
                None => SenderClass::Unknown { authenticated },
            }
        }
    };
    let policy = if let Some(reason) = auto_generated(parsed) {
        AnswerPolicy::Never(NeverReason::AutoGenerated(reason))
    } else {
        match sender {
            SenderClass::NoAddress => AnswerPolicy::Never(NeverReason::NoAddress),
            SenderClass::Unknown {
                authenticated: false,
            } => AnswerPolicy::Never(NeverReason::UnauthenticatedUnknownSender),
            SenderClass::UnauthenticatedPrefecture { .. } => {
                AnswerPolicy::Never(NeverReason::UnauthenticatedPrefectureSender)
            }
            _ => AnswerPolicy::Answer,
        }
    };
    Classification { sender, policy }
}
