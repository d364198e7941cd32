//! One typed helper per way the console talks to the worker (same origin, cookie session).
//!
//! Every state-changing call carries the session's CSRF token. A 401 anywhere means the session
//! is gone: callers send the person back to sign-in with a message.

use edgepurge_core::api::{Problem, PurgeEvent, PurgeRequest};
use edgepurge_core::auth::CSRF_HEADER;
use edgepurge_core::ndjson::LineBuffer;
use gloo_net::http::{Request, RequestBuilder, Response};
use js_sys::{Reflect, Uint8Array};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::cell::RefCell;
use std::fmt;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::ReadableStreamDefaultReader;

thread_local! {
    static CSRF: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Remembers the session's CSRF token (in memory only: never in localStorage).
pub fn set_csrf(token: Option<String>) {
    CSRF.with(|c| *c.borrow_mut() = token);
}

/// Why a call failed.
#[derive(Debug, Clone, PartialEq)]
pub enum Failure {
    /// Not signed in, or the session expired.
    SignedOut(String),
    /// The worker answered with a problem (boxed: it is most of a failure's size).
    Problem(Box<Problem>),
    /// The request did not complete (offline, worker down): worth a retry.
    Network(String),
}

impl Failure {
    /// A sentence for the person at the screen.
    pub fn message(&self) -> String {
        match self {
            Failure::SignedOut(m) => m.clone(),
            Failure::Problem(p) => format!("{}: {}", p.title, p.detail),
            Failure::Network(e) => format!("Could not reach edgepurge ({e})."),
        }
    }

    /// Whether retrying the same call may help.
    pub fn retryable(&self) -> bool {
        match self {
            Failure::Network(_) => true,
            Failure::Problem(p) => p.retryable,
            Failure::SignedOut(_) => false,
        }
    }
}

/// The sentence of [`Failure::message`], so a failed load can be rendered as an error (Leptos'
/// `ErrorBoundary` takes any `std::error::Error`).
impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for Failure {}

fn with_csrf(builder: RequestBuilder) -> RequestBuilder {
    match CSRF.with(|c| c.borrow().clone()) {
        Some(token) => builder.header(CSRF_HEADER, &token),
        None => builder,
    }
}

async fn failure(resp: &Response) -> Failure {
    let problem = resp.json::<Problem>().await.ok();
    match (resp.status(), problem) {
        (401, p) => Failure::SignedOut(
            p.map(|p| p.detail).unwrap_or_else(|| "Your session has expired: sign in again.".to_owned()),
        ),
        (_, Some(p)) => Failure::Problem(Box::new(p)),
        (status, None) => Failure::Network(format!("HTTP {status}")),
    }
}

async fn finish<T: DeserializeOwned>(sent: Result<Response, gloo_net::Error>) -> Result<T, Failure> {
    let resp = sent.map_err(|e| Failure::Network(e.to_string()))?;
    if !resp.ok() {
        return Err(failure(&resp).await);
    }
    resp.json::<T>().await.map_err(|e| Failure::Network(e.to_string()))
}

/// `GET path`, decoded as `T`.
pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, Failure> {
    finish(Request::get(path).send().await).await
}

/// `POST path` with a JSON body, decoded as `T`.
pub async fn post<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let req = with_csrf(Request::post(path)).json(body).map_err(|e| Failure::Network(e.to_string()))?;
    finish(req.send().await).await
}

/// `PATCH path` with a JSON body, decoded as `T`.
pub async fn patch<B: Serialize, T: DeserializeOwned>(path: &str, body: &B) -> Result<T, Failure> {
    let req = with_csrf(Request::patch(path)).json(body).map_err(|e| Failure::Network(e.to_string()))?;
    finish(req.send().await).await
}

/// `DELETE path`, expecting no body.
pub async fn delete(path: &str) -> Result<(), Failure> {
    let resp = with_csrf(Request::delete(path)).send().await.map_err(|e| Failure::Network(e.to_string()))?;
    if resp.ok() {
        Ok(())
    } else {
        Err(failure(&resp).await)
    }
}

/// `POST /api/purge` as a live stream: `on_event` is called for each line as it arrives.
pub async fn purge_live(body: PurgeRequest, mut on_event: impl FnMut(PurgeEvent)) -> Result<(), Failure> {
    let req = with_csrf(Request::post("/api/purge").header("Accept", "application/x-ndjson"))
        .json(&body)
        .map_err(|e| Failure::Network(e.to_string()))?;
    let resp = req.send().await.map_err(|e| Failure::Network(e.to_string()))?;
    if !resp.ok() {
        return Err(failure(&resp).await);
    }
    let stream = resp.body().ok_or_else(|| Failure::Network("empty answer".into()))?;
    let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
    let js = |e: JsValue| Failure::Network(format!("{e:?}"));
    let mut lines = LineBuffer::default();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(js)?;
        if Reflect::get(&chunk, &"done".into()).map_err(js)?.as_bool().unwrap_or(true) {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(js)?.unchecked_into();
        for line in lines.push(&value.to_vec()) {
            match serde_json::from_str::<PurgeEvent>(&line) {
                Ok(event) => on_event(event),
                Err(e) => return Err(Failure::Network(format!("unreadable progress line: {e}"))),
            }
        }
    }
    Ok(())
}
