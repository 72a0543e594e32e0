//! What we say when a reader process could not read a file or a message
//! safely (see [`crate::readers`]).

use crate::readers::ReaderFailure;

/// The problem kind of a file whose reader failed (the reply's wording is
/// [`file_unreadable`]).
pub const FILE_KIND: &str = "unreadable";

/// The sender's explanation for an attachment whose reader crashed, ran
/// out of time or memory, or answered nonsense.
pub fn file_unreadable() -> &'static str {
    "このファイルは安全に読み取ることができませんでした（読み取り処理が時間またはメモリの上限を超えたか、途中で異常終了しました）。ファイルが壊れている可能性があります。Excel で開けることを確かめ、保存し直してから再送してください。"
}

/// `check`'s line for a file whose reader failed, with the cause.
pub fn check_unreadable(failure: &ReaderFailure) -> String {
    let cause = match failure {
        ReaderFailure::Crashed(_) => "読み取り処理が異常終了しました",
        ReaderFailure::TimedOut => "読み取り処理が時間の上限を超えました",
        ReaderFailure::OutOfMemory => "読み取り処理がメモリの上限を超えました",
        ReaderFailure::Protocol(_) => "読み取り処理が不正な応答を返しました",
        ReaderFailure::Unavailable(_) => "読み取り処理を開始できませんでした",
    };
    format!("{}（{cause}）", file_unreadable())
}
