//! Golden tests: `sos-intake check --json` over every file of
//! `samples/sheets/` (and `bad/`), compared with the reviewed
//! `<name>.expected.jsonl` beside each file. The LibreOffice copies
//! (`lo-xlsx/`, `lo-xls/`, `lo-ods/`, and two in `lo-xlsm/`) must give exactly
//! the findings of their originals. `UPDATE_GOLDEN=1` rewrites the golden files (then review the
//! diff by hand).
//!
//! Besides the goldens, [`EXPECTED`] states per sample, by hand, which
//! findings (severity, code, cell) it must produce and nothing else, so a
//! careless golden update cannot hide a regression.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A finding as reviewed: (severity, code, cell).
type Key = (&'static str, &'static str, &'static str);

/// Every sample and its findings as (severity, code, cell) per form, in
/// output order. Unreadable files list their reason code instead.
const EXPECTED: &[(&str, &[&[Key]])] = &[
    ("valid.xlsx", &[&[]]),
    ("valid-national-direct.xlsx", &[&[]]),
    ("valid-hokkaido-numeric-code.xlsx", &[&[]]),
    ("valid-rows-inserted.xlsx", &[&[]]),
    ("valid-merged-values.xlsx", &[&[]]),
    ("valid-fullwidth.xlsx", &[&[]]),
    ("valid-text-numbers.xlsx", &[&[]]),
    ("valid-wave-dash.xlsx", &[&[]]),
    ("valid-formula-cached.xlsx", &[&[]]),
    // The simple sum is computed when no cached value exists.
    ("formula-uncached.xlsx", &[&[]]),
    ("valid-gmis-names.xlsx", &[&[]]),
    ("valid-two-forms.xlsx", &[&[], &[]]),
    (
        "all-items-requested.xlsx",
        &[&[
            ("error", "item.not_accepted", "C19"),
            ("error", "item.not_accepted", "C20"),
            ("error", "item.not_accepted", "C21"),
            ("error", "item.not_accepted", "C22"),
        ]],
    ),
    // Two rows and a column inserted: G31 of the reference is H33 here.
    (
        "error-rows-inserted-total-mismatch.xlsx",
        &[&[("error", "prefecture.total.mismatch", "H33")]],
    ),
    (
        "error-institution-field-missing.xlsx",
        &[&[("error", "institution.field.missing", "F16")]],
    ),
    (
        "error-institution-code-format.xlsx",
        &[&[("error", "institution.code.format", "C13")]],
    ),
    (
        "error-institution-code-prefecture-mismatch.xlsx",
        &[&[("error", "institution.code.prefecture_mismatch", "C13")]],
    ),
    (
        "warning-institution-code-check-digit.xlsx",
        &[&[("warning", "institution.code.check_digit", "C13")]],
    ),
    (
        "error-institution-postcode-format.xlsx",
        &[&[("error", "institution.postcode.format", "C14")]],
    ),
    (
        "error-institution-prefecture-unknown.xlsx",
        &[&[("error", "institution.prefecture.unknown", "F14")]],
    ),
    (
        "warning-institution-address-prefecture.xlsx",
        &[&[("warning", "institution.address.prefecture", "C15")]],
    ),
    (
        "error-institution-phone-format.xlsx",
        &[&[("error", "institution.phone.format", "C16")]],
    ),
    (
        "error-institution-no-item-requested.xlsx",
        &[&[("error", "institution.no_item_requested", "C19")]],
    ),
    // An invalid request word leaves no valid request, so the filled
    // prefecture row is for an item not (validly) requested.
    (
        "error-item-request-invalid.xlsx",
        &[&[
            ("error", "item.request.invalid", "C23"),
            ("error", "institution.no_item_requested", "C19"),
            ("error", "prefecture.row_for_unrequested_item", "C31"),
        ]],
    ),
    (
        "error-item-quantity-invalid.xlsx",
        &[&[("error", "item.quantity.invalid", "D23")]],
    ),
    (
        "error-item-quantity-negative.xlsx",
        &[&[("error", "item.quantity.invalid", "D23")]],
    ),
    (
        "error-item-quantity-missing.xlsx",
        &[&[("error", "item.quantity.missing", "F23")]],
    ),
    (
        "warning-item-quantity-pairs.xlsx",
        &[&[("warning", "item.quantity.pairs", "F23")]],
    ),
    (
        "error-item-outlook-missing.xlsx",
        &[&[("error", "item.outlook.missing", "E23")]],
    ),
    (
        "error-item-outlook-invalid.xlsx",
        &[&[("error", "item.outlook.invalid", "E23")]],
    ),
    (
        "error-item-outlook-not-eligible.xlsx",
        &[&[("error", "item.outlook.not_eligible", "E23")]],
    ),
    (
        "error-item-reason-missing.xlsx",
        &[&[("error", "item.reason.missing", "H23")]],
    ),
    (
        "error-item-reason-economic.xlsx",
        &[&[("error", "item.reason.economic", "H23")]],
    ),
    (
        "warning-item-stock-over-month.xlsx",
        &[&[("warning", "item.stock.over_month", "D23")]],
    ),
    (
        "warning-item-no-shortfall.xlsx",
        &[&[("warning", "item.no_shortfall", "F23")]],
    ),
    (
        "error-item-not-accepted.xlsx",
        &[&[("error", "item.not_accepted", "C19")]],
    ),
    (
        "error-prefecture-need-missing.xlsx",
        &[&[("error", "prefecture.need.missing", "C31")]],
    ),
    (
        "error-prefecture-need-invalid.xlsx",
        &[&[("error", "prefecture.need.invalid", "C31")]],
    ),
    (
        "error-prefecture-method-missing.xlsx",
        &[&[("error", "prefecture.method.missing", "D31")]],
    ),
    (
        "error-prefecture-method-invalid.xlsx",
        &[&[("error", "prefecture.method.invalid", "D31")]],
    ),
    (
        "error-prefecture-method-stock-with-national.xlsx",
        &[&[("error", "prefecture.method.stock_with_national", "F31")]],
    ),
    (
        "error-prefecture-quantity-invalid.xlsx",
        &[&[("error", "prefecture.quantity.invalid", "E31")]],
    ),
    (
        "error-prefecture-total-mismatch.xlsx",
        &[&[("error", "prefecture.total.mismatch", "G31")]],
    ),
    (
        "error-prefecture-total-zero.xlsx",
        &[&[("error", "prefecture.total.zero", "G31")]],
    ),
    (
        "warning-prefecture-total-guideline.xlsx",
        &[&[("warning", "prefecture.total.guideline", "G31")]],
    ),
    (
        "warning-prefecture-gloves-size-limit.xlsx",
        &[&[("warning", "prefecture.gloves.size_limit", "G31")]],
    ),
    (
        "error-prefecture-opinion-count-missing.xlsx",
        &[&[("error", "prefecture.opinion.count_missing", "H31")]],
    ),
    (
        "error-prefecture-opinion-reason-missing.xlsx",
        &[&[("error", "prefecture.opinion.reason_missing", "H31")]],
    ),
    (
        "error-prefecture-not-needed-without-reason.xlsx",
        &[&[("error", "prefecture.opinion.reason_missing", "H31")]],
    ),
    (
        "error-prefecture-quantity-not-needed-nonzero.xlsx",
        &[&[
            ("error", "prefecture.quantity.not_needed_nonzero", "E31"),
            ("error", "prefecture.quantity.not_needed_nonzero", "G31"),
        ]],
    ),
    (
        "error-prefecture-row-for-unrequested-item.xlsx",
        &[&[("error", "prefecture.row_for_unrequested_item", "C28")]],
    ),
    (
        "error-mhlw-not-empty.xlsx",
        &[&[
            ("error", "mhlw.not_empty", "C39"),
            ("error", "mhlw.not_empty", "D39"),
        ]],
    ),
    // The overwritten 医療機関コード label cannot be located; the finding
    // points at the block heading.
    (
        "error-sheet-label-missing.xlsx",
        &[&[("error", "sheet.label.missing", "A11")]],
    ),
    // The gloves row label of the institution table is gone: its values are
    // orphaned, so nothing is requested and the filled prefecture row is
    // for an item not requested.
    (
        "error-sheet-item-row-missing.xlsx",
        &[&[
            ("warning", "sheet.item_row.missing", "B18"),
            ("error", "institution.no_item_requested", "C19"),
            ("error", "prefecture.row_for_unrequested_item", "C31"),
        ]],
    ),
    // B30 relabelled 非滅菌手袋: the gown row is missing, the first gloves
    // row (B30) is empty, the second (B31) is the duplicate.
    (
        "error-sheet-item-row-duplicate.xlsx",
        &[&[
            ("error", "sheet.item_row.duplicate", "B31"),
            // The isolation gown row lost to the duplicate is not reported:
            // gowns are not accepted now (default policy).
            ("error", "prefecture.need.missing", "C30"),
        ]],
    ),
    // A missing block has no cell to point at.
    (
        "error-sheet-block-missing.xlsx",
        &[&[("error", "sheet.block.missing", "")]],
    ),
];

/// Unreadable files and their reason codes.
const UNREADABLE: &[(&str, &str)] = &[
    ("bad/empty.xlsx", "empty"),
    ("bad/encrypted.xlsx", "encrypted"),
    ("bad/no-form.xlsx", "no_form"),
    ("bad/text.xlsx", "not_a_spreadsheet"),
    ("bad/truncated.xlsx", "corrupt"),
    ("bad/word-document.xlsx", "not_a_spreadsheet"),
    ("bad/zip-bomb.xlsx", "too_large"),
];

/// The LibreOffice copy directories and their extension.
const COPIES: [(&str, &str); 3] = [("lo-xlsx", "xlsx"), ("lo-xls", "xls"), ("lo-ods", "ods")];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn samples() -> PathBuf {
    root().join("samples/sheets")
}

/// An empty configuration, so that a local `sos-intake.toml` cannot change
/// the defaults the goldens were made with.
fn default_config() -> tempfile::NamedTempFile {
    tempfile::NamedTempFile::new().expect("temp config")
}

/// Runs `sos-intake check --json` on `files` (relative to the repository).
fn check(config: &Path, files: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .current_dir(root())
        .arg("--config")
        .arg(config)
        .args(["check", "--json"])
        .args(files)
        .output()
        .expect("run sos-intake")
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Sample files: every file under samples/sheets/ and bad/ but the
/// goldens and the README, by path relative to samples/sheets/.
fn sample_files() -> Vec<String> {
    let mut files = Vec::new();
    for dir in ["", "bad"] {
        let entries = std::fs::read_dir(samples().join(dir)).expect("samples dir");
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if entry.path().is_file() && !name.ends_with(".expected.jsonl") && name != "README.md" {
                files.push(if dir.is_empty() {
                    name
                } else {
                    format!("{dir}/{name}")
                });
            }
        }
    }
    files.sort();
    files
}

fn golden_path(sample: &str) -> PathBuf {
    samples().join(format!("{sample}.expected.jsonl"))
}

/// The exit code the CLI contract gives for these output lines.
fn contract_exit_code(lines: &[Value]) -> i32 {
    let statuses: Vec<&str> = lines.iter().filter_map(|l| l["status"].as_str()).collect();
    if statuses.contains(&"unreadable") {
        2
    } else if statuses.contains(&"errors") {
        1
    } else {
        0
    }
}

/// (severity, code, cell) of each form's findings.
fn finding_keys(lines: &[Value]) -> Vec<Vec<(String, String, String)>> {
    lines
        .iter()
        .map(|line| {
            line["findings"]
                .as_array()
                .map(|fs| {
                    fs.iter()
                        .map(|f| {
                            let s = |k: &str| f[k].as_str().unwrap_or("").to_string();
                            (s("severity"), s("code"), s("cell"))
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect()
}

#[test]
fn every_sample_matches_its_golden_file_and_exit_code() {
    let config = default_config();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for sample in sample_files() {
        let path = format!("samples/sheets/{sample}");
        let output = check(config.path(), &[&path]);
        let lines = json_lines(&output);
        let code = output.status.code().unwrap_or(-1);
        assert!(!lines.is_empty(), "{sample}: at least one line");
        assert_eq!(code, contract_exit_code(&lines), "{sample}: exit code");
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains("panicked"),
            "{sample} panicked"
        );
        let golden = golden_path(&sample);
        let actual: String = lines.iter().map(|l| format!("{l}\n")).collect();
        if update {
            std::fs::write(&golden, &actual).expect("write golden");
            continue;
        }
        let expected = std::fs::read_to_string(&golden).unwrap_or_default();
        let expected: Vec<Value> = expected
            .lines()
            .map(|l| serde_json::from_str(l).expect("golden is JSON"))
            .collect();
        if expected != lines {
            failures.push(format!(
                "{sample}:\n  expected {expected:?}\n  actual   {lines:?}"
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "golden mismatches (UPDATE_GOLDEN=1 to rewrite, then review):\n{}",
        failures.join("\n")
    );
}

#[test]
fn every_sample_has_its_reviewed_findings_and_nothing_else() {
    let config = default_config();
    let listed: Vec<&str> = EXPECTED
        .iter()
        .map(|(n, _)| *n)
        .chain(UNREADABLE.iter().map(|(n, _)| *n))
        .collect();
    for sample in sample_files() {
        assert!(
            listed.contains(&sample.as_str()),
            "{sample} has no reviewed expectation in EXPECTED/UNREADABLE"
        );
    }
    for (sample, forms) in EXPECTED {
        let output = check(config.path(), &[&format!("samples/sheets/{sample}")]);
        let lines = json_lines(&output);
        let expected: Vec<Vec<(String, String, String)>> = forms
            .iter()
            .map(|fs| {
                fs.iter()
                    .map(|(s, c, cell)| (s.to_string(), c.to_string(), cell.to_string()))
                    .collect()
            })
            .collect();
        assert_eq!(finding_keys(&lines), expected, "{sample}");
        let has_error = forms
            .iter()
            .flat_map(|f| f.iter())
            .any(|(s, _, _)| *s == "error");
        assert_eq!(
            output.status.code(),
            Some(if has_error { 1 } else { 0 }),
            "{sample}: exit code"
        );
        if sample.starts_with("error-") {
            assert!(has_error, "{sample} must contain an error");
        }
        if sample.starts_with("warning-") {
            assert!(
                !has_error && forms.iter().any(|f| !f.is_empty()),
                "{sample}: warnings only"
            );
        }
    }
    for (sample, reason) in UNREADABLE {
        let output = check(config.path(), &[&format!("samples/sheets/{sample}")]);
        let lines = json_lines(&output);
        assert_eq!(lines.len(), 1, "{sample}");
        assert_eq!(lines[0]["status"], "unreadable", "{sample}");
        assert_eq!(lines[0]["reason"]["code"], *reason, "{sample}");
        assert_eq!(output.status.code(), Some(2), "{sample}");
    }
}

#[test]
fn libreoffice_copies_give_the_findings_of_their_originals() {
    let config = default_config();
    let originals: Vec<String> = sample_files()
        .into_iter()
        .filter(|s| !s.starts_with("bad/"))
        .collect();
    for (dir, ext) in COPIES {
        let mut seen = 0;
        for original in &originals {
            let stem = original.trim_end_matches(".xlsx");
            let copy = format!("samples/sheets/{dir}/{stem}.{ext}");
            assert!(
                root().join(&copy).is_file(),
                "missing LibreOffice copy {copy}"
            );
            let a = check(config.path(), &[&format!("samples/sheets/{original}")]);
            let b = check(config.path(), &[&copy]);
            let strip = |lines: Vec<Value>| -> Vec<Value> {
                lines
                    .into_iter()
                    .map(|mut l| {
                        l.as_object_mut().map(|o| o.remove("file"));
                        l
                    })
                    .collect()
            };
            assert_eq!(
                strip(json_lines(&b)),
                strip(json_lines(&a)),
                "{copy} differs from {original}"
            );
            assert_eq!(b.status.code(), a.status.code(), "{copy}: exit code");
            seen += 1;
        }
        assert!(seen > 40, "{dir}: only {seen} copies");
    }
}

#[test]
fn macro_enabled_copies_give_the_findings_of_their_originals() {
    let config = default_config();
    let dir = samples().join("lo-xlsm");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("lo-xlsm").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(stem) = name.strip_suffix(".xlsm") else {
            continue;
        };
        let a = check(config.path(), &[&format!("samples/sheets/{stem}.xlsx")]);
        let b = check(config.path(), &[&format!("samples/sheets/lo-xlsm/{name}")]);
        assert_eq!(
            finding_keys(&json_lines(&b)),
            finding_keys(&json_lines(&a)),
            "{name}"
        );
        assert_eq!(b.status.code(), a.status.code(), "{name}");
        seen += 1;
    }
    assert_eq!(seen, 2);
}

#[test]
fn exit_code_is_the_worst_over_all_files() {
    let config = default_config();
    let ok = "samples/sheets/valid.xlsx";
    let warning = "samples/sheets/warning-item-stock-over-month.xlsx";
    let error = "samples/sheets/error-item-reason-economic.xlsx";
    let unreadable = "samples/sheets/bad/truncated.xlsx";
    assert_eq!(check(config.path(), &[ok, warning]).status.code(), Some(0));
    assert_eq!(
        check(config.path(), &[ok, error, warning]).status.code(),
        Some(1)
    );
    let all = check(config.path(), &[unreadable, ok, error]);
    assert_eq!(all.status.code(), Some(2));
    // Every file still gets its line, the unreadable one with its reason.
    let lines = json_lines(&all);
    let statuses: Vec<&str> = lines.iter().filter_map(|l| l["status"].as_str()).collect();
    assert_eq!(statuses, vec!["unreadable", "ok", "errors"]);
}

#[test]
fn all_items_requested_is_valid_when_all_items_are_accepted() {
    let mut config = tempfile::NamedTempFile::new().expect("temp config");
    writeln!(
        config,
        "accepted_items = [\"surgical_mask\", \"n95_mask\", \"face_shield\", \"isolation_gown\", \"non_sterile_gloves\"]"
    )
    .expect("write config");
    let output = check(config.path(), &["samples/sheets/all-items-requested.xlsx"]);
    let lines = json_lines(&output);
    assert_eq!(
        finding_keys(&lines),
        vec![Vec::<(String, String, String)>::new()]
    );
    assert_eq!(output.status.code(), Some(0));
}

/// Runs check on a generated file; it must answer (one line, no panic).
fn check_generated(bytes: &[u8], name: &str) -> (Vec<Value>, i32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, bytes).expect("write");
    let config = default_config();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(config.path())
        .args(["check", "--json"])
        .arg(&path)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // A hang is a failure, not a slow pass: kill after a generous bound.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(300);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("{name}: check did not finish");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let output = child.wait_with_output().expect("output");
    assert!(
        !String::from_utf8_lossy(&output.stderr).contains("panicked"),
        "{name} panicked"
    );
    (json_lines(&output), output.status.code().unwrap_or(-1))
}

#[test]
fn a_sheet_with_a_million_rows_gets_an_answer_without_panic() {
    // valid.xlsx with a number in column A of every row down to Excel's last.
    let bytes = rewrite_part(
        &std::fs::read(samples().join("valid.xlsx")).expect("valid.xlsx"),
        |name, data| {
            if name != "xl/worksheets/sheet1.xml" {
                return data;
            }
            let mut rows = String::with_capacity(48 * 1_048_576);
            for row in 41..=1_048_576u32 {
                rows.push_str(&format!(
                    "<row r=\"{row}\"><c r=\"A{row}\"><v>{row}</v></c></row>"
                ));
            }
            let data = data.replace(
                "<dimension ref=\"A1:H39\"/>",
                "<dimension ref=\"A1:H1048576\"/>",
            );
            data.replace("</sheetData>", &format!("{rows}</sheetData>"))
        },
    );
    let (lines, code) = check_generated(&bytes, "million-rows.xlsx");
    assert_eq!(lines.len(), 1);
    // Either the form above the junk is read as it is (valid), or a size
    // guard refuses the file; never a crash or a hang.
    match lines[0]["status"].as_str() {
        Some("ok") => assert_eq!(code, 0),
        Some("unreadable") => {
            assert_eq!(lines[0]["reason"]["code"], "too_large");
            assert_eq!(code, 2);
        }
        other => panic!("unexpected status {other:?}"),
    }
}

/// Rewrites every part of a zip through `change(name, text)`.
fn rewrite_part(zip_bytes: &[u8], change: impl Fn(&str, String) -> String) -> Vec<u8> {
    use std::io::Read;
    let mut source = zip::ZipArchive::new(std::io::Cursor::new(zip_bytes)).expect("zip");
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for i in 0..source.len() {
        let mut part = source.by_index(i).expect("part");
        let name = part.name().expect("name").to_string();
        let mut data = String::new();
        part.read_to_string(&mut data).expect("utf-8");
        let data = change(&name, data);
        out.start_file(name.as_str(), options).expect("start");
        out.write_all(data.as_bytes()).expect("write");
    }
    out.finish().expect("finish").into_inner()
}

/// valid.xlsx with the 調達不可事由 replaced by 10 MB of text (over Excel's
/// 32,767-character cell limit, so written into the XML directly).
fn ten_megabytes_in_one_cell() -> Vec<u8> {
    let original = std::fs::read(samples().join("valid.xlsx")).expect("valid.xlsx");
    let huge = "欠品".repeat(10 * 1024 * 1024 / 6);
    rewrite_part(&original, |name, data| {
        if name == "xl/sharedStrings.xml" {
            assert!(data.contains("欠品のため卸から入荷未定"));
            data.replace("欠品のため卸から入荷未定", &huge)
        } else {
            data
        }
    })
}

#[test]
fn ten_megabytes_of_text_in_one_cell_gets_an_answer_without_panic() {
    let (lines, code) = check_generated(&ten_megabytes_in_one_cell(), "ten-megabytes.xlsx");
    assert_eq!(lines.len(), 1);
    let status = lines[0]["status"].as_str().unwrap_or("");
    // Either refused by a size guard or read and judged; never a crash.
    assert!(["unreadable", "errors", "ok"].contains(&status), "{status}");
    assert_eq!(code, contract_exit_code(&lines));
    if status == "unreadable" {
        assert_eq!(lines[0]["reason"]["code"], "too_large");
    }
}

#[test]
fn template_command_writes_a_form_that_check_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("blank.xlsx");
    let config = default_config();
    let status = Command::new(env!("CARGO_BIN_EXE_sos-intake"))
        .arg("--config")
        .arg(config.path())
        .arg("template")
        .arg(&out)
        .status()
        .expect("run template");
    assert!(status.success());
    let output = check(config.path(), &[out.to_str().expect("utf-8 path")]);
    let lines = json_lines(&output);
    assert_eq!(lines.len(), 1);
    // Blank: readable as the form, with errors asking for every field.
    assert_eq!(lines[0]["status"], "errors");
    let codes: BTreeMap<String, usize> =
        finding_keys(&lines)[0]
            .iter()
            .fold(BTreeMap::new(), |mut m, (_, c, _)| {
                *m.entry(c.clone()).or_default() += 1;
                m
            });
    assert_eq!(
        codes.get("institution.field.missing"),
        Some(&7),
        "{codes:?}"
    );
}
