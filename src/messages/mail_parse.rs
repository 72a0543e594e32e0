//! Japanese wording about received files: how an unsupported attachment is
//! described to the official in a reply.

use crate::message::OtherFile;

/// The Japanese description of a file we do not read.
pub fn other_file(file: OtherFile) -> &'static str {
    match file {
        OtherFile::WordDocument => "文書ファイル（Word等）",
        OtherFile::Presentation => "プレゼンテーションファイル（PowerPoint等）",
        OtherFile::OtherOfficeDocument => "表計算以外のOffice文書",
        OtherFile::OutlookMessage => "Outlookメッセージファイル（.msg）",
        OtherFile::Pdf => "PDFファイル",
        OtherFile::Image => "画像ファイル",
        OtherFile::Csv => "CSVファイル",
        OtherFile::Html => "HTMLファイル",
        OtherFile::Text => "テキストファイル",
        OtherFile::OtherArchive => "zip以外の圧縮ファイル（lzh・7z・rar等）",
        OtherFile::OutlookTnef => "Outlookのリッチテキスト形式の添付（winmail.dat）",
        OtherFile::Signature => "電子署名",
        OtherFile::SmimeEnvelope => {
            "署名と本文が一体の、または暗号化されたS/MIMEメール（smime.p7m）"
        }
        OtherFile::DamagedArchive => "破損した圧縮ファイル",
        OtherFile::Empty => "空のファイル",
        OtherFile::Unknown => "種類を判別できないファイル",
    }
}
