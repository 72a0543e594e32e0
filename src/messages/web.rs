//! Wording of the staff review desk: refusals, notices after an action, and
//! the `users` command. Page text itself lives in `templates/web/`.

/// `users add`: the name is empty or too long.
pub fn bad_user_name() -> &'static str {
    "ユーザー名を1〜64文字で指定してください。"
}

/// `users add`: the password is too short.
pub fn weak_password(min: usize) -> String {
    format!("パスワードは{min}文字以上にしてください。")
}

/// `users add`: the two passwords typed differ.
pub fn passwords_differ() -> &'static str {
    "2回入力したパスワードが一致しません。"
}

/// `users add`: prompt for the password.
pub fn password_prompt(name: &str) -> String {
    format!("{name} のパスワード: ")
}

/// `users add`: prompt for the password again.
pub fn password_again_prompt() -> &'static str {
    "もう一度入力してください: "
}

/// `users add`: done.
pub fn user_saved(name: &str, role: &str, new: bool) -> String {
    if new {
        format!("ユーザー {name}（{role}）を作成しました。")
    } else {
        format!(
            "ユーザー {name} のパスワードと権限（{role}）を更新しました。既存のセッションは終了しました。"
        )
    }
}

/// `users remove`: done or unknown.
pub fn user_removed(name: &str, found: bool) -> String {
    if found {
        format!("ユーザー {name} を削除しました。")
    } else {
        format!("ユーザー {name} は登録されていません。")
    }
}

/// A browser-set password contains the account name.
pub fn password_contains_name() -> &'static str {
    "パスワードにユーザー名を含めないでください。"
}

/// A browser-set password is one character repeated or digits only.
pub fn password_too_simple() -> &'static str {
    "同じ文字の繰り返しや数字だけのパスワードは使えません。"
}

/// The current password typed on the password page is wrong.
pub fn current_password_wrong() -> &'static str {
    "現在のパスワードが正しくありません。"
}

/// An admin tried to disable or demote their own account.
pub fn not_on_own_account() -> &'static str {
    "自分自身のアカウントは無効化・権限変更できません。別の管理者に依頼してください。"
}

/// Where open work lies when a list is empty: `12月3日（木）分に6件あります`.
pub fn work_elsewhere(date: chrono::NaiveDate, count: i64) -> String {
    use chrono::Datelike;
    format!(
        "{}月{}日（{}）分に{}件あります",
        date.month(),
        date.day(),
        crate::messages::calendar::weekday(date.weekday()),
        count
    )
}

/// The address form arrived without an address.
pub fn address_required() -> &'static str {
    "住所を入力してください。"
}

/// The 配送先リスト's flag on a row without an address.
pub fn delivery_address_missing() -> &'static str {
    "住所未登録（送付前に要確認）"
}

/// Bulk approval: an item approved as the prefecture proposed.
pub fn bulk_approve_line(quantity: i64) -> String {
    format!(
        "承認（配布数 {}枚）",
        crate::messages::mail::quantity(Some(quantity))
    )
}

/// Bulk approval: an item refused as the prefecture answered 否.
pub fn bulk_refuse_line(reason: &str) -> String {
    format!("不承認（{reason}）")
}

/// Bulk approval: an item already decided or without a proposal.
pub fn bulk_left_alone() -> &'static str {
    "変更しません（判断済み、または都道府県案に配布数がありません）"
}

/// Bulk approval: nothing ticked.
pub fn bulk_none_selected() -> &'static str {
    "承認する要請を一覧で選んでください。"
}

/// Bulk approval: more than a page ticked.
pub fn bulk_too_many(max: usize) -> String {
    format!("一度に承認できるのは{max}件までです。")
}

/// Bulk approval: a request no longer under review.
pub fn bulk_not_in_review(status: &str) -> String {
    format!("状態が「{status}」のため判断できません（都道府県・国確認中の要請のみ）。")
}

/// A role that is neither reviewer nor admin.
pub fn bad_role(value: &str) -> String {
    format!("権限「{value}」が不明です。")
}

/// An account name that is already taken.
pub fn account_exists(name: &str) -> String {
    format!("ユーザー「{name}」は既に登録されています。")
}

/// The one-time password must be replaced before anything else.
pub fn must_change_password() -> &'static str {
    "管理者が発行した一時パスワードでログインしています。先に自分のパスワードを設定してください。"
}

/// Sign-in failed (never says which of the two was wrong).
pub fn login_failed() -> &'static str {
    "ユーザー名またはパスワードが正しくありません。"
}

// --- Sign-in limits (issue 11, point 7). None of these says whether the
// account exists: names that do not exist are counted and locked alike.

/// Too many wrong passwords for this account name just now: wait.
pub fn signin_wait(seconds: u64) -> String {
    format!(
        "ログインの失敗が続いたため、次の試行まで少しお待ちいただいています。{seconds} 秒後にもう一度お試しください。"
    )
}

/// Too many wrong passwords for this account name: locked for a while.
pub fn signin_account_locked(minutes: u64) -> String {
    format!(
        "ログインの試行が続けて失敗したため、このアカウントは一時的にロックされています。{minutes} 分後にもう一度お試しください。"
    )
}

/// Too many wrong passwords from this client address: locked for a while.
pub fn signin_address_locked(minutes: u64) -> String {
    format!(
        "この接続元からのログインの失敗が続いたため、一時的にログインを受け付けていません。{minutes} 分後にもう一度お試しください。"
    )
}

/// Every password check slot is taken: try again shortly.
pub fn signin_busy() -> &'static str {
    "ただいまログインが混み合っています。少し時間をおいてからもう一度お試しください。"
}

// --- End of sign-in limits.

/// A page that needs signing in was asked for anonymously.
pub fn login_required() -> &'static str {
    "ログインしてください。"
}

/// A form arrived without its CSRF token, or with a wrong one.
pub fn csrf_refused() -> &'static str {
    "フォームの有効期限が切れたか、不正な送信です。ページを再読み込みしてからやり直してください。"
}

/// A reviewer tried an admin action.
pub fn admin_only() -> &'static str {
    "この操作は管理者のみ行えます。"
}

/// Nothing here.
pub fn not_found() -> &'static str {
    "ページが見つかりません。"
}

/// Something broke on our side.
pub fn internal_error() -> &'static str {
    "システムエラーが発生しました。時間をおいて再度お試しください。問題が続く場合は管理者に連絡してください。"
}

/// A number field holds something other than a non-negative integer.
pub fn bad_quantity(value: &str) -> String {
    format!("配布数「{value}」は0以上の整数で入力してください。")
}

/// A date field holds something other than `YYYY-MM-DD`.
pub fn bad_date(field: &str, value: &str) -> String {
    format!("{field}「{value}」は YYYY-MM-DD 形式の日付で入力してください。")
}

/// Approve needs a quantity and a ship date.
pub fn approve_needs_quantity_and_date() -> &'static str {
    "承認には配布数（1以上）と送付日が必要です。"
}

/// Refusing needs a reason.
pub fn refuse_needs_reason() -> &'static str {
    "不承認には理由が必要です。"
}

/// The decision field is neither approve nor refuse.
pub fn bad_decision() -> &'static str {
    "承認または不承認を選んでください。"
}

/// Moving a batch needs a reason.
pub fn move_needs_reason() -> &'static str {
    "対応日の変更には理由が必要です。"
}

/// An unknown item in a form.
pub fn bad_item(value: &str) -> String {
    format!("物品「{value}」が不明です。")
}

/// A prefecture name that is not one of the 47.
pub fn bad_prefecture(value: &str) -> String {
    format!("都道府県「{value}」が不明です。")
}

/// The reason a decision form starts with where the prefecture answered 否.
pub fn refuse_as_prefecture_said() -> &'static str {
    "都道府県の判断（否）のため"
}

/// A form or upload larger than the server accepts.
pub fn upload_too_large() -> &'static str {
    "送信されたデータが大きすぎます（上限 16MB）。ファイルを確認してください。"
}

/// The G-MIS upload form arrived without a file.
pub fn gmis_no_file() -> &'static str {
    "CSVファイルを選んでから「内容を確認する」を押してください。"
}

/// The G-MIS upload could not be read as a form.
pub fn gmis_bad_upload() -> &'static str {
    "アップロードされたデータを読み取れませんでした。もう一度ファイルを選んでください。"
}

/// The file to import is no longer kept (or the link was altered).
pub fn gmis_file_gone() -> &'static str {
    "取り込むファイルが見つかりません。もう一度アップロードしてください。"
}

/// Notice shown after an action, by its code in the redirect.
pub fn notice(code: &str) -> Option<&'static str> {
    Some(match code {
        "decided" => "判断を保存しました。",
        "completed" => "受付完了にしました。都道府県への内示メールを送信キューに入れました。",
        "moved" => "対応日を変更しました。",
        "released" => "隔離されたメールを処理しました。",
        "authorised" => "送信元を許可リストに追加し、メールを処理しました。",
        "resent" => "再送信を予約しました。",
        "retried" => "処理不能メールを再処理しました。結果は受付一覧・送信キューをご確認ください。",
        "retry_failed" => "再処理しましたが、今回も処理できませんでした。理由欄をご確認ください。",
        "logged_out" => "ログアウトしました。",
        "marked_read" => "連絡を既読にしました。",
        "already_read" => "この連絡はすでに既読です。",
        "address_saved" => "配送先の住所を保存しました。",
        "password_changed" => "パスワードを変更しました。他の端末のログインは終了しました。",
        "account_disabled" => "アカウントを無効にしました。そのユーザーのログインは終了しました。",
        "account_enabled" => "アカウントを有効にしました。",
        "account_role_changed" => "権限を変更しました。次回ログインから有効です。",
        "must_change" => {
            "管理者が発行した一時パスワードでログインしています。先に自分のパスワードを設定してください。"
        }
        _ => return None,
    })
}

/// Subject of the 内示 mail.
pub fn naiji_subject(receipt: &str, institution: &str) -> String {
    format!("【内示】緊急配布要請 {receipt}（{institution}）")
}

/// 内示 body: an approved line.
pub fn naiji_approved_line(item: &str, quantity: &str, ship_date: &str) -> String {
    format!("・{item}：承認　配布数 {quantity}枚　送付日 {ship_date}")
}

/// 内示 body: a refused line.
pub fn naiji_refused_line(item: &str, reason: &str) -> String {
    format!("・{item}：不承認（理由：{reason}）")
}

/// The quarantined mail was released already.
pub fn already_released() -> &'static str {
    "このメールはすでに処理済みです。"
}

/// The quarantined mail's sender address cannot be used.
pub fn unusable_sender(address: &str) -> String {
    format!("送信元アドレス「{address}」が不正なため、処理できません。")
}

/// Why a message was set aside as 処理不能, for the staff list.
pub fn set_aside_reason(reason: crate::queue::attempts::SetAsideReason, attempts: i64) -> String {
    use crate::queue::attempts::SetAsideReason::*;
    match reason {
        Permanent => {
            "メールを読み取れない、または保存できない内容でした（再試行しても同じ結果になります）。"
                .into()
        }
        RepeatedFailure => format!("処理が {attempts} 回続けて失敗しました。"),
        Interrupted => format!(
            "処理中にゲートウェイが停止しました（{attempts} 回）。このメールが原因の可能性があります。"
        ),
    }
}

/// The source of a set-aside message, for the staff list.
pub fn source_label(source: &str) -> &str {
    match source {
        "maildir" => "受信フォルダ",
        "imap" => "IMAP",
        "ingest" => "MTA 連携",
        "retry" => "再処理",
        other => other,
    }
}

/// Why a mail is in quarantine, by `quarantine.kind`, for the staff list.
pub fn quarantine_kind(kind: &str) -> &'static str {
    match kind {
        "unauthenticated_sender" => {
            "登録済みの都道府県アドレスですが、送信元の認証（SPF/DKIM/DMARC）が確認できませんでした。なりすましの可能性があります。"
        }
        "no_address" => "送信元アドレスがありません。",
        _ => "都道府県の登録アドレスにない送信元です。",
    }
}

/// Why a mail was not answered, or is held, for the 無視・保留したメール
/// page (issue 12, point 4).
pub fn unanswered_reason(reason: crate::unanswered::Reason) -> &'static str {
    use crate::unanswered::Reason::*;
    match reason {
        AutoGenerated => {
            "自動送信メール（自動応答・配信エラー・メーリングリスト等）のため返信していません。"
        }
        OwnReply => "当窓口が送った自動返信が戻ってきたものです。返信していません。",
        AutoForwarded => {
            "自動転送されたメールです。添付シートは受け付けましたが、自動転送には返信していません。"
        }
        RateLimited => {
            "同じ送信元への返信が1時間の上限に達したため、返信していません（受付は行っています）。"
        }
        UnusableAddress => "送信元アドレスが不正なため、返信できませんでした。",
        NoAddress => "送信元アドレスがないため、返信できませんでした。",
        UnauthenticatedSender => {
            "登録された都道府県のアドレスですが、送信元の認証（SPF/DKIM/DMARC）が確認できないため隔離しています。返信していません。"
        }
        UnknownSender => {
            "登録されていない送信元で、送信元の認証も確認できないため隔離しています。返信していません。"
        }
        Quarantined => "登録されていない送信元のため隔離しています（受付保留の返信済み）。",
        Correspondence => {
            "当窓口のメールへの返信（連絡）です。自動返信はせず、連絡一覧に載せています。"
        }
        PasswordNotice => {
            "パスワード付きファイルのパスワード通知です。元のメールへの返信で再送をお願い済みのため、返信していません。"
        }
        Unprocessable => "処理不能メールとして保留しています（処理不能メールの画面を参照）。",
    }
}

/// The short label of a reason, for the filter.
pub fn unanswered_label(reason: crate::unanswered::Reason) -> &'static str {
    use crate::unanswered::Reason::*;
    match reason {
        AutoGenerated => "自動送信メール",
        OwnReply => "当窓口の返信",
        AutoForwarded => "自動転送（受付済み）",
        RateLimited => "返信数の上限",
        UnusableAddress => "不正な送信元アドレス",
        NoAddress => "送信元アドレスなし",
        UnauthenticatedSender => "送信元の認証なし（登録アドレス）",
        UnknownSender => "未登録・認証なしの送信元",
        Quarantined => "隔離（受付保留）",
        Correspondence => "連絡（当窓口への返信）",
        PasswordNotice => "パスワード通知",
        Unprocessable => "処理不能",
    }
}

/// The kind of a correspondence, for the lists.
pub fn correspondence_kind(kind: &str) -> &'static str {
    match kind {
        "password_notice" => "パスワード通知",
        _ => "返信・連絡",
    }
}

/// What staff see instead of a password notice's body.
pub fn password_notice_body() -> &'static str {
    "（パスワードの通知メールのため、本文は表示していません。必要な場合は原本（.eml）をご確認ください。）"
}

/// The outbox page's word for a stored kind (`reply`, `naiji`); an unknown
/// kind is shown as stored.
pub fn outbox_kind(kind: &str) -> &str {
    match kind {
        crate::outbox::kind::REPLY => "受付返信",
        crate::outbox::kind::NAIJI => "内示",
        other => other,
    }
}

/// The outbox page's word for where a mail stands.
pub fn outbox_status(status: crate::queue::outbox::Status) -> &'static str {
    use crate::queue::outbox::Status;
    match status {
        Status::Queued => "送信待ち",
        Status::Sent => "送信済み",
        Status::Failed => "送信失敗",
    }
}
