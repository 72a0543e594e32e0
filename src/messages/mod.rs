//! Every Japanese sentence the gateway says, in one place: finding messages,
//! CLI report wording, mail subjects. Longer texts (mail bodies, pages) live in
//! `templates/`.

/// Wording of the workbooks we write (annotated copy, template).
pub mod workbook;

/// Batch dates and the business calendar (why a request got its 対応日).
pub mod calendar;

/// The queue: findings added when filing, refusals of staff actions, listings.
pub mod queue;

/// Validation findings and reasons a file could not be read.
pub mod findings;

/// Describing received files (kinds we do not read).
pub mod mail_parse;

/// The G-MIS export reader: file and row errors.
pub mod gmis_csv;
/// The G-MIS institution list upload.
pub mod institution_list;

/// The staff review desk: refusals, notices, the `users` command.
pub mod web;

/// Replies: subjects, phrases for the reply templates, file names sent back.
pub mod mail;

/// The IMAP source: connection problems and `imap check` wording.
pub mod imap;

/// Files and messages the reader processes could not read safely.
pub mod readers;

/// The review desk's history as sentences (one per audit row).
pub mod history;
/// OAuth 2.0 sign-in: token endpoint and server refusals.
pub mod oauth;
/// Operations: `status`, `backup`, `restore` (issue 14).
pub mod ops;
