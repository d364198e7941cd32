//! The edgepurge console: a Leptos client-side-rendered app, served by the worker on the same
//! origin as the API it calls.
//!
//! [`api`] is the one place that talks HTTP, [`live`] turns the live purge stream into table
//! rows, [`app`] is the shell (routing, sign-in, navigation), [`state`] what every component
//! reads, [`pages`] holds one component per page and [`ui`] what the pages share ([`waterfall`]:
//! the per-instance bars of a purge). `boot.js`
//! calls [`mount`].

pub mod api;
pub mod app;
pub mod live;
pub mod pages;
pub mod state;
pub mod ui;
pub mod waterfall;

use wasm_bindgen::prelude::wasm_bindgen;

/// Mounts the console into `<body>`.
#[wasm_bindgen]
pub fn mount() {
    leptos::mount::mount_to_body(app::App);
}
