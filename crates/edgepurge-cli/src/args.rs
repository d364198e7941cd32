//! The command line: what clap reads, and the requests it becomes (pure, tested below).

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};
use edgepurge_core::api::PurgeRequest;

/// Purge, verify and look into an edgepurge deployment.
///
/// Exit status: 0 done (every instance purged, verified fresh); 2 partly (some instance did not
/// purge, or still serves a cached copy; a host's discovery failed); 1 failed or refused (the
/// problem's title and detail on stderr), the API could not be reached, or the command line is
/// wrong.
#[derive(Debug, Parser)]
#[command(name = "edgepurge", version, propagate_version = true)]
pub struct Cli {
    /// The edgepurge API's base URL, e.g. `https://purge.example.com` (https; http on loopback
    /// only). Give it before the command.
    #[arg(long = "url", env = "EDGEPURGE_URL", hide_env_values = true, value_name = "API_URL")]
    pub api: Option<String>,
    /// API token. Prefer the EDGEPURGE_TOKEN environment variable: a flag shows in the process
    /// list and the shell's history.
    #[arg(long, env = "EDGEPURGE_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Seconds to wait for the API to connect, answer, and finish its reply.
    #[arg(long, default_value_t = 120, value_name = "SECONDS")]
    pub timeout: u64,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Purge URLs, surrogate keys, path prefixes or whole hosts on every instance, live.
    Purge(PurgeArgs),
    /// Ask every instance for a URL (a HEAD) and show what its cache says.
    ///
    /// Exit 0 when every instance answered from the origin (a miss: nothing old is served), 2
    /// when some instance served it from its cache or could not tell. Each HEAD stores a fresh
    /// copy, so run it once, right after a purge.
    Verify {
        /// The URL to ask every instance for.
        url: String,
        /// Print the API's reply as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Purges and refused attempts, newest first.
    History {
        /// Only entries whose items contain this text (a URL, a path, a key).
        #[arg(long, value_name = "TEXT")]
        url: Option<String>,
        /// Only entries by this person.
        #[arg(long)]
        actor: Option<String>,
        /// How many entries (1 to 100; the API's default is 20).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
        limit: Option<u32>,
        /// Only entries older than this id (the next page: the id the last page ends with).
        #[arg(long, value_name = "ID")]
        before: Option<i64>,
        /// Print the API's reply as JSON.
        #[arg(long)]
        json: bool,
    },
    /// The instances each allowed host resolves to now (exit 2 when a host's discovery failed).
    Instances {
        /// Print the API's reply as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Background redeliveries of purges that failed inline.
    Deliveries {
        /// Only deliveries in this state.
        #[arg(long, value_enum)]
        status: Option<DeliveryState>,
        /// How many deliveries (1 to 1000; the API's default is 100).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
        limit: Option<u32>,
        /// Print the API's reply as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `edgepurge purge`: any mix of the kinds, at least one item.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("items").required(true).multiple(true).args(["urls", "keys", "prefixes", "hosts"])))]
pub struct PurgeArgs {
    /// URLs to purge (absolute, http or https).
    #[arg(value_name = "URL")]
    pub urls: Vec<String>,
    /// A surrogate key to purge on every instance (repeatable).
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// A path prefix to purge, as a URL: `https://host/path/` (repeatable; admins only).
    #[arg(long = "prefix", value_name = "URL")]
    pub prefixes: Vec<String>,
    /// A host to empty entirely (repeatable; admins only).
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Mark stale instead of removing (URLs and keys).
    #[arg(long)]
    pub soft: bool,
    /// Ask each instance for each URL right behind its PURGE and say whether it is fresh now.
    #[arg(long)]
    pub confirm: bool,
    /// A URL to confirm key, prefix and host purges with (repeatable, at most 10).
    #[arg(long = "confirm-url", value_name = "URL")]
    pub confirm_urls: Vec<String>,
    /// Makes a retry safe: the same key with the same purge within a day answers with the first
    /// purge's report and sends nothing again (e.g. a CI run's id).
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Print the final report as JSON on stdout (the summary goes to stderr).
    #[arg(long)]
    pub json: bool,
}

/// A delivery's state, as `--status` takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    /// The instance confirmed it.
    Delivered,
    /// Given up.
    Abandoned,
}

impl DeliveryState {
    fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Abandoned => "abandoned",
        }
    }
}

/// The body of `POST /api/purge` for the command line's items, in the order given per kind.
pub fn purge_request(args: &PurgeArgs) -> PurgeRequest {
    PurgeRequest {
        urls: args.urls.clone(),
        keys: args.keys.clone(),
        prefixes: args.prefixes.clone(),
        hosts: args.hosts.clone(),
        soft: args.soft,
        confirm: args.confirm,
        confirm_urls: args.confirm_urls.clone(),
    }
}

/// The path and query of `GET /api/history` for the filters given (the fields of the API's
/// `HistoryQuery`, in its order).
pub fn history_path(url: Option<&str>, actor: Option<&str>, before: Option<i64>, limit: Option<u32>) -> String {
    with_query(
        "/api/history",
        &[
            ("url", url.map(str::to_owned)),
            ("actor", actor.map(str::to_owned)),
            ("before", before.map(|id| id.to_string())),
            ("limit", limit.map(|n| n.to_string())),
        ],
    )
}

/// The path and query of `GET /api/deliveries` (the fields of the API's `DeliveriesQuery`).
pub fn deliveries_path(status: Option<DeliveryState>, limit: Option<u32>) -> String {
    with_query(
        "/api/deliveries",
        &[("status", status.map(|s| s.as_str().to_owned())), ("limit", limit.map(|n| n.to_string()))],
    )
}

/// `path?name=value&...`, form-encoded, the absent fields left out.
fn with_query(path: &str, fields: &[(&str, Option<String>)]) -> String {
    let mut pairs = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        if let Some(value) = value {
            pairs.append_pair(name, value);
        }
    }
    let encoded = pairs.finish();
    if encoded.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{encoded}")
    }
}

/// The API's base URL, without a trailing slash: https, or http to a loopback address or
/// `localhost` (the token must not cross a network in clear text).
pub fn api_base(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_end_matches('/');
    let parsed = url::Url::parse(trimmed).map_err(|e| format!("the API URL {trimmed:?} is not a URL ({e})"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        "http" => return Err(format!("the API URL {trimmed:?} must be https (plain http only on loopback)")),
        other => return Err(format!("the API URL {trimmed:?} has scheme {other:?}: give an https URL")),
    }
    if parsed.query().is_some() || parsed.fragment().is_some() || !parsed.username().is_empty() {
        return Err(format!("the API URL {trimmed:?} must be a plain base URL (no user, query or fragment)"));
    }
    Ok(trimmed.to_owned())
}

/// The token, checked so it can go in a header; the messages never repeat it.
pub fn api_token(raw: Option<&str>) -> Result<String, String> {
    let token = raw.map(str::trim).unwrap_or_default();
    if token.is_empty() {
        return Err("no API token: set EDGEPURGE_TOKEN (or give --token)".to_owned());
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("the API token holds spaces or characters a header cannot carry".to_owned());
    }
    Ok(token.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("edgepurge").chain(args.iter().copied()))
    }

    fn purge_args(args: &[&str]) -> PurgeArgs {
        let cli = parse(args).expect("parses");
        match cli.command {
            Command::Purge(p) => p,
            other => panic!("not a purge: {other:?}"),
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn urls_and_repeated_kinds_become_one_request_in_order() {
        let args = purge_args(&[
            "purge",
            "https://www.example.com/a",
            "https://www.example.com/b",
            "--key",
            "episode-1",
            "--key",
            "episode-2",
            "--prefix",
            "https://www.example.com/episodes/",
            "--host",
            "cdn.example.com",
            "--soft",
        ]);
        let req = purge_request(&args);
        assert_eq!(req.urls, ["https://www.example.com/a", "https://www.example.com/b"]);
        assert_eq!(req.keys, ["episode-1", "episode-2"]);
        assert_eq!(req.prefixes, ["https://www.example.com/episodes/"]);
        assert_eq!(req.hosts, ["cdn.example.com"]);
        assert!(req.soft);
        assert!(!req.confirm);
        // The body is what the API reads: absent kinds are left out, never sent as nulls.
        let body = serde_json::to_value(&req).expect("serialises");
        assert_eq!(body["soft"], true);
        assert!(body.get("confirm").is_none());
        assert!(body.get("confirm_urls").is_none());
    }

    #[test]
    fn confirm_and_confirm_urls_and_the_idempotency_key_are_read() {
        let args = purge_args(&[
            "purge",
            "--key",
            "k",
            "--confirm-url",
            "https://www.example.com/x",
            "--confirm",
            "--idempotency-key",
            "ci-1234",
            "--json",
        ]);
        let req = purge_request(&args);
        assert!(req.urls.is_empty());
        assert!(req.confirm);
        assert_eq!(req.confirm_urls, ["https://www.example.com/x"]);
        assert_eq!(args.idempotency_key.as_deref(), Some("ci-1234"));
        assert!(args.json);
    }

    #[test]
    fn a_purge_of_nothing_is_a_usage_error() {
        let err = parse(&["purge", "--soft"]).expect_err("no item");
        assert_eq!(err.kind(), clap::error::ErrorKind::MissingRequiredArgument);
    }

    #[test]
    fn the_api_url_comes_before_the_command_and_history_has_its_own_url_filter() {
        let cli = parse(&["--url", "https://purge.example.com", "history", "--url", "/episodes/1", "--limit", "5"])
            .expect("parses");
        assert_eq!(cli.api.as_deref(), Some("https://purge.example.com"));
        match cli.command {
            Command::History { url, limit, .. } => {
                assert_eq!(url.as_deref(), Some("/episodes/1"));
                assert_eq!(limit, Some(5));
            }
            other => panic!("not history: {other:?}"),
        }
        assert!(parse(&["history", "--limit", "0"]).is_err(), "limit 1 to 100");
        assert!(parse(&["history", "--limit", "101"]).is_err(), "limit 1 to 100");
    }

    #[test]
    fn query_strings_are_encoded_and_empty_filters_left_out() {
        assert_eq!(history_path(None, None, None, None), "/api/history");
        assert_eq!(
            history_path(Some("https://www.example.com/a b?x=1&y"), Some("ci bot"), Some(90), Some(5)),
            "/api/history?url=https%3A%2F%2Fwww.example.com%2Fa+b%3Fx%3D1%26y&actor=ci+bot&before=90&limit=5"
        );
        assert_eq!(deliveries_path(None, None), "/api/deliveries");
        assert_eq!(deliveries_path(Some(DeliveryState::Pending), Some(10)), "/api/deliveries?status=pending&limit=10");
    }

    #[test]
    fn the_api_url_is_https_or_loopback_http() {
        assert_eq!(api_base("https://purge.example.com/").as_deref(), Ok("https://purge.example.com"));
        assert_eq!(api_base("http://127.0.0.1:8787").as_deref(), Ok("http://127.0.0.1:8787"));
        assert_eq!(api_base("http://localhost:8787/").as_deref(), Ok("http://localhost:8787"));
        assert_eq!(api_base("http://[::1]:8787").as_deref(), Ok("http://[::1]:8787"));
        let clear = api_base("http://purge.example.com").expect_err("clear text to a public name");
        assert!(clear.contains("must be https"), "{clear}");
        assert!(api_base("ftp://purge.example.com").is_err());
        assert!(api_base("purge.example.com").is_err());
        assert!(api_base("https://user:pw@purge.example.com").is_err());
    }

    #[test]
    fn a_missing_or_unsendable_token_is_refused_without_repeating_it() {
        assert_eq!(api_token(Some(" ep_abc ")).as_deref(), Ok("ep_abc"));
        assert!(api_token(None).expect_err("none").contains("EDGEPURGE_TOKEN"));
        assert!(api_token(Some("  ")).is_err());
        let bad = api_token(Some("ep_secret value")).expect_err("a space");
        assert!(!bad.contains("ep_secret"), "{bad}");
    }
}
