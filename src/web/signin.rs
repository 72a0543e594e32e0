//! Sign-in that withstands guessing: wrong passwords are counted per
//! account name typed and per client address; past a few, every further
//! attempt must wait (a delay that doubles with each failure), and past
//! more, the account or the address is locked for a while. The counts live
//! in the database (`web_signin_failures`), so a lock holds on every
//! gateway sharing it and across restarts.
//!
//! Names are counted whether or not such an account exists, so neither the
//! counts nor the answers tell which names exist. A successful sign-in
//! clears its account's count but never the address's: one valid account
//! must not let an address go on guessing others.
//!
//! The client address is the TCP peer. Behind a reverse proxy every request
//! comes from the proxy, so the address limit would apply to all staff at
//! once: put the limit in the proxy then, and raise `[web.signin]
//! address_lock_after` here.
//!
//! The counts themselves are kept by [`crate::queue::signin_failures`].

use crate::config::SigninConfig;
use crate::queue::signin_failures;
use chrono::{DateTime, Utc};
use sqlx::AnyConnection;
use std::net::IpAddr;
use std::time::Duration;

/// The longest account name kept as a key (real names are at most 64).
const MAX_NAME_CHARS: usize = 128;

/// What one more attempt of a subject must respect after `failures`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// The next attempt may come at once.
    None,
    /// The next attempt must wait this long.
    Wait(Duration),
    /// Locked for this long.
    Lock(Duration),
}

/// The limits of one kind of subject (accounts or addresses).
#[derive(Clone, Copy, Debug)]
struct Limits {
    free: u32,
    lock_after: u32,
}

/// The block that follows `failures` wrong passwords under `config`, with
/// `free` failures allowed before waits start and a lock at `lock_after`
/// (0: never).
pub fn block_after(config: &SigninConfig, failures: u32, free: u32, lock_after: u32) -> Block {
    if lock_after > 0 && failures >= lock_after {
        return Block::Lock(Duration::from_secs(config.lock_secs));
    }
    if failures <= free {
        return Block::None;
    }
    let doublings = (failures - free - 1).min(30);
    let ms = config
        .first_delay_ms
        .saturating_mul(1u64 << doublings)
        .min(config.max_delay_ms);
    Block::Wait(Duration::from_millis(ms))
}

/// Why an attempt is refused without looking at the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Too many failures just now: wait this long.
    Wait(Duration),
    /// The account name is locked for this long.
    AccountLocked(Duration),
    /// The client address is locked for this long.
    AddressLocked(Duration),
}

impl Refusal {
    /// How long until the next attempt is checked.
    pub fn remaining(&self) -> Duration {
        match *self {
            Refusal::Wait(d) | Refusal::AccountLocked(d) | Refusal::AddressLocked(d) => d,
        }
    }
}

/// The key of an account name typed.
pub fn account_key(name: &str) -> String {
    let name: String = name.trim().chars().take(MAX_NAME_CHARS).collect();
    format!("account:{name}")
}

/// The key of a client address: IPv4 as is (also when mapped into IPv6),
/// IPv6 by its /64, which one client usually holds whole.
pub fn address_key(addr: IpAddr) -> String {
    match addr.to_canonical() {
        IpAddr::V4(v4) => format!("address:{v4}"),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Whether an attempt for `name` from `addr` may be checked now, or why
/// not. The address's lock wins over the account's, a lock over a wait.
pub async fn check(
    conn: &mut AnyConnection,
    name: &str,
    addr: IpAddr,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Refusal>> {
    let (account, address) = (account_key(name), address_key(addr));
    let blocks = signin_failures::blocks(conn, &account, &address, now).await?;
    let mut refusal: Option<Refusal> = None;
    for block in blocks {
        let left = (block.blocked_until - now).to_std().unwrap_or_default();
        let this = match (block.locked, block.subject == address) {
            (true, true) => Refusal::AddressLocked(left),
            (true, false) => Refusal::AccountLocked(left),
            (false, _) => Refusal::Wait(left),
        };
        refusal = Some(match refusal {
            Some(prev) if rank(prev) > rank(this) => prev,
            Some(prev) if rank(prev) == rank(this) && prev.remaining() >= left => prev,
            _ => this,
        });
    }
    Ok(refusal)
}

fn rank(r: Refusal) -> u8 {
    match r {
        Refusal::Wait(_) => 0,
        Refusal::AccountLocked(_) => 1,
        Refusal::AddressLocked(_) => 2,
    }
}

/// What recording one wrong password led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The account name's failures so far.
    pub account_failures: u32,
    /// The block now on the account name.
    pub account: Block,
    /// The address's failures so far.
    pub address_failures: u32,
    /// The block now on the address.
    pub address: Block,
}

/// Counts one wrong password for `name` and for `addr` (one transaction
/// per subject; concurrent failures add up through the upsert).
pub async fn record_failure(
    conn: &mut AnyConnection,
    config: &SigninConfig,
    name: &str,
    addr: IpAddr,
    now: DateTime<Utc>,
) -> anyhow::Result<Failure> {
    forget_old(conn, config, now).await?;
    let account_limits = Limits {
        free: config.free_failures,
        lock_after: config.lock_after,
    };
    let address_limits = Limits {
        free: config.address_free_failures,
        lock_after: config.address_lock_after,
    };
    let (account_failures, account) =
        count_failure(conn, config, &account_key(name), account_limits, now).await?;
    let (address_failures, address) =
        count_failure(conn, config, &address_key(addr), address_limits, now).await?;
    Ok(Failure {
        account_failures,
        account,
        address_failures,
        address,
    })
}

async fn count_failure(
    conn: &mut AnyConnection,
    config: &SigninConfig,
    subject: &str,
    limits: Limits,
    now: DateTime<Utc>,
) -> anyhow::Result<(u32, Block)> {
    let forget_before = now - chrono::Duration::seconds(secs_i64(config.forget_after_secs));
    let failures = signin_failures::count(conn, subject, now, forget_before).await?;
    let block = block_after(config, failures, limits.free, limits.lock_after);
    let (until, locked) = match block {
        Block::None => (None, false),
        Block::Wait(d) => (Some(now + chrono_duration(d)), false),
        Block::Lock(d) => (Some(now + chrono_duration(d)), true),
    };
    signin_failures::set_block(conn, subject, until, locked).await?;
    Ok((failures, block))
}

/// Clears the account name's count after a successful sign-in.
pub async fn record_success(conn: &mut AnyConnection, name: &str) -> anyhow::Result<()> {
    signin_failures::clear(conn, &account_key(name)).await
}

/// Drops counts nobody has added to for `forget_after_secs` and that block
/// nothing any more, so guessed names do not pile up.
async fn forget_old(
    conn: &mut AnyConnection,
    config: &SigninConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<()> {
    let forget_before = now - chrono::Duration::seconds(secs_i64(config.forget_after_secs));
    signin_failures::forget_old(conn, forget_before, now).await
}

fn secs_i64(secs: u64) -> i64 {
    i64::try_from(secs)
        .unwrap_or(i64::MAX / 1000)
        .min(100 * 365 * 24 * 3600)
}

fn chrono_duration(d: Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365))
}

/// Whole minutes of `d`, rounded up (at least 1), for messages.
pub fn minutes_up(d: Duration) -> u64 {
    d.as_secs().div_ceil(60).max(1)
}

/// Whole seconds of `d`, rounded up (at least 1), for messages.
pub fn seconds_up(d: Duration) -> u64 {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    ms.div_ceil(1000).max(1)
}

/// The longest `next` kept (longer ones go to the default page).
const MAX_NEXT_BYTES: usize = 2048;

/// `next` as a redirect target when it is a path on this site, else `None`.
///
/// Accepted: a single leading `/` followed by a character other than `/`
/// and `\`, with no control character, whitespace or backslash anywhere,
/// no `//`, and the same again after each of up to three rounds of
/// percent-decoding (so `/%09/evil.example` and `/%2F%2Fevil.example` are
/// refused as `/\t/…` and `//…` would be). The value returned is `next`
/// itself with non-ASCII bytes percent-encoded, so it is always a valid
/// `Location` header.
pub fn same_site_path(next: &str) -> Option<String> {
    if next.len() > MAX_NEXT_BYTES {
        return None;
    }
    let mut stage = next.to_string();
    for _ in 0..4 {
        if !is_plain_local_path(&stage) {
            return None;
        }
        let decoded = percent_decode_path(&stage);
        if decoded == stage {
            break;
        }
        stage = decoded;
    }
    // One more decoding that still changes something: too deep to trust.
    if percent_decode_path(&stage) != stage {
        return None;
    }
    Some(encode_non_ascii(next))
}

fn is_plain_local_path(path: &str) -> bool {
    let mut chars = path.chars();
    chars.next() == Some('/')
        && chars.next().is_some_and(|c| c != '/' && c != '\\')
        && !path.contains("//")
        && !path
            .chars()
            .any(|c| c == '\\' || c.is_control() || c.is_whitespace())
}

/// Decodes `%XX` (a `+` stays a `+` in a path); invalid escapes and bytes
/// that do not form UTF-8 are kept visible rather than dropped.
fn percent_decode_path(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = (b == b'%')
            .then(|| bytes.get(i + 1..i + 3))
            .flatten()
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match hex {
            Some(v) => {
                out.push(v);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn encode_non_ascii(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SigninConfig {
        SigninConfig {
            free_failures: 3,
            first_delay_ms: 1000,
            max_delay_ms: 8000,
            lock_after: 10,
            lock_secs: 900,
            ..SigninConfig::default()
        }
    }

    #[test]
    fn waits_double_after_the_free_failures_then_lock() {
        let c = config();
        let b = |n| block_after(&c, n, 3, 10);
        assert_eq!(b(1), Block::None);
        assert_eq!(b(3), Block::None);
        assert_eq!(b(4), Block::Wait(Duration::from_secs(1)));
        assert_eq!(b(5), Block::Wait(Duration::from_secs(2)));
        assert_eq!(b(6), Block::Wait(Duration::from_secs(4)));
        assert_eq!(b(7), Block::Wait(Duration::from_secs(8)));
        assert_eq!(b(9), Block::Wait(Duration::from_secs(8)));
        assert_eq!(b(10), Block::Lock(Duration::from_secs(900)));
        assert_eq!(b(u32::MAX), Block::Lock(Duration::from_secs(900)));
        assert_eq!(
            block_after(&c, 1000, 3, 0),
            Block::Wait(Duration::from_secs(8))
        );
    }

    #[test]
    fn keys_fold_addresses_and_trim_names() {
        assert_eq!(account_key("  審査 花子 "), "account:審査 花子");
        assert_eq!(account_key(&"x".repeat(500)).chars().count(), 8 + 128);
        let v4: IpAddr = "192.0.2.7".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(v4), "address:192.0.2.7");
        assert_eq!(address_key(mapped), address_key(v4));
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(a), address_key(b));
        assert_eq!(address_key(a), "address:2001:db8:1:2::/64");
    }

    #[test]
    fn next_is_a_same_site_path_only() {
        for hostile in [
            "",
            "/",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\/evil.example",
            "/%09/evil.example",
            "/\t/evil.example",
            "/%2F%2Fevil.example",
            "/%2f/evil.example",
            "/%252F%252Fevil.example",
            "/%25252F%25252Fevil.example",
            "/%5Cevil.example",
            "/%5cevil.example",
            "https://evil.example",
            "http:/evil.example",
            "javascript:alert(1)",
            " /x",
            "/x ",
            "/x\r\nSet-Cookie: a=b",
            "/x%0d%0aSet-Cookie:%20a=b",
            "/x%00",
            "/a//b",
            "/\u{3000}x",
            "evil.example",
            "?next=//evil",
        ] {
            assert_eq!(same_site_path(hostile), None, "{hostile:?}");
        }
        for (input, want) in [
            (
                "/requests?date=2026-12-01",
                Some("/requests?date=2026-12-01"),
            ),
            ("/requests/3", Some("/requests/3")),
            ("/queue?q=病院", Some("/queue?q=%E7%97%85%E9%99%A2")),
            ("/queue?q=a%26b", Some("/queue?q=a%26b")),
        ] {
            assert_eq!(same_site_path(input).as_deref(), want, "{input:?}");
        }
        assert_eq!(same_site_path(&format!("/{}", "a".repeat(3000))), None);
    }

    #[test]
    fn messages_round_up() {
        assert_eq!(minutes_up(Duration::from_secs(1)), 1);
        assert_eq!(minutes_up(Duration::from_secs(61)), 2);
        assert_eq!(seconds_up(Duration::from_millis(1001)), 2);
        assert_eq!(seconds_up(Duration::ZERO), 1);
    }
}
