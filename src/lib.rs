//! sos-intake: the e-mail and spreadsheet intake gateway for MHLW's emergency
//! distribution of medical protective supplies (緊急配布, "SOS").
//!
//! Data flows through the modules in this order: a mailbox source
//! ([`mailbox`]) hands raw mail to [`message`], whose attachments are read by
//! [`sheet`] and checked by [`validation`]; the result is filed into the
//! [`queue`] (beside requests imported by [`gmis`], dated by [`calendar`]),
//! and [`replies`] are queued in the [`outbox`]. Staff work the queue in
//! [`web`]. Small pieces every layer shares (the JST offset, the host name)
//! live in [`base`], which depends on nothing else in the crate.

pub mod base;
pub mod calendar;
pub mod cli;
pub mod commands;
pub mod config;
pub mod conversation;
pub mod gmis;
pub mod gmis_institutions;
pub mod imap_client;
pub mod mailbox;
pub mod message;
pub mod messages;
pub mod oauth;
pub mod observe;
pub mod ops;
pub mod outbox;
pub mod pipeline;
pub mod prefecture;
pub mod queue;
pub mod readers;
pub mod replies;
pub mod request;
pub mod sheet;
pub mod text;
pub mod unanswered;
pub mod validation;
pub mod web;
