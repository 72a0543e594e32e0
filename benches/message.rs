//! `message::parse` + sender classification per sample mail, and the guard
//! paths: a mail with 2,000 small parts (the walk must stay linear) and a
//! zip bomb (stopped at the member limit while inflating).

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use sos_intake::config::Config;
use sos_intake::mailbox::senders::{self, PrefectureDirectory};
use sos_intake::message::{self, Limits};
use std::io::Write;

fn sample(name: &str) -> Vec<u8> {
    let full = format!("{}/samples/mail/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

fn many_parts(n: usize) -> Vec<u8> {
    let mut m = String::from(
        "From: a@pref.osaka.lg.jp\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n",
    );
    for i in 0..n {
        m.push_str(&format!(
            "--b\r\nContent-Type: application/octet-stream; name=f{i}.bin\r\nContent-Transfer-Encoding: base64\r\n\r\nAAEC\r\n"
        ));
    }
    m.push_str("--b--\r\n");
    m.into_bytes()
}

fn zip_bomb() -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = zip::ZipWriter::new(&mut out);
    w.start_file("bomb.bin", zip::write::SimpleFileOptions::default())
        .unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        w.write_all(&zeros).unwrap();
    }
    w.finish().unwrap();
    let bytes = out.into_inner();
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &bytes);
    format!(
        "From: a@pref.osaka.lg.jp\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
         Content-Type: application/zip; name=bomb.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
    )
    .into_bytes()
}

fn bench_parse(c: &mut Criterion) {
    let config = Config::parse(
        "[prefectures]\n\"東京都\" = [\"@fukushi.metro.tokyo.lg.jp\"]\n\"大阪府\" = [\"@pref.osaka.lg.jp\"]\n\
         \"北海道\" = [\"iryo@pref.hokkaido.lg.jp\"]\n[mail]\nauthserv_id = \"mx.mhlw.go.jp\"\n",
    )
    .unwrap();
    let dir = PrefectureDirectory::from_config(&config).unwrap();
    let limits = Limits::default();
    let mut group = c.benchmark_group("parse_and_classify");
    for (name, file) in [
        ("valid-xlsx", "01-valid-submission.eml"),
        ("three-sheets", "02-several-sheets.eml"),
        ("iso-2022-jp", "04-iso-2022-jp.eml"),
        ("forwarded-zip", "06-forwarded.eml"),
        ("bounce", "09-bounce.eml"),
    ] {
        let raw = sample(file);
        group.bench_function(name, |b| {
            b.iter(|| {
                let parsed = message::parse(black_box(&raw), &limits);
                senders::classify(&parsed, &dir, &config.mail)
            })
        });
    }
    let raw = many_parts(2000);
    group.bench_function("2000-parts", |b| {
        b.iter(|| message::parse(black_box(&raw), &limits).attachments.len())
    });
    let raw = zip_bomb();
    group.bench_function("zip-bomb-64MiB", |b| {
        b.iter(|| message::parse(black_box(&raw), &limits).attachments.len())
    });
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
