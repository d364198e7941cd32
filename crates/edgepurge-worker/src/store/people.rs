//! People: who may use the console and the API, with which role; removed people stay, marked,
//! for the history.

use super::{corrupt, first_row, n, opt, s, Store};
use crate::problem::internal;
use edgepurge_core::api::{Person, Role};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::people::BOOTSTRAP_ADMIN;
use edgepurge_core::ApiError;
use serde::Deserialize;
use std::cell::RefCell;
use wasm_bindgen::JsValue;

thread_local! {
    /// The bootstrap admin's row, once read in this isolate.
    static BOOTSTRAP_PERSON: RefCell<Option<Person>> = const { RefCell::new(None) };
}

/// A `people` row (also the `p.*` part of joins).
#[derive(Deserialize)]
pub(super) struct PersonRow {
    id: i64,
    name: String,
    email: Option<String>,
    role: String,
    created_at: i64,
}

impl PersonRow {
    pub(super) fn person(self) -> Result<Person, ApiError> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| corrupt("people", self.id, format!("unknown role {:?}", self.role)))?;
        Ok(Person { id: self.id, name: self.name, email: self.email, role, created_at: self.created_at })
    }
}

/// A person joined with the token or session that authenticated them (`p.*` and `T`'s columns).
#[derive(Deserialize)]
pub(super) struct PersonWith<T> {
    #[serde(flatten)]
    pub(super) person: PersonRow,
    #[serde(flatten)]
    pub(super) with: T,
}

const PEOPLE: &str = "SELECT * FROM people WHERE removed_at IS NULL ORDER BY name";
const PERSON: &str = "SELECT * FROM people WHERE id = ?1 AND removed_at IS NULL";
const PERSON_BY_EMAIL: &str = "SELECT * FROM people WHERE lower(email) = lower(?1) AND removed_at IS NULL";
/// Anyone, removed or not, holding name `?1` or e-mail `?2`.
const NAME_OR_EMAIL_TAKEN: &str =
    "SELECT * FROM people WHERE name = ?1 OR (email IS NOT NULL AND lower(email) = lower(?2))";
const CREATE_PERSON: &str = "INSERT INTO people (name, email, role, created_at) VALUES (?1, ?2, ?3, ?4) RETURNING *";
const CREATE_BOOTSTRAP_ADMIN: &str =
    "INSERT OR IGNORE INTO people (name, email, role, created_at) VALUES (?1, NULL, 'admin', ?2)";
const PERSON_NAMED: &str = "SELECT * FROM people WHERE name = ?1";
const SET_ROLE: &str = "UPDATE people SET role = ?2 WHERE id = ?1 AND removed_at IS NULL RETURNING *";
/// Marks `?1` removed at `?2`; the name and e-mail are freed (both are unique), so the person
/// can be added again.
const REMOVE_PERSON: &str = "UPDATE people SET removed_at = ?2, name = name || ' (removed ' || id || ')', \
                             email = NULL WHERE id = ?1 AND removed_at IS NULL";
const REVOKE_TOKENS_OF: &str = "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE person_id = ?1";
const END_SESSIONS_OF: &str = "DELETE FROM sessions WHERE person_id = ?1";

statements![
    PEOPLE,
    PERSON,
    PERSON_BY_EMAIL,
    NAME_OR_EMAIL_TAKEN,
    CREATE_PERSON,
    CREATE_BOOTSTRAP_ADMIN,
    PERSON_NAMED,
    SET_ROLE,
    REMOVE_PERSON,
    REVOKE_TOKENS_OF,
    END_SESSIONS_OF
];

impl Store {
    async fn person_where(&self, sql: &str, args: &[JsValue]) -> Result<Option<Person>, ApiError> {
        self.row::<PersonRow>(sql, args).await?.map(PersonRow::person).transpose()
    }

    pub async fn people(&self) -> Result<Vec<Person>, ApiError> {
        let rows = self.rows::<PersonRow>(PEOPLE, &[]).await?;
        rows.into_iter().map(PersonRow::person).collect()
    }

    pub async fn person(&self, id: i64) -> Result<Option<Person>, ApiError> {
        self.person_where(PERSON, &[n(id)]).await
    }

    pub async fn person_by_email(&self, email: &str) -> Result<Option<Person>, ApiError> {
        self.person_where(PERSON_BY_EMAIL, &[s(email)]).await
    }

    pub async fn create_person(&self, name: &str, email: Option<&str>, r: Role, now: i64) -> Result<Person, ApiError> {
        if self.person_where(NAME_OR_EMAIL_TAKEN, &[s(name), opt(email)]).await?.is_some() {
            return Err(ApiError::new(
                ErrorKind::Conflict,
                format!("a person named {name:?} or with that e-mail exists"),
            ));
        }
        self.person_where(CREATE_PERSON, &[s(name), opt(email), s(r.as_str()), n(now)])
            .await?
            .ok_or_else(|| internal("INSERT returned no row"))
    }

    /// The person the bootstrap tokens act as, made on first use: one D1 round trip the first time in an isolate,
    /// none after (it can be neither changed nor removed, so the copy cannot go stale).
    pub async fn bootstrap_admin(&self, now: i64) -> Result<Person, ApiError> {
        if let Some(person) = BOOTSTRAP_PERSON.with(|p| p.borrow().clone()) {
            return Ok(person);
        }
        let batch = vec![
            self.stmt(CREATE_BOOTSTRAP_ADMIN, &[s(BOOTSTRAP_ADMIN), n(now)])?,
            self.stmt(PERSON_NAMED, &[s(BOOTSTRAP_ADMIN)])?,
        ];
        let results = self.db.batch(batch).await.map_err(internal)?;
        let person = first_row::<PersonRow>(&results, 1)?.ok_or_else(|| internal("bootstrap admin missing"))?;
        let person = person.person()?;
        BOOTSTRAP_PERSON.with(|p| *p.borrow_mut() = Some(person.clone()));
        Ok(person)
    }

    /// Changes a person's role and ends their sessions, in one batch; `None` if there is no such
    /// person (then there are no sessions to end either: a removed person's ended with them).
    pub async fn set_role(&self, id: i64, role: Role) -> Result<Option<Person>, ApiError> {
        let batch = vec![self.stmt(SET_ROLE, &[n(id), s(role.as_str())])?, self.stmt(END_SESSIONS_OF, &[n(id)])?];
        let results = self.batch(batch, "changing a role").await?;
        first_row::<PersonRow>(&results, 0)?.map(PersonRow::person).transpose()
    }

    /// Removes a person: marked removed (their history stays), every token revoked, every
    /// session ended, in one batch; false if there is no such person.
    pub async fn remove_person(&self, id: i64, now: i64) -> Result<bool, ApiError> {
        if self.person(id).await?.is_none() {
            return Ok(false);
        }
        let batch = vec![
            self.stmt(REMOVE_PERSON, &[n(id), n(now)])?,
            self.stmt(REVOKE_TOKENS_OF, &[n(id), n(now)])?,
            self.stmt(END_SESSIONS_OF, &[n(id)])?,
        ];
        self.batch(batch, "removing a person").await?;
        Ok(true)
    }
}
