//! Releasing quarantined mail: process it now as if its sender were known,
//! optionally remembering the sender for a prefecture first.

use super::{AppState, WebError};
use crate::prefecture::Prefecture;

/// Releases quarantined message `id` (a `mail_messages` id) on behalf of
/// `actor`; with `authorise`, the sender is first added to that
/// prefecture's allow-list.
pub async fn release(
    _state: &AppState,
    _id: i64,
    _actor: &str,
    _authorise: Option<Prefecture>,
) -> Result<(), WebError> {
    Err(WebError::Conflict(
        "隔離メールの処理はまだ利用できません。".into(),
    ))
}
