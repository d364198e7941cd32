//! People and their tokens: what a name, an e-mail address and a token label may be, and the
//! guards on what an admin may do (nobody changes their own role or removes themselves; the
//! bootstrap admin keeps its role, stays, and has no personal tokens).
//!
//! The bootstrap admin is the person the `API_TOKENS` secret signs in as. It signs in only with
//! those tokens, so rotating them locks a leaked one out: no personal token, no session from
//! one, and no role change that would outlive a rotation.

use crate::api::Person;
use crate::error::{ApiError, ErrorKind};

/// The name of the person the bootstrap tokens (`API_TOKENS`) sign in as.
pub const BOOTSTRAP_ADMIN: &str = "admin";

/// The longest name or token label, in bytes.
pub const MAX_NAME_BYTES: usize = 100;

/// The longest e-mail address, in bytes (RFC 5321's path limit less its brackets).
pub const MAX_EMAIL_BYTES: usize = 254;

/// Whether `person` is the bootstrap admin.
pub fn is_bootstrap_admin(person: &Person) -> bool {
    person.name == BOOTSTRAP_ADMIN
}

/// A person's id from a path segment: anything but a decimal id is no such person (404).
pub fn id(raw: &str) -> Result<i64, ApiError> {
    raw.parse().map_err(|_| ApiError::new(ErrorKind::NotFound, format!("{raw:?} is not an id")))
}

/// 1 to [`MAX_NAME_BYTES`] bytes once trimmed, no control characters.
fn printable<'a>(raw: &'a str, what: &str) -> Result<&'a str, ApiError> {
    let value = raw.trim();
    if value.is_empty() || value.len() > MAX_NAME_BYTES || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(format!("{what} must be 1 to {MAX_NAME_BYTES} printable characters")));
    }
    Ok(value)
}

/// A person's name as it is stored: trimmed, 1 to 100 printable characters.
pub fn name(raw: &str) -> Result<&str, ApiError> {
    printable(raw, "name")
}

/// A token's label as it is stored: trimmed, 1 to 100 printable characters.
pub fn label(raw: &str) -> Result<&str, ApiError> {
    printable(raw, "label")
}

/// A person's e-mail address as it is stored: trimmed, none when blank; else it must hold an
/// `@` and fit [`MAX_EMAIL_BYTES`]. (Access identities are matched by it exactly.)
pub fn email(raw: Option<&str>) -> Result<Option<&str>, ApiError> {
    let email = raw.map(str::trim).filter(|e| !e.is_empty());
    if email.is_some_and(|e| !e.contains('@') || e.len() > MAX_EMAIL_BYTES || e.chars().any(char::is_control)) {
        return Err(ApiError::bad_request("email is not an e-mail address"));
    }
    Ok(email)
}

/// What an admin does to a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Give them another role.
    Role,
    /// Remove them (their tokens are revoked, their sessions end).
    Remove,
    /// Issue them a personal token.
    IssueToken,
}

/// Whether the admin `actor_id` may make `change` to person `target_id`, as the store has them
/// (`None`: there is no such person). A 409 names what to do instead; a missing person is a 404.
pub fn may_change(actor_id: i64, target_id: i64, target: Option<&Person>, change: Change) -> Result<(), ApiError> {
    let conflict = |detail: &str| Err(ApiError::new(ErrorKind::Conflict, detail));
    match change {
        Change::Role if actor_id == target_id => return conflict("you cannot change your own role"),
        Change::Remove if actor_id == target_id => return conflict("you cannot remove yourself"),
        _ => {}
    }
    let Some(target) = target else {
        return Err(ApiError::new(ErrorKind::NotFound, format!("no person {target_id}")));
    };
    if !is_bootstrap_admin(target) {
        return Ok(());
    }
    match change {
        Change::Role => conflict("the bootstrap admin stays an admin: rotate API_TOKENS instead"),
        Change::Remove => conflict("the bootstrap admin stays: rotate API_TOKENS instead"),
        Change::IssueToken => conflict(
            "the bootstrap admin signs in only with API_TOKENS (rotating them must lock a leaked one out): add a \
             person of your own for a personal token",
        ),
    }
}

/// Whether a personal token of `owner` signs in: never the bootstrap admin's (migration 0011
/// revoked the ones it had), so rotating `API_TOKENS` locks a leaked credential out.
pub fn personal_token_signs_in(owner: &Person) -> Result<(), ApiError> {
    if is_bootstrap_admin(owner) {
        return Err(ApiError::new(
            ErrorKind::Unauthorized,
            "the bootstrap admin signs in only with a token of API_TOKENS",
        ));
    }
    Ok(())
}
