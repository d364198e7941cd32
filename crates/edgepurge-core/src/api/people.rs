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

str_enum! {
    /// Which purge kinds a token may ask for.
    #[derive(Default)]
    pub enum PurgeKinds {
        /// Every kind its person's role allows.
        #[default]
        All = "all",
        /// URLs and surrogate keys only, like Fastly's `purge_select`: no prefix or host purge
        /// (nor Fastly's `purge_all`, nor Cloudflare's `purge_everything`, prefixes or hosts).
        Select = "select",
    }
}

/// What a personal token may do, within its person's role: set when it is issued, never
/// widened. The default (every kind, every host, not read-only) is an unscoped token.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenScopes {
    /// `all` (default, not written) or `select` (URLs and keys only).
    #[serde(default, skip_serializing_if = "PurgeKinds::is_all")]
    pub kinds: PurgeKinds,
    /// The hosts it may purge, verify and confirm (each in `ALLOWED_HOSTS`); keys reach only
    /// the instance groups serving them. Empty (default): every allowed host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<String>,
    /// Verify, history and instances only: no purge.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_only: bool,
}

impl PurgeKinds {
    /// Whether it is `all`, the default (which is not written).
    pub fn is_all(&self) -> bool {
        *self == PurgeKinds::All
    }
}

impl TokenScopes {
    /// Whether the token is unscoped: everything its person's role allows.
    pub fn is_unscoped(&self) -> bool {
        *self == TokenScopes::default()
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
    /// The label of the personal token this request was authenticated with (for a session,
    /// the token it was signed in with); `API_TOKENS` for a bootstrap token; absent for Access.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// That token's scopes (unscoped: every kind, every host).
    #[serde(default)]
    pub scopes: TokenScopes,
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
    /// What it may do, within its person's role.
    #[serde(default)]
    pub scopes: TokenScopes,
}

/// Body of `POST /api/people/{id}/tokens`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// What the token is for.
    pub label: String,
    /// What it may do, within its person's role (absent: unscoped).
    #[serde(default)]
    pub scopes: TokenScopes,
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
