//! State shared by every component: who is signed in, why they were sent to sign-in, and the
//! page shown (from the location hash).

use crate::api::{self, Failure};
use edgepurge_core::api::{Me, Role};
use leptos::prelude::*;

/// The pages, from `location.hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// `#/purge` (the default).
    Purge,
    /// `#/verify`.
    Verify,
    /// `#/instances`.
    Instances,
    /// `#/history`.
    History,
    /// `#/people` (admins).
    People,
}

impl Page {
    /// The page for a location hash.
    pub fn from_hash(hash: &str) -> Page {
        match hash.trim_start_matches('#').trim_start_matches('/') {
            "verify" => Page::Verify,
            "instances" => Page::Instances,
            "history" => Page::History,
            "people" => Page::People,
            _ => Page::Purge,
        }
    }
}

/// State shared by every component.
#[derive(Clone, Copy)]
pub struct AppState {
    /// Who is signed in; `None` shows the sign-in form.
    pub me: RwSignal<Option<Me>>,
    /// Why the person was sent to sign-in, if they were.
    pub notice: RwSignal<Option<String>>,
    /// The page shown.
    pub page: RwSignal<Page>,
}

impl AppState {
    /// Handles a failed call: a lost session goes back to sign-in with its message.
    pub fn fail(&self, f: &Failure) -> String {
        if let Failure::SignedOut(message) = f {
            api::set_csrf(None);
            self.notice.set(Some(message.clone()));
            self.me.set(None);
        }
        f.message()
    }

    /// Whether an admin is signed in (tracked).
    pub fn is_admin(&self) -> bool {
        self.me.with(|m| m.as_ref().is_some_and(|m| m.role == Role::Admin))
    }
}

/// The [`AppState`] provided by [`crate::app::App`].
pub fn state() -> AppState {
    expect_context::<AppState>()
}
