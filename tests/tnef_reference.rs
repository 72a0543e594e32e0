//! Our winmail.dat reader (`message::tnef`) against a reference: Python's
//! `tnefparse` 1.4.0 (installed by `scripts/install-deps.sh`; missing, the
//! test fails and says how to install it). Every file `tnefparse` takes out
//! of each `tests/fixtures/tnef/*.tnef` (made by its `make.py`: Outlook's
//! shape with CP932 and UTF-16 names, two files, 8-bit names in code pages
//! 932 and 1252, named and multi-valued properties, an embedded Outlook
//! item) and of the corpus's `winmail.dat` we take out too, byte for byte,
//! under the same long file name. `SOS_TNEF_EXAMPLES=<dir>` adds every
//! `.tnef` of another directory (e.g. tnefparse's own `tests/examples`,
//! docs/mail-intake.md records that run).

use serde::Deserialize;
use sha2::{Digest, Sha256};
use sos_intake::message::tnef::{self, Tnef, TnefLimits};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Lists, per file, what tnefparse takes out: the long file name
/// (PR_ATTACH_LONG_FILENAME) and the SHA-256 of every attachment with data,
/// trailing NULs removed: tnefparse strips them from MAPI binary values
/// (PR_ATTACH_DATA_BIN), which cuts the zero padding off an OLE file
/// (its `MAPI_ATTACH_DATA_OBJ.tnef` gives a 61,534-byte .doc where the
/// value, 121 sectors of 512, is 61,952 bytes: ours).
const REFERENCE: &str = r#"
import sys, json, hashlib, logging
logging.disable(logging.CRITICAL)
from tnefparse.tnef import TNEF
out = {}
for path in sys.argv[1:]:
    t = TNEF(open(path, 'rb').read(), do_checksum=False)
    files = []
    for a in t.attachments:
        data = a.data if isinstance(a.data, bytes) else b''
        if not data:
            continue
        if data[16:20] == bytes.fromhex('d0cf11e0'):
            data = data[16:]  # an OLE object: its interface id, kept by tnefparse
        longs = [m.data for m in a.mapi_attrs if m.name == 0x3707]
        name = longs[0] if longs and isinstance(longs[0], str) else None
        files.append({'long_name': name and name.rstrip('\x00'),
                      'sha256': hashlib.sha256(data.rstrip(b'\x00')).hexdigest()})
    out[path] = files
print(json.dumps(out))
"#;

#[derive(Debug, Deserialize)]
struct Theirs {
    long_name: Option<String>,
    sha256: String,
}

fn tnef_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "tnef"))
        .collect();
    files.sort();
    files
}

/// The winmail.dat of the corpus's rich-text Outlook mail, written out.
fn corpus_winmail(dir: &Path) -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let raw = std::fs::read(root.join("tests/fixtures/mail/clients/12-outlook-rich-text.eml"))
        .expect("corpus mail");
    let parsed = sos_intake::message::parse(&raw, &Default::default());
    let winmail = parsed
        .attachments
        .iter()
        .find(|a| a.path == "winmail.dat")
        .expect("winmail.dat listed");
    let path = dir.join("corpus-winmail.tnef");
    std::fs::write(&path, &winmail.bytes).expect("write");
    path
}

fn reference(files: &[PathBuf]) -> BTreeMap<String, Vec<Theirs>> {
    let out = Command::new("python3")
        .arg("-c")
        .arg(REFERENCE)
        .args(files)
        .output()
        .expect("python3 runs (scripts/install-deps.sh installs it)");
    assert!(
        out.status.success(),
        "tnefparse failed; install it with `python3 -m pip install tnefparse==1.4.0` \
         (scripts/install-deps.sh):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("reference JSON")
}

#[test]
fn we_take_out_what_tnefparse_takes_out() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut files = tnef_files(&root.join("tests/fixtures/tnef"));
    assert!(files.len() >= 6, "the TNEF fixtures are there");
    files.push(corpus_winmail(tmp.path()));
    if let Some(extra) = std::env::var_os("SOS_TNEF_EXAMPLES") {
        files.extend(tnef_files(Path::new(&extra)));
    }
    let theirs = reference(&files);
    let limits = TnefLimits {
        max_files: 10_000,
        max_file_bytes: 1 << 30,
    };
    let mut compared = 0;
    for path in &files {
        let name = path.display().to_string();
        let want = &theirs[&name];
        let ours = match tnef::read(&std::fs::read(path).expect("read"), &limits) {
            Tnef::Files(files) => files,
            other => {
                assert!(
                    want.is_empty(),
                    "{name}: we read {other:?}, tnefparse {want:?}"
                );
                continue;
            }
        };
        for w in want {
            let found = ours
                .iter()
                .find(|o| hex::encode(Sha256::digest(without_trailing_nuls(&o.bytes))) == w.sha256)
                .unwrap_or_else(|| panic!("{name}: we miss {w:?}"));
            if let Some(long) = &w.long_name {
                assert_eq!(found.name.as_deref(), Some(long.as_str()), "{name}");
            }
            compared += 1;
        }
        eprintln!("{name}: {} files, tnefparse {}", ours.len(), want.len());
    }
    assert!(compared >= 8, "compared {compared} files");
}

fn without_trailing_nuls(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    &bytes[..end]
}

/// The fuzz target's promises (`fuzz/fuzz_targets/tnef.rs`) over 20,000
/// deterministic mutations of the fixtures (bytes flipped, lengths
/// overwritten with large values, cut short): never a panic, never more
/// files or bytes than the caps and the input allow. A smoke test in CI;
/// the fuzzer explores further.
#[test]
fn mutated_streams_keep_the_caps() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let seeds: Vec<Vec<u8>> = tnef_files(&root.join("tests/fixtures/tnef"))
        .iter()
        .map(|p| std::fs::read(p).expect("read"))
        .collect();
    let limits = TnefLimits {
        max_files: 3,
        max_file_bytes: 9000,
    };
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut read_files = 0;
    for round in 0..20_000 {
        let mut data = seeds[round % seeds.len()].clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() as usize) % data.len();
            match next() % 3 {
                0 => data[at] ^= 1 << (next() % 8),
                1 => {
                    let big = [0xFF, 0xFF, 0xFF, (next() % 256) as u8];
                    let end = (at + 4).min(data.len());
                    data[at..end].copy_from_slice(&big[..end - at]);
                }
                _ => data.truncate(at.max(1)),
            }
        }
        if let Tnef::Files(files) = tnef::read(&data, &limits) {
            assert!(data.starts_with(&tnef::SIGNATURE));
            assert!(!files.is_empty() && files.len() <= limits.max_files);
            let total: usize = files.iter().map(|f| f.bytes.len()).sum();
            assert!(total <= data.len(), "round {round}: more bytes out than in");
            assert!(
                files
                    .iter()
                    .all(|f| f.bytes.len() as u64 <= limits.max_file_bytes)
            );
            read_files += files.len();
        }
    }
    assert!(
        read_files > 1000,
        "most mutations still hold files: {read_files}"
    );
}
