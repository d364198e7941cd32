//! Scoped tokens: what a personal token may do within its person's role, set when it is issued,
//! as Fastly's `purge_select` tokens and per-service restriction or Cloudflare's zone-scoped
//! purge tokens do. One rule judges every route and every purge: [`Grant`], the role first,
//! then the token's [`TokenScopes`].

use crate::api::{PurgeKinds, Role, TokenScopes};
use crate::auth::{permits, Action};
use crate::config::Config;
use crate::error::{ApiError, ErrorKind};
use crate::purge::Purge;
use crate::target::{normalise_host, printable};

/// The most hosts one token may be limited to.
pub const MAX_SCOPE_HOSTS: usize = 50;

/// What a caller may do: their person's role, narrowed by the scopes of the token they came
/// with (console sessions carry the scopes of the token they were signed in with; Access
/// identities and bootstrap tokens are unscoped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The person's role.
    pub role: Role,
    /// The token's scopes.
    pub scopes: TokenScopes,
}

impl Grant {
    /// Everything `role` allows.
    pub fn unscoped(role: Role) -> Grant {
        Grant { role, scopes: TokenScopes::default() }
    }

    /// Nothing more than the role and the scopes allow: a 403 `forbidden` naming the role, or a
    /// 403 `out-of-scope` naming the scope that refuses `action`.
    pub fn require(&self, action: Action) -> Result<(), ApiError> {
        if !permits(self.role, action) {
            return Err(ApiError::new(ErrorKind::Forbidden, format!("{action:?} needs the admin role")));
        }
        match self.scope_refusal(action) {
            None => Ok(()),
            Some(why) => Err(ApiError::new(ErrorKind::OutOfScope, why)),
        }
    }

    fn scope_refusal(&self, action: Action) -> Option<&'static str> {
        let s = &self.scopes;
        match action {
            Action::Verify | Action::Read => None,
            Action::Purge | Action::PurgeWide if s.read_only => {
                Some("this token is read-only: it may verify and read instances and history, not purge")
            }
            Action::PurgeWide if s.kinds == PurgeKinds::Select => Some(
                "this token may purge URLs and keys only (kinds: select): a prefix or whole-host purge needs a token \
                 for every kind",
            ),
            Action::Purge | Action::PurgeWide => None,
            Action::ManagePeople | Action::CheckInstances if !s.is_unscoped() => {
                Some("a scoped token may not manage people and tokens or check every instance: use an unscoped one")
            }
            Action::ManagePeople | Action::CheckInstances => None,
        }
    }

    /// A 403 `out-of-scope` unless the token may reach `host` (normalised, as `Target::host`).
    pub fn host(&self, host: &str) -> Result<(), ApiError> {
        if self.reaches_host(host) {
            return Ok(());
        }
        Err(ApiError::new(
            ErrorKind::OutOfScope,
            format!("this token is limited to {}: {host} is not one of them", self.scopes.hosts.join(", ")),
        )
        .with_subject(host.to_owned()))
    }

    fn reaches_host(&self, host: &str) -> bool {
        self.scopes.hosts.is_empty() || self.scopes.hosts.iter().any(|h| h == host)
    }

    /// Whether a key purge addressed to `group_host` (an instance group, named by its first
    /// allowed host) reaches only instances of the token's hosts: the group serves one of them.
    pub fn reaches_group(&self, config: &Config, group_host: &str) -> bool {
        self.scopes.hosts.is_empty() || self.own_host_of_group(config, group_host).is_some()
    }

    /// The purges this grant may send, from a validated request's: a URL, prefix or host purge
    /// of a host out of scope refuses the whole request; a key goes only to the instance groups
    /// serving the token's hosts, addressed as the first of them in each group (so its `Host`,
    /// its label and the upstream groups it reaches are the token's host's, not another's that
    /// shares the instances), and a key that then reaches no group is a 403.
    pub fn purges(&self, config: &Config, purges: Vec<Purge>) -> Result<Vec<Purge>, ApiError> {
        if self.scopes.hosts.is_empty() {
            return Ok(purges);
        }
        let mut kept: Vec<Purge> = Vec::with_capacity(purges.len());
        let mut keys_out: Vec<String> = Vec::new();
        for purge in purges {
            match purge {
                Purge::Key { key, host, soft } => match self.own_host_of_group(config, &host) {
                    Some(own) => kept.push(Purge::Key { key, host: own.to_owned(), soft }),
                    None => keys_out.push(key.as_str().into()),
                },
                other => {
                    self.host(other.host())?;
                    kept.push(other);
                }
            }
        }
        let sent = |key: &str| kept.iter().any(|p| matches!(p, Purge::Key { key: k, .. } if k.as_str() == key));
        if let Some(key) = keys_out.iter().find(|key| !sent(key)) {
            return Err(ApiError::new(
                ErrorKind::OutOfScope,
                format!(
                    "key {key}: this token is limited to {}, and no instance group of theirs purges keys",
                    self.scopes.hosts.join(", ")
                ),
            )
            .with_subject(printable(key)));
        }
        Ok(kept)
    }

    /// The first of the token's hosts served by the instance group addressed as `group_host`.
    fn own_host_of_group(&self, config: &Config, group_host: &str) -> Option<&str> {
        let rule = config.discovery_rule(group_host).ok()?;
        self.scopes.hosts.iter().map(String::as_str).find(|h| config.discovery_rule(h).is_ok_and(|r| r == rule))
    }
}

/// The scopes asked for a new token, checked and normalised: each host a host name in
/// `ALLOWED_HOSTS` (lower case, duplicates dropped), at most [`MAX_SCOPE_HOSTS`]; a 400 naming
/// the first that is not.
pub fn issued_scopes(config: &Config, asked: TokenScopes) -> Result<TokenScopes, ApiError> {
    if asked.hosts.len() > MAX_SCOPE_HOSTS {
        return Err(ApiError::bad_request(format!(
            "scopes.hosts: {} hosts; at most {MAX_SCOPE_HOSTS}",
            asked.hosts.len()
        )));
    }
    let mut hosts: Vec<String> = Vec::with_capacity(asked.hosts.len());
    for (i, raw) in asked.hosts.iter().enumerate() {
        let host =
            normalise_host(raw).ok_or_else(|| ApiError::bad_request(format!("scopes.hosts[{i}]: not a host name")))?;
        if !config.allowed_hosts.contains(&host) {
            return Err(
                ApiError::bad_request(format!("scopes.hosts[{i}]: {host} is not in ALLOWED_HOSTS")).with_subject(host)
            );
        }
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    Ok(TokenScopes { hosts, ..asked })
}

/// The scopes in words, for lists and the command line: `every kind, every host`, or what
/// narrows them (`URLs and keys only; www.example.com; read-only`).
pub fn describe(scopes: &TokenScopes) -> String {
    if scopes.read_only {
        return match scopes.hosts.is_empty() {
            true => "read-only".to_owned(),
            false => format!("read-only; {}", scopes.hosts.join(", ")),
        };
    }
    let kinds = match scopes.kinds {
        PurgeKinds::All => "every kind",
        PurgeKinds::Select => "URLs and keys only",
    };
    let hosts = match scopes.hosts.is_empty() {
        true => "every host".to_owned(),
        false => scopes.hosts.join(", "),
    };
    format!("{kinds}; {hosts}")
}
