//! Every Japanese sentence the gateway says, in one place: finding messages,
//! CLI report wording, mail subjects. Longer texts (mail bodies, pages) live in
//! `templates/`.

/// Wording of the workbooks we write (annotated copy, template).
pub mod workbook;
