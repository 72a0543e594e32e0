//! Control characters out of everything a message says about itself.
//!
//! A header, a file name or a body may carry NUL and other control bytes
//! (`Subject: =?UTF-8?B?AA==?=`). PostgreSQL refuses NUL in text, and the
//! others garble replies, pages and exports, so the pipeline removes them
//! from the parsed message before anything is classified, stored or
//! answered ([`crate::text::strip_controls`]). The raw bytes stay in the
//! blob store untouched.

use super::{Mailbox, ParsedMessage};
use crate::text::strip_controls_in_place as strip;

impl ParsedMessage {
    /// Removes control characters from every text field; true when any
    /// were found.
    pub fn strip_controls(&mut self) -> bool {
        let mut found = false;
        let mut s = |text: &mut String| found |= strip(text);
        for text in [&mut self.text]
            .into_iter()
            .chain(self.message_id.as_mut())
            .chain(self.subject.as_mut())
            .chain(self.content_type.as_mut())
            .chain(self.in_reply_to.iter_mut())
            .chain(self.references.iter_mut())
        {
            s(text);
        }
        let boxes = self.from.iter_mut().chain(self.reply_to.iter_mut());
        for mailbox in boxes.chain(self.to.iter_mut()).chain(self.cc.iter_mut()) {
            strip_mailbox(mailbox, &mut s);
        }
        for h in &mut self.headers {
            s(&mut h.name);
            s(&mut h.value);
        }
        if let Some(super::ReturnPath::Address(a)) = &mut self.return_path {
            s(a);
        }
        for a in &mut self.attachments {
            s(&mut a.path);
            a.filename.iter_mut().for_each(&mut s);
            a.declared_type.iter_mut().for_each(&mut s);
        }
        found
    }
}

/// A name loses its control characters; an address has each replaced by
/// `?`, so that `sos\0@pref…` never turns into a registered address (nor a
/// deliverable one) by cleaning: it stays an unknown, unanswerable sender.
fn strip_mailbox(mailbox: &mut Mailbox, s: &mut impl FnMut(&mut String)) {
    if mailbox
        .address
        .chars()
        .any(crate::text::is_forbidden_control)
    {
        let mut marked: String = mailbox
            .address
            .chars()
            .map(|c| {
                if crate::text::is_forbidden_control(c) {
                    '?'
                } else {
                    c
                }
            })
            .collect();
        std::mem::swap(&mut mailbox.address, &mut marked);
        s(&mut marked); // counts as found
    }
    mailbox.name.iter_mut().for_each(s);
}

#[cfg(test)]
mod tests {
    use super::super::{Limits, parse};

    #[test]
    fn a_nul_in_an_address_never_makes_it_another_address() {
        let raw = b"From: <sos\x00@fukushi.metro.tokyo.lg.jp>\r\nReply-To: x\x01@y.jp\r\nSubject: s\r\n\r\nbody";
        let mut parsed = parse(raw, &Limits::default());
        parsed.strip_controls();
        if let Some(from) = &parsed.from {
            assert_ne!(from.address, "sos@fukushi.metro.tokyo.lg.jp");
            assert!(!from.address.contains('\0'));
        }
        if let Some(r) = &parsed.reply_to {
            assert_ne!(r.address, "x@y.jp");
        }
    }

    #[test]
    fn nul_in_an_encoded_subject_and_file_name_is_removed() {
        let raw = b"From: =?UTF-8?B?AOadseS6rA==?= <a@b.jp>\r\nSubject: =?UTF-8?B?AA==?=x\r\nMessage-ID: <m@b>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\x00\r\n--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"=?UTF-8?B?YQBiLnhsc3g=?=\"\r\n\r\nxx\r\n--b--\r\n";
        let mut parsed = parse(raw, &Limits::default());
        assert!(parsed.strip_controls());
        assert!(!parsed.subject.clone().unwrap_or_default().contains('\0'));
        assert!(!parsed.text.contains('\0'));
        let from = parsed.from.clone().unwrap();
        assert!(!from.name.unwrap_or_default().contains('\0'));
        assert_eq!(from.address, "a@b.jp");
        for a in &parsed.attachments {
            assert!(!a.path.contains('\0'));
            assert!(!a.filename.clone().unwrap_or_default().contains('\0'));
        }
        assert!(!parsed.strip_controls());
    }
}
