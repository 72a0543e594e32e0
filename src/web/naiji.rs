//! The 内示 mail: when a request becomes 受付完了, the prefecture that sent it
//! is told the ship date and quantity per item. The mail is queued in the
//! outbox in the same transaction as the 受付完了, threaded with the
//! original request mail (In-Reply-To / References its Message-ID).
//!
//! The recipient is the address the sheet came from; for a G-MIS request
//! (or a sheet filed by hand) the first plain address of the prefecture in
//! the `[prefectures]` directory. With neither, no mail is queued and the
//! history says so.

use crate::config::Settings;
use crate::messages::web as msg;
use crate::outbox::{self, OutgoingMail};
use crate::queue::RequestRecord;
use crate::queue::{audit, conversation};
use crate::replies::{Identity, raw};
use anyhow::Context;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use sqlx::AnyConnection;

/// The template of the body, embedded.
const TEMPLATE: &str = include_str!("../../templates/mail/naiji.txt");

/// Where the 内示 goes and which mail it answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recipient {
    /// The address.
    pub address: String,
    /// The original request's Message-ID (no angle brackets), when it came
    /// by mail.
    pub in_reply_to: Option<String>,
}

/// Finds the recipient of a record's 内示.
pub async fn recipient(
    conn: &mut AnyConnection,
    settings: &Settings,
    record: &RequestRecord,
) -> anyhow::Result<Option<Recipient>> {
    if let Some(sha) = &record.source_message_sha256
        && let Some(mail) = conversation::original_mail(conn, sha).await?
        && mail.from_address.parse::<lettre::Address>().is_ok()
    {
        return Ok(Some(Recipient {
            address: mail.from_address,
            in_reply_to: Some(mail.message_id).filter(|m| !m.is_empty()),
        }));
    }
    let directory = settings.config.prefectures.iter().find(|(name, _)| {
        crate::prefecture::Prefecture::parse(name).map(|p| p.name())
            == Some(record.prefecture.as_str())
    });
    let address = directory.and_then(|(_, addrs)| {
        addrs
            .iter()
            .find(|a| !a.starts_with('@') && a.parse::<lettre::Address>().is_ok())
            .cloned()
    });
    Ok(address.map(|address| Recipient {
        address,
        in_reply_to: None,
    }))
}

/// The lines of the body, one per requested item.
pub fn item_lines(record: &RequestRecord) -> Vec<String> {
    record
        .requested_lines()
        .map(|l| match l.mhlw.approved {
            Some(true) => msg::naiji_approved_line(
                l.item.label(),
                &crate::messages::mail::quantity(Some(l.mhlw.quantity.unwrap_or(0))),
                &l.mhlw
                    .ship_date
                    .map(crate::messages::calendar::date)
                    .unwrap_or_default(),
            ),
            _ => msg::naiji_refused_line(l.item.label(), &l.mhlw.reason),
        })
        .collect()
}

/// Renders the body.
pub fn body(settings: &Settings, record: &RequestRecord) -> anyhow::Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_keep_trailing_newline(true);
    env.add_template("naiji.txt", TEMPLATE)
        .context("templates/mail/naiji.txt does not parse")?;
    let inst = &record.institution;
    let text = env
        .get_template("naiji.txt")?
        .render(minijinja::context! {
            prefecture => &record.prefecture,
            receipt => &record.receipt,
            institution_name => &inst.name,
            institution_code => &inst.code,
            postcode => &inst.postcode,
            address => &inst.address,
            batch_date => crate::messages::calendar::date(record.batch_date),
            lines => item_lines(record),
            sos_name => &settings.config.sos_name,
            sos_address => &settings.config.sos_address,
        })
        .context("cannot render the 内示 mail")?;
    Ok(text)
}

/// Builds the 内示 mail for a 受付完了 record.
pub fn build(
    settings: &Settings,
    record: &RequestRecord,
    to: &Recipient,
) -> anyhow::Result<OutgoingMail> {
    let config = &settings.config;
    let subject = msg::naiji_subject(&record.receipt, &record.institution.name);
    let me = Identity::from_config(config);
    let from = me.mailbox()?;
    let rcpt: lettre::Address = to
        .address
        .parse()
        .with_context(|| format!("bad recipient {:?}", to.address))?;
    let domain = me.message_id_domain();
    let mut builder = lettre::Message::builder()
        .from(from)
        .to(Mailbox::new(None, rcpt))
        .subject(subject.clone())
        .message_id(Some(format!(
            "<sos-naiji.{}.{}@{}>",
            record.receipt,
            crate::web::auth::random_token().get(..16).unwrap_or("0"),
            domain
        )))
        .date_now()
        .raw_header(raw(crate::replies::OWN_REPLY_HEADER, "1"))
        .raw_header(raw("X-SOS-Receipt", &record.receipt));
    if let Some(id) = &to.in_reply_to {
        builder = builder
            .in_reply_to(format!("<{id}>"))
            .references(format!("<{id}>"));
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(body(settings, record)?)
        .context("cannot build the 内示 mail")?;
    OutgoingMail::from_message(outbox::kind::NAIJI, None, &subject, &message)
}

/// Queues the 内示 of a just-completed record inside the caller's
/// transaction and notes it in the history. Returns the outbox row, or None
/// when the prefecture has no address to write to.
pub async fn queue(
    conn: &mut AnyConnection,
    settings: &Settings,
    record: &RequestRecord,
    actor: &str,
) -> anyhow::Result<Option<i64>> {
    let Some(to) = recipient(conn, settings, record).await? else {
        audit::record(
            conn,
            Some(record.id),
            actor,
            "naiji_not_sent",
            &serde_json::json!({ "prefecture": record.prefecture }),
            "",
        )
        .await?;
        return Ok(None);
    };
    let mail = build(settings, record, &to)?;
    let id = outbox::enqueue(conn, &mail).await?;
    audit::record(
        conn,
        Some(record.id),
        actor,
        "naiji_queued",
        &serde_json::json!({ "outbox_id": id, "to": to.address, "message_id": mail.message_id }),
        "",
    )
    .await?;
    Ok(Some(id))
}
