//! Who is signed in and how, the people who may use edgepurge, and their personal tokens.

use super::wire::str_enum;
use serde::{Deserialize, Serialize};

str_enum! {
    /// What a person may do: editors purge, verify and read; admins also manage people and tokens.
    pub enum Role {
        /// Everything, including people and tokens.
        Admin = "admin",
        /// Purge, verify, read instances and history.
        Editor = "editor",
    }
}

str_enum! {
    /// How a request was authenticated.
    pub enum Via {
        /// A console session cookie.
        Session = "session",
        /// A bearer token (personal or bootstrap), or a Fastly-Key.
        Token = "token",
        /// A Cloudflare Access JWT.
        Access = "access",
    }
}

/// Body of `POST /api/session`: sign in with a personal token.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignIn {
    /// A personal API token (or the bootstrap admin token).
    pub token: String,
}

/// Reply of `GET /api/me` and `POST /api/session`: who is signed in.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// Display name.
    pub name: String,
    /// E-mail, when known (always for Cloudflare Access).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// How this request was authenticated: `session`, `token` or `access`.
    pub via: Via,
    /// For cookie sessions: the token to send as `X-CSRF-Token` on state-changing calls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// Session expiry, milliseconds since the epoch, for cookie sessions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// Where a trace can be seen: `TRACE_URL_TEMPLATE`, with `{trace_id}` to fill in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_url: Option<String>,
}

/// A person who may use edgepurge.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Id.
    pub id: i64,
    /// Display name, unique.
    pub name: String,
    /// E-mail (how Cloudflare Access identities map to people).
    #[serde(default)]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
    /// Creation time, milliseconds since the epoch.
    pub created_at: i64,
}

/// Body of `POST /api/people`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewPerson {
    /// Display name.
    pub name: String,
    /// E-mail, optional.
    #[serde(default)]
    pub email: Option<String>,
    /// Role.
    pub role: Role,
}

/// Body of `PATCH /api/people/{id}`: a new role (the person's sessions end).
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonUpdate {
    /// The new role.
    pub role: Role,
}

/// A personal token as listed: never the token itself.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenInfo {
    /// Id.
    pub id: i64,
    /// Whose token.
    pub person_id: i64,
    /// What it is for.
    pub label: String,
    /// Its first characters, to recognise it.
    pub hint: String,
    /// Creation time, ms.
    pub created_at: i64,
    /// Revocation time, ms, if revoked.
    #[serde(default)]
    pub revoked_at: Option<i64>,
}

/// Body of `POST /api/people/{id}/tokens`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for.
    pub label: String,
}

/// Reply of `POST /api/people/{id}/tokens`: the token, shown this once.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedToken {
    /// The stored description.
    pub info: TokenInfo,
    /// The secret; only its hash is kept.
    pub token: String,
}
