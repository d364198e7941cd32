//! Fly.io discovery I/O: one `GET` of the Machines API per app and request. The core builds the
//! URL and judges the answer (`edgepurge_core::fly`); this carries it, under a timeout and a cap.

use crate::body::{fetch_within, read_capped, Unread, Unsent};
use edgepurge_core::config::Config;
use edgepurge_core::error::ErrorKind;
use edgepurge_core::fly::{machines_url, parse_machines, Machine, MAX_ANSWER_BYTES};
use edgepurge_core::ApiError;
use worker::{Headers, Method, Request, RequestInit};

/// The Machines of `app`, started or not.
pub async fn machines(config: &Config, app: &str) -> Result<Vec<Machine>, ApiError> {
    let Some(fly) = &config.fly else {
        // Loading the configuration requires FLY_API_TOKEN for every fly: rule.
        return Err(ApiError::new(ErrorKind::Config, "no FLY_API_TOKEN").with_setting("FLY_API_TOKEN"));
    };
    let url = machines_url(&fly.api_url, app);
    let unreachable = |why: String| {
        ApiError::new(ErrorKind::DiscoveryUnavailable, format!("the Machines API ({url}): {why}"))
            .with_subject(format!("fly:{app}"))
    };
    let headers = Headers::new();
    headers.set("authorization", &format!("Bearer {}", fly.token)).map_err(|e| unreachable(e.to_string()))?;
    headers.set("accept", "application/json").map_err(|e| unreachable(e.to_string()))?;
    let mut init = RequestInit::new();
    init.with_method(Method::Get).with_headers(headers);
    let request = Request::new_with_init(&url, &init).map_err(|e| unreachable(e.to_string()))?;
    let mut response = match fetch_within(request, config.discovery_timeout_ms.into()).await {
        Ok(response) => response,
        Err(Unsent::Failed(e)) => return Err(unreachable(e)),
        Err(Unsent::TimedOut) => {
            return Err(unreachable(format!("no answer within {} ms", config.discovery_timeout_ms)))
        }
    };
    let status = response.status_code();
    let body = match read_capped(response.stream().ok(), MAX_ANSWER_BYTES).await {
        Ok(body) => body,
        Err(Unread::TooLarge) => {
            let detail = format!("the Machines API answered more than {MAX_ANSWER_BYTES} bytes for app {app}");
            return Err(ApiError::new(ErrorKind::DiscoveryFailed, detail).with_subject(format!("fly:{app}")));
        }
        Err(Unread::Broken(e)) => return Err(unreachable(format!("reading the answer: {e}"))),
    };
    parse_machines(app, status, &body)
}
