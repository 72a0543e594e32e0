//! Reading the files inside Outlook's `winmail.dat` (application/ms-tnef,
//! Transport Neutral Encapsulation Format, Microsoft's [MS-OXTNEF]).
//!
//! Outlook set to rich text (RTF) wraps the attachments of a mail to an
//! Internet address in one `winmail.dat`. The stream is a signature
//! (`0x223E9F78`), a 16-bit key, then attributes: level (1 byte: message or
//! attachment), id (4 bytes: type in the high word), length (4 bytes), data
//! and a 16-bit checksum. Each attachment starts with `attAttachRenddata`;
//! its bytes are in `attAttachData`, its 8-bit title in `attAttachTitle` and
//! its MAPI properties in `attAttachment` (among them the long file name
//! PR_ATTACH_LONG_FILENAME, 0x3707, often in UTF-16; the data
//! PR_ATTACH_DATA_BIN, 0x3701; the MIME type PR_ATTACH_MIME_TAG, 0x370E).
//! 8-bit names are in the code page of `attOemCodepage` (932 from a
//! Japanese Outlook: read as CP932).
//!
//! Our own, because the crates do not fit (docs/mail-intake.md, "Outlook
//! rich text"): `tnef` reads no MAPI properties (no long or UTF-16 names,
//! no code page), `ytnef` binds a C library. This is a small reader of just
//! what is needed, checked against Python's `tnefparse` in
//! `tests/tnef_reference.rs`.
//!
//! Bounds: the input is read in place (every length is checked against the
//! bytes left before anything is taken, and the files are copied out only
//! once complete), so a lying length can neither allocate nor loop: every
//! attribute, property and value consumes input bytes. The number of files
//! and their sizes are capped by the caller's [`TnefLimits`]. Checksums are
//! not enforced (Outlook and other writers are known to get them wrong and
//! every reader we compared with only warns); a file is kept only when its
//! data attribute arrived whole, and the sheet reader checks the file
//! itself.

use super::SizeLimit;
use super::charset;

/// The first four bytes of every TNEF stream (little-endian `0x223E9F78`).
pub const SIGNATURE: [u8; 4] = [0x78, 0x9F, 0x3E, 0x22];

/// Attribute level of attributes that belong to an attachment.
const LEVEL_ATTACHMENT: u8 = 0x02;

// Attribute ids (low word of the id; the high word is the type, ignored
// as every reader we compared with does).
const ATT_ATTACH_DATA: u16 = 0x800F;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_RENDDATA: u16 = 0x9002;
const ATT_ATTACHMENT: u16 = 0x9005;
const ATT_OEM_CODEPAGE: u16 = 0x9007;

// MAPI property ids and types.
const PR_DISPLAY_NAME: u16 = 0x3001;
const PR_ATTACH_DATA: u16 = 0x3701;
const PR_ATTACH_FILENAME: u16 = 0x3704;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_ATTACH_MIME_TAG: u16 = 0x370E;
const PT_MULTI: u16 = 0x1000;
const PT_UNSPECIFIED: u16 = 0x0000;
const PT_OBJECT: u16 = 0x000D;
const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_BINARY: u16 = 0x0102;

/// The caps a winmail.dat is read under (from `[mail]`, see
/// [`super::Limits`]).
#[derive(Clone, Copy, Debug)]
pub struct TnefLimits {
    /// The most files taken out (`max_zip_entries`: entries of an archive).
    pub max_files: usize,
    /// The largest file taken out (`max_attachment_bytes`).
    pub max_file_bytes: u64,
}

/// One file found inside the winmail.dat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TnefFile {
    /// Its name as the sender's Outlook recorded it (long name first),
    /// decoded; None when the attachment carries none.
    pub name: Option<String>,
    /// PR_ATTACH_MIME_TAG, lower-cased, when present.
    pub mime_type: Option<String>,
    /// The file's bytes. For an embedded Outlook item, the TNEF stream of
    /// that item (read in turn by the caller, one level deeper); for an OLE
    /// object, its compound file.
    pub bytes: Vec<u8>,
}

/// What reading a winmail.dat gave.
#[derive(Debug, PartialEq, Eq)]
pub enum Tnef {
    /// The files inside (at least one).
    Files(Vec<TnefFile>),
    /// A cap was reached.
    TooLarge(SizeLimit),
    /// Nothing could be taken out.
    Unreadable(Unreadable),
}

/// Why no file could be taken out of a winmail.dat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unreadable {
    /// The bytes do not start with the TNEF signature.
    NotTnef,
    /// The stream ends inside an attribute before any file was complete.
    Truncated,
    /// A well-formed stream that carries no attached file (only the
    /// rich-text body).
    NoFiles,
}

impl Unreadable {
    /// A short English description for logs and problems.
    pub fn describe(self) -> &'static str {
        match self {
            Unreadable::NotTnef => "not a TNEF stream",
            Unreadable::Truncated => "TNEF stream cut inside an attribute",
            Unreadable::NoFiles => "TNEF stream without attached files",
        }
    }
}

/// Reads the files inside `bytes` (a whole winmail.dat). Never panics; the
/// work is linear in `bytes.len()`.
pub fn read(bytes: &[u8], limits: &TnefLimits) -> Tnef {
    let mut input = Input::new(bytes);
    if input.take(4) != Some(&SIGNATURE[..]) || input.u16().is_none() {
        return Tnef::Unreadable(Unreadable::NotTnef);
    }
    let mut state = Walk::default();
    let mut truncated = false;
    while !input.is_empty() {
        let Some(attribute) = Attribute::next(&mut input) else {
            truncated = true;
            break;
        };
        if let Err(limit) = state.visit(&attribute, limits) {
            return Tnef::TooLarge(limit);
        }
    }
    let mut files = Vec::new();
    for pending in &state.attachments {
        match pending.finish(state.codepage, limits) {
            Some(Ok(file)) => files.push(file),
            Some(Err(limit)) => return Tnef::TooLarge(limit),
            None => {}
        }
    }
    match (files.is_empty(), truncated) {
        (true, true) => Tnef::Unreadable(Unreadable::Truncated),
        (true, false) => Tnef::Unreadable(Unreadable::NoFiles),
        (false, _) => Tnef::Files(files),
    }
}

/// A cursor over the input that never reads past its end.
struct Input<'a> {
    bytes: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Input { bytes }
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The next `n` bytes, or None (and nothing consumed) when fewer are
    /// left: a length field is never trusted beyond the input.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length-prefixed value padded to four bytes (MAPI var-length
    /// values).
    fn padded(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.u32()?).ok()?;
        let value = self.take(len)?;
        // The last value may lack its padding: tolerated.
        let pad = (4 - len % 4) % 4;
        let pad = pad.min(self.bytes.len());
        self.take(pad)?;
        Some(value)
    }
}

/// One TNEF attribute, its data borrowed from the input.
struct Attribute<'a> {
    level: u8,
    id: u16,
    data: &'a [u8],
}

impl<'a> Attribute<'a> {
    /// The next attribute; None when the input ends inside it.
    fn next(input: &mut Input<'a>) -> Option<Self> {
        let level = input.u8()?;
        let id = input.u32()?;
        let len = usize::try_from(input.u32()?).ok()?;
        let data = input.take(len)?;
        let _checksum = input.u16()?;
        Some(Attribute {
            level,
            id: (id & 0xFFFF) as u16,
            data,
        })
    }
}

/// What was gathered while walking the attributes.
#[derive(Default)]
struct Walk<'a> {
    codepage: Option<u32>,
    attachments: Vec<Pending<'a>>,
}

impl<'a> Walk<'a> {
    fn visit(&mut self, a: &Attribute<'a>, limits: &TnefLimits) -> Result<(), SizeLimit> {
        if a.id == ATT_OEM_CODEPAGE {
            self.codepage = Input::new(a.data).u32();
            return Ok(());
        }
        if a.level != LEVEL_ATTACHMENT {
            return Ok(());
        }
        // An attachment attribute before any attAttachRenddata starts one
        // implicitly (lenient: some writers omit it for the first).
        if a.id == ATT_ATTACH_RENDDATA || self.attachments.is_empty() {
            if self.attachments.len() >= limits.max_files {
                return Err(SizeLimit::ZipEntries {
                    count: self.attachments.len() as u64 + 1,
                    limit: limits.max_files as u64,
                });
            }
            self.attachments.push(Pending::default());
        }
        let Some(current) = self.attachments.last_mut() else {
            return Ok(());
        };
        match a.id {
            ATT_ATTACH_DATA => current.data = Some(a.data),
            ATT_ATTACH_TITLE => current.title = Some(a.data),
            ATT_ATTACHMENT => current.props = Props::read(a.data),
            _ => {}
        }
        Ok(())
    }
}

/// One attachment's attributes, as found.
#[derive(Default)]
struct Pending<'a> {
    title: Option<&'a [u8]>,
    data: Option<&'a [u8]>,
    props: Props<'a>,
}

impl Pending<'_> {
    /// The file, or None for an attachment without data (a link, or one cut
    /// off by a truncated stream); Err when it is over the size cap.
    fn finish(
        &self,
        codepage: Option<u32>,
        limits: &TnefLimits,
    ) -> Option<Result<TnefFile, SizeLimit>> {
        // An embedded object first (an Outlook item as its own TNEF
        // stream, or an OLE object as its compound file, both after their
        // 16-byte interface id): its attAttachData, if any, is only a
        // placeholder (tnefparse reads it so too). An OLE object is kept
        // rather than dropped: the official hears it was not readable.
        let embedded = self
            .props
            .object
            .and_then(|object| object.get(16..))
            .filter(|rest| !rest.is_empty());
        let bytes = embedded.or(self.data).or(self.props.data)?;
        if bytes.len() as u64 > limits.max_file_bytes {
            return Some(Err(SizeLimit::File {
                size: bytes.len() as u64,
                limit: limits.max_file_bytes,
            }));
        }
        // The first non-blank of: long name, title, 8.3 name, display name.
        let name = [
            self.props.long_name.map(|s| s.decode(codepage)),
            self.title.map(|t| decode_8bit(t, codepage)),
            self.props.short_name.map(|s| s.decode(codepage)),
            self.props.display_name.map(|s| s.decode(codepage)),
        ]
        .into_iter()
        .flatten()
        .find(|n| !n.trim().is_empty());
        let mime_type = self
            .props
            .mime_tag
            .map(|s| s.decode(codepage).trim().to_ascii_lowercase())
            .filter(|t| !t.is_empty());
        Some(Ok(TnefFile {
            name,
            mime_type,
            bytes: bytes.to_vec(),
        }))
    }
}

/// A MAPI string property's raw value.
#[derive(Clone, Copy)]
enum Text<'a> {
    /// PT_STRING8: bytes in the message's code page.
    Ansi(&'a [u8]),
    /// PT_UNICODE: UTF-16LE.
    Unicode(&'a [u8]),
}

impl Text<'_> {
    fn decode(self, codepage: Option<u32>) -> String {
        match self {
            Text::Ansi(bytes) => decode_8bit(bytes, codepage),
            Text::Unicode(bytes) => {
                let (text, _) = encoding_rs::UTF_16LE.decode_without_bom_handling(bytes);
                text.trim_end_matches('\0').to_string()
            }
        }
    }
}

/// The MAPI properties of one attachment that matter here.
#[derive(Default)]
struct Props<'a> {
    long_name: Option<Text<'a>>,
    short_name: Option<Text<'a>>,
    display_name: Option<Text<'a>>,
    mime_tag: Option<Text<'a>>,
    data: Option<&'a [u8]>,
    object: Option<&'a [u8]>,
}

impl<'a> Props<'a> {
    /// Reads a MAPI property list; stops quietly at the first property it
    /// cannot read (what came before is kept).
    fn read(data: &'a [u8]) -> Self {
        let mut props = Props::default();
        let mut input = Input::new(data);
        let Some(count) = input.u32() else {
            return props;
        };
        for _ in 0..count {
            if input.is_empty() || props.read_one(&mut input).is_none() {
                break;
            }
        }
        props
    }

    /// Reads one property (tag, optional name, values) and keeps it if it
    /// is one we use. None when it cannot be read.
    fn read_one(&mut self, input: &mut Input<'a>) -> Option<()> {
        let ptype = input.u16()?;
        let id = input.u16()?;
        if id >= 0x8000 {
            // A named property: GUID, kind, then a number or a UTF-16 name.
            input.take(16)?;
            match input.u32()? {
                0 => {
                    input.u32()?;
                }
                1 => {
                    input.padded()?;
                }
                _ => return None,
            }
        }
        let multi = ptype & PT_MULTI != 0;
        let base = ptype & !PT_MULTI;
        let values = if multi { input.u32()? } else { 1 };
        for index in 0..values {
            let value = read_value(input, base, multi)?;
            if index == 0 && !multi && id < 0x8000 {
                self.keep(id, base, value);
            }
        }
        // Two-byte values are padded to four bytes as a whole.
        if matches!(base, 0x0002 | 0x000B) && values % 2 == 1 {
            input.take(2.min(input.bytes.len()))?;
        }
        Some(())
    }

    fn keep(&mut self, id: u16, ptype: u16, value: Value<'a>) {
        let Value::Var(bytes) = value else {
            return;
        };
        let text = match ptype {
            PT_STRING8 => Some(Text::Ansi(bytes)),
            PT_UNICODE => Some(Text::Unicode(bytes)),
            _ => None,
        };
        match (id, ptype, text) {
            (PR_ATTACH_LONG_FILENAME, _, Some(t)) => self.long_name = Some(t),
            (PR_ATTACH_FILENAME, _, Some(t)) => self.short_name = Some(t),
            (PR_DISPLAY_NAME, _, Some(t)) => self.display_name = Some(t),
            (PR_ATTACH_MIME_TAG, _, Some(t)) => self.mime_tag = Some(t),
            (PR_ATTACH_DATA, PT_BINARY, _) => self.data = Some(bytes),
            (PR_ATTACH_DATA, PT_OBJECT, _) => self.object = Some(bytes),
            _ => {}
        }
    }
}

/// One property value.
enum Value<'a> {
    Fixed,
    Var(&'a [u8]),
}

/// Reads one value of MAPI type `ptype`. A single var-length property has
/// its own value count (we keep the first value); in a multi-valued one
/// each value is just length and bytes.
fn read_value<'a>(input: &mut Input<'a>, ptype: u16, multi: bool) -> Option<Value<'a>> {
    let fixed = match ptype {
        0x0002 | 0x000B => 2,
        0x0003 | 0x0004 | 0x000A => 4,
        0x0005..=0x0007 | 0x0014 | 0x0040 => 8,
        0x0048 => 16,
        PT_UNSPECIFIED | PT_OBJECT | PT_STRING8 | PT_UNICODE | PT_BINARY => 0,
        _ => return None,
    };
    if fixed > 0 {
        input.take(fixed)?;
        return Some(Value::Fixed);
    }
    if multi {
        return input.padded().map(Value::Var);
    }
    let count = input.u32()?;
    let mut first = None;
    for _ in 0..count {
        let value = input.padded()?;
        first.get_or_insert(value);
    }
    // A var-length property with no value at all reads as empty.
    Some(Value::Var(first.unwrap_or_default()))
}

/// An 8-bit string (up to its first NUL) in the message's code page; a
/// wrong or missing code page falls back to the Japanese guess.
fn decode_8bit(bytes: &[u8], codepage: Option<u32>) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let bytes = &bytes[..end];
    charset::decode(bytes, codepage.and_then(codepage_label)).0
}

/// The charset label of a Windows code page (the ones Japanese offices'
/// and their correspondents' Outlook write).
fn codepage_label(codepage: u32) -> Option<&'static str> {
    Some(match codepage {
        932 => "cp932",
        50220..=50222 => "iso-2022-jp",
        20932 | 51932 => "euc-jp",
        65001 => "utf-8",
        936 => "gbk",
        949 => "euc-kr",
        950 => "big5",
        874 => "windows-874",
        1250 => "windows-1250",
        1251 => "windows-1251",
        1252 | 28591 => "windows-1252",
        1253 => "windows-1253",
        1254 => "windows-1254",
        1255 => "windows-1255",
        1256 => "windows-1256",
        1257 => "windows-1257",
        1258 => "windows-1258",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: TnefLimits = TnefLimits {
        max_files: 4,
        max_file_bytes: 1000,
    };

    fn attr(level: u8, id: u32, data: &[u8]) -> Vec<u8> {
        let mut out = vec![level];
        out.extend(id.to_le_bytes());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
        let sum = data.iter().map(|&b| u32::from(b)).sum::<u32>() as u16;
        out.extend(sum.to_le_bytes());
        out
    }

    fn var(ptype: u16, id: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend(ptype.to_le_bytes());
        out.extend(id.to_le_bytes());
        out.extend(1u32.to_le_bytes());
        out.extend((value.len() as u32).to_le_bytes());
        out.extend(value);
        out.resize(out.len() + (4 - value.len() % 4) % 4, 0);
        out
    }

    fn props(list: &[Vec<u8>]) -> Vec<u8> {
        let mut out = (list.len() as u32).to_le_bytes().to_vec();
        for p in list {
            out.extend(p);
        }
        out
    }

    fn utf16(s: &str) -> Vec<u8> {
        s.encode_utf16()
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect()
    }

    fn stream(codepage: Option<u32>, body: &[Vec<u8>]) -> Vec<u8> {
        let mut out = SIGNATURE.to_vec();
        out.extend([0x1C, 0x0B]);
        out.extend(attr(1, 0x0008_9006, &0x0001_0000u32.to_le_bytes()));
        if let Some(cp) = codepage {
            let mut data = cp.to_le_bytes().to_vec();
            data.extend(0u32.to_le_bytes());
            out.extend(attr(1, 0x0006_9007, &data));
        }
        for b in body {
            out.extend(b);
        }
        out
    }

    fn renddata() -> Vec<u8> {
        attr(
            2,
            0x0006_9002,
            &[1, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0],
        )
    }

    fn files(t: Tnef) -> Vec<TnefFile> {
        match t {
            Tnef::Files(f) => f,
            other => panic!("expected files, got {other:?}"),
        }
    }

    #[test]
    fn the_long_unicode_name_the_data_and_the_mime_tag_are_read() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("要請.XLS");
        let t = stream(
            Some(932),
            &[
                renddata(),
                attr(2, 0x0001_8010, &[&sjis[..], b"\0"].concat()),
                attr(2, 0x0006_800F, b"PK-sheet"),
                attr(
                    2,
                    0x0006_9005,
                    &props(&[
                        var(
                            PT_UNICODE,
                            PR_ATTACH_LONG_FILENAME,
                            &utf16("要請シート①.xlsx"),
                        ),
                        var(PT_STRING8, PR_ATTACH_MIME_TAG, b"Application/X\0"),
                    ]),
                ),
            ],
        );
        let got = files(read(&t, &LIMITS));
        assert_eq!(
            got,
            vec![TnefFile {
                name: Some("要請シート①.xlsx".into()),
                mime_type: Some("application/x".into()),
                bytes: b"PK-sheet".to_vec(),
            }]
        );
    }

    #[test]
    fn an_8bit_title_is_read_in_the_message_code_page() {
        let (sjis, _, _) = encoding_rs::SHIFT_JIS.encode("緊急配布要請シート～①.xlsx");
        let title = [&sjis[..], b"\0"].concat();
        let body = [
            renddata(),
            attr(2, 0x0001_8010, &title),
            attr(2, 0x0006_800F, b"data"),
        ];
        let got = files(read(&stream(Some(932), &body), &LIMITS));
        assert_eq!(got[0].name.as_deref(), Some("緊急配布要請シート～①.xlsx"));
        // Without a code page the Japanese guess still reads it.
        let got = files(read(&stream(None, &body), &LIMITS));
        assert_eq!(got[0].name.as_deref(), Some("緊急配布要請シート～①.xlsx"));
    }

    #[test]
    fn a_blank_long_name_falls_back_to_the_title() {
        let t = stream(
            Some(932),
            &[
                renddata(),
                attr(2, 0x0001_8010, b"sheet.xlsx\0"),
                attr(2, 0x0006_800F, b"data"),
                attr(
                    2,
                    0x0006_9005,
                    &props(&[var(PT_UNICODE, PR_ATTACH_LONG_FILENAME, &utf16(" "))]),
                ),
            ],
        );
        assert_eq!(
            files(read(&t, &LIMITS))[0].name.as_deref(),
            Some("sheet.xlsx")
        );
    }

    #[test]
    fn pr_attach_data_bin_is_used_without_att_attach_data() {
        let t = stream(
            None,
            &[
                renddata(),
                attr(
                    2,
                    0x0006_9005,
                    &props(&[
                        // A fixed-size, a two-byte and a named property first.
                        [
                            &0x0003u16.to_le_bytes()[..],
                            &0x3705u16.to_le_bytes(),
                            &[1, 0, 0, 0],
                        ]
                        .concat(),
                        [
                            &0x000Bu16.to_le_bytes()[..],
                            &0x7FFEu16.to_le_bytes(),
                            &[1, 0, 0, 0],
                        ]
                        .concat(),
                        [
                            &0x0003u16.to_le_bytes()[..],
                            &0x8001u16.to_le_bytes(),
                            &[0u8; 16],
                            &0u32.to_le_bytes(),
                            &7u32.to_le_bytes(),
                            &[9, 9, 9, 9],
                        ]
                        .concat(),
                        var(PT_BINARY, PR_ATTACH_DATA, b"abc"),
                        var(PT_STRING8, PR_ATTACH_LONG_FILENAME, b"a.xlsx\0"),
                    ]),
                ),
            ],
        );
        let got = files(read(&t, &LIMITS));
        assert_eq!(got[0].bytes, b"abc");
        assert_eq!(got[0].name.as_deref(), Some("a.xlsx"));
    }

    #[test]
    fn an_embedded_outlook_item_yields_its_own_tnef_stream() {
        let inner = stream(None, &[renddata(), attr(2, 0x0006_800F, b"x")]);
        // IID_IMessage, then the embedded item's own stream.
        let iid = [7, 3, 2, 0, 0, 0, 0, 0, 0xC0, 0, 0, 0, 0, 0, 0, 0x46];
        let object = [&iid[..], &inner].concat();
        let t = stream(
            None,
            &[
                renddata(),
                attr(
                    2,
                    0x0006_9005,
                    &props(&[
                        var(PT_OBJECT, PR_ATTACH_DATA, &object),
                        var(PT_UNICODE, PR_DISPLAY_NAME, &utf16("転送")),
                    ]),
                ),
            ],
        );
        let got = files(read(&t, &LIMITS));
        assert_eq!(got[0].bytes, inner);
        assert_eq!(got[0].name.as_deref(), Some("転送"));
    }

    #[test]
    fn what_is_not_tnef_or_has_no_file_is_unreadable() {
        assert_eq!(read(b"", &LIMITS), Tnef::Unreadable(Unreadable::NotTnef));
        assert_eq!(
            read(b"PK\x03\x04", &LIMITS),
            Tnef::Unreadable(Unreadable::NotTnef)
        );
        assert_eq!(
            read(&SIGNATURE, &LIMITS),
            Tnef::Unreadable(Unreadable::NotTnef)
        );
        let rtf_only = stream(Some(932), &[attr(1, 0x0006_9003, &props(&[]))]);
        assert_eq!(
            read(&rtf_only, &LIMITS),
            Tnef::Unreadable(Unreadable::NoFiles)
        );
        // A title without data (a link to a file elsewhere).
        let no_data = stream(None, &[renddata(), attr(2, 0x0001_8010, b"a.xlsx\0")]);
        assert_eq!(
            read(&no_data, &LIMITS),
            Tnef::Unreadable(Unreadable::NoFiles)
        );
    }

    #[test]
    fn lying_lengths_end_the_walk_without_allocating() {
        let mut t = stream(None, &[renddata(), attr(2, 0x0006_800F, b"first")]);
        t.extend(renddata());
        // attAttachData claiming 4 GiB.
        t.extend([2]);
        t.extend(0x0006_800Fu32.to_le_bytes());
        t.extend(u32::MAX.to_le_bytes());
        t.extend(b"short");
        let got = files(read(&t, &LIMITS));
        assert_eq!(got.len(), 1, "the complete file is kept");
        let cut = stream(None, &[renddata()]);
        let cut = [&cut[..], &[2, 0x0F, 0x80, 0x06, 0, 9, 0, 0, 0, 1]].concat();
        assert_eq!(read(&cut, &LIMITS), Tnef::Unreadable(Unreadable::Truncated));
        // A property list claiming 4 billion properties, values of 4 GiB.
        let mut p = u32::MAX.to_le_bytes().to_vec();
        p.extend(PT_BINARY.to_le_bytes());
        p.extend(PR_ATTACH_DATA.to_le_bytes());
        p.extend(u32::MAX.to_le_bytes());
        p.extend(u32::MAX.to_le_bytes());
        let t = stream(None, &[renddata(), attr(2, 0x0006_9005, &p)]);
        assert_eq!(read(&t, &LIMITS), Tnef::Unreadable(Unreadable::NoFiles));
    }

    #[test]
    fn the_file_count_and_size_caps_hold() {
        let one = [renddata(), attr(2, 0x0006_800F, b"x")].concat();
        let many: Vec<Vec<u8>> = (0..5).map(|_| one.clone()).collect();
        assert_eq!(
            read(&stream(None, &many), &LIMITS),
            Tnef::TooLarge(SizeLimit::ZipEntries { count: 5, limit: 4 })
        );
        let big = stream(None, &[renddata(), attr(2, 0x0006_800F, &[0; 1001])]);
        assert_eq!(
            read(&big, &LIMITS),
            Tnef::TooLarge(SizeLimit::File {
                size: 1001,
                limit: 1000
            })
        );
    }
}
