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
    /// The page for a location hash (its first segment: `#/history/42` is the History page).
    pub fn from_hash(hash: &str) -> Page {
        match hash.trim_start_matches('#').trim_start_matches('/').split('/').next().unwrap_or_default() {
            "verify" => Page::Verify,
            "instances" => Page::Instances,
            "history" => Page::History,
            "people" => Page::People,
            _ => Page::Purge,
        }
    }

    /// The history entry a location hash names (`#/history/42`, as notifications link it).
    pub fn history_entry(hash: &str) -> Option<i64> {
        let rest = hash.trim_start_matches('#').trim_start_matches('/').strip_prefix("history/")?;
        rest.parse::<i64>().ok().filter(|id| *id >= 1)
    }

    /// The page's name: its link, its heading and its part of the document title.
    pub fn title(self) -> &'static str {
        match self {
            Page::Purge => "Purge",
            Page::Verify => "Verify",
            Page::Instances => "Instances",
            Page::History => "History",
            Page::People => "People and tokens",
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
    /// Whether a page's heading takes focus when it is shown: after a navigation or a sign-in,
    /// not for the first page of a load (a screen reader starts at the top then).
    pub moved: StoredValue<bool>,
}

impl AppState {
    /// Nobody signed in yet, on `page`.
    pub fn new(page: Page) -> AppState {
        AppState {
            me: RwSignal::new(None),
            notice: RwSignal::new(None),
            page: RwSignal::new(page),
            moved: StoredValue::new(false),
        }
    }

    /// Shows `page`, as a navigation (its heading takes focus).
    pub fn go(&self, page: Page) {
        self.moved.set_value(true);
        self.page.set(page);
    }

    /// Signs `me` in: keeps its CSRF token for the calls that change state.
    pub fn sign_in(&self, me: Me) {
        api::set_csrf(me.csrf_token.clone());
        self.me.set(Some(me));
    }

    /// Passes a call's result on; a lost session first sends the person back to sign-in with
    /// its message. Every call a page makes goes through here.
    pub fn guard<T>(&self, result: Result<T, Failure>) -> Result<T, Failure> {
        if let Err(Failure::SignedOut(message)) = &result {
            api::set_csrf(None);
            self.notice.set(Some(message.clone()));
            self.me.set(None);
        }
        result
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
