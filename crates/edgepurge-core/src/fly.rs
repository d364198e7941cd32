//! Fly.io Machines discovery: the Machines API lists an app's Machines; each started one is an
//! instance, reached through Fly's edge at the purged site's host over TLS with
//! `fly-force-instance-id: <machine id>`, which Fly's proxy routes to exactly that Machine.
//!
//! The worker fetches `GET {FLY_API_URL}/v1/apps/{app}/machines` with `Authorization: Bearer
//! {FLY_API_TOKEN}` ([`machines_url`]) and hands the status and body here ([`parse_machines`]);
//! everything about what the answer means is decided in this module.

use crate::error::{ApiError, ErrorKind};
use serde::Deserialize;

/// The header Fly's proxy routes on ("no other Machines will be tried").
pub const FORCE_INSTANCE_HEADER: &str = "fly-force-instance-id";

/// The default Machines API.
pub const DEFAULT_API_URL: &str = "https://api.machines.dev";

/// The largest Machines API answer read: a Machine with its config is 1 to 2 KB, so a thousand
/// fit; more is refused before it is parsed.
pub const MAX_ANSWER_BYTES: usize = 2 * 1024 * 1024;

/// The most Machines an app may list: more is a discovery failure, before anything is planned.
pub const MAX_MACHINES: usize = 1000;

/// One Machine, as far as discovery cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// Its id: what `fly-force-instance-id` names.
    pub id: String,
    /// Its region code, e.g. `fra`.
    pub region: String,
    /// `started`, `stopped`, `suspended`, ...
    pub state: String,
}

/// What a Machine's state says of the cached copies it may serve.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cache {
    /// Running and reachable: purged now.
    Serving,
    /// Not serving now, but may come back with its memory, old copies included (a suspended
    /// Machine resumes from its snapshot): its rows are `pending` and queued, sent once it is
    /// started.
    MayHold,
    /// Starts again from an empty cache, if at all: skipped, listed with its state.
    Empty,
}

/// Every Machine state the Machines API documents ("Machine states and lifecycle"), and what it
/// means for a cache. A state not listed here is treated as [`Cache::MayHold`]: queued, never
/// silently skipped.
pub const STATES: [(&str, Cache); 15] = [
    ("started", Cache::Serving),
    // Suspended to disk (memory included), resumed on the next start.
    ("suspended", Cache::MayHold),
    ("suspending", Cache::MayHold),
    // From stopped or from suspended: the latter resumes its memory.
    ("starting", Cache::MayHold),
    ("created", Cache::Empty),
    ("creating", Cache::Empty),
    ("stopped", Cache::Empty),
    ("stopping", Cache::Empty),
    // A restart, an update or a replacement boots the Machine afresh.
    ("restarting", Cache::Empty),
    ("updating", Cache::Empty),
    ("replacing", Cache::Empty),
    ("failed", Cache::Empty),
    ("launch_failed", Cache::Empty),
    ("destroying", Cache::Empty),
    ("destroyed", Cache::Empty),
];

/// What `state` means for a Machine's cache.
pub fn cache_of(state: &str) -> Cache {
    STATES.iter().find(|(s, _)| *s == state).map_or(Cache::MayHold, |(_, c)| *c)
}

impl Machine {
    /// Whether it serves traffic now: only `started` Machines are purged.
    pub fn started(&self) -> bool {
        self.cache() == Cache::Serving
    }

    /// What its state means for its cache.
    pub fn cache(&self) -> Cache {
        cache_of(&self.state)
    }

    /// How reports, deliveries and the history name it: `fra 3d8d9e1f0e9d87`.
    pub fn key(&self) -> String {
        format!("{} {}", self.region, self.id)
    }
}

#[derive(Deserialize)]
struct Listed {
    id: String,
    #[serde(default)]
    region: String,
    #[serde(default)]
    state: String,
}

/// A value from the Machines API as a problem shows it: quoted and escaped, at most 32
/// characters of it.
fn shown(value: &str) -> String {
    let cut: String = value.chars().take(32).collect();
    if cut.len() < value.len() {
        format!("{cut:?}…")
    } else {
        format!("{cut:?}")
    }
}

/// The Machines API URL listing `app`'s Machines.
pub fn machines_url(api_url: &str, app: &str) -> String {
    format!("{}/v1/apps/{app}/machines", api_url.trim_end_matches('/'))
}

/// Reads the Machines API's answer: the Machines, or the problem it means. A refused token is
/// the deployment's fault (500 naming `FLY_API_TOKEN`); any other failure status or a body that
/// is not the documented list is a discovery failure (502). Ids and regions must be plain
/// letters and digits: they go into request headers.
pub fn parse_machines(app: &str, status: u16, body: &[u8]) -> Result<Vec<Machine>, ApiError> {
    let failed = |detail: String| ApiError::new(ErrorKind::DiscoveryFailed, detail).with_subject(format!("fly:{app}"));
    match status {
        200 => {}
        401 | 403 => {
            return Err(ApiError::new(
                ErrorKind::Config,
                format!(
                "the Machines API refused FLY_API_TOKEN for app {app} (HTTP {status}): it needs read access to the app"
            ),
            )
            .with_setting("FLY_API_TOKEN"))
        }
        404 => return Err(failed(format!("the Machines API knows no app {app:?} (HTTP 404)"))),
        other => return Err(failed(format!("the Machines API answered HTTP {other} for app {app}"))),
    }
    let listed: Vec<Listed> = serde_json::from_slice(body)
        .map_err(|e| failed(format!("the Machines API's answer for app {app} is not a list of Machines: {e}")))?;
    if listed.len() > MAX_MACHINES {
        return Err(failed(format!(
            "the Machines API listed {} Machines for app {app}; edgepurge reaches at most {MAX_MACHINES}",
            listed.len()
        )));
    }
    let plain = |s: &str| !s.is_empty() && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_alphanumeric());
    let mut machines = Vec::with_capacity(listed.len());
    for m in listed {
        if !plain(&m.id) || !plain(&m.region) {
            return Err(failed(format!(
                "the Machines API listed a Machine with id {} in region {}",
                shown(&m.id),
                shown(&m.region)
            )));
        }
        machines.push(Machine { id: m.id, region: m.region.to_ascii_lowercase(), state: m.state });
    }
    machines.sort_by(|a, b| (&a.region, &a.id).cmp(&(&b.region, &b.id)));
    Ok(machines)
}
