//! The API's JSON: the shapes clients rely on, and every string enum's wire names both ways
//! (as `str_enum!` declares them: `as_str`, `parse`, `Display`, serde).

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{answer_with, completed, two_host_plan};
use edgepurge_core::api::{
    CacheStatusFormat, Contract, DeliveryStatus, ErrorSource, HistoryKind, HistoryStatus, Outcome, PurgeRequest,
    PurgeStatus, Role, Transport, Via,
};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::report::ReportBuilder;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::{Debug, Display};

#[test]
fn api_json_shapes_are_stable() {
    let req: PurgeRequest = serde_json::from_str(r#"{"urls": ["https://a.example/"]}"#).unwrap();
    assert_eq!(req.urls, ["https://a.example/"]);
    assert!(serde_json::from_str::<PurgeRequest>(r#"{"urls": [], "extra": 1}"#).is_err());
    assert!(serde_json::from_str::<PurgeRequest>(r#"{"url": "x"}"#).is_err());

    let plan = two_host_plan();
    let mut b = ReportBuilder::new(&plan);
    b.record(&plan, 0, &completed(0, Ok(answer_with(200, &[("Purge-Count", "0")])), 4, 1));
    let json = serde_json::to_value(b.finish()).unwrap();
    assert_eq!(json["status"], "partial");
    let row = &json["results"][0];
    assert_eq!(row["outcome"], "not_cached");
    assert_eq!(row["http_status"], 200);
    assert_eq!(row["instance"], "10.0.0.1:80");
    assert!(row.get("error").is_none());
    assert_eq!(json["results"][1]["outcome"], "failed");
    assert!(json["results"][1]["error"].is_string());

    let problem =
        serde_json::to_value(edgepurge_core::ApiError::new(ErrorKind::Unauthorized, "no token").problem()).unwrap();
    assert_eq!(problem["type"], "urn:edgepurge:problem:unauthorized");
    assert_eq!(problem["status"], 401);
    assert_eq!(problem["source"], "caller");
    assert!(problem.get("setting").is_none());
}

/// What `str_enum!` gives every string enum, as a trait so one table check covers them all.
trait WireEnum: Copy + Debug + PartialEq + Display + Serialize + DeserializeOwned + 'static {
    fn all() -> Vec<Self>;
    fn name(self) -> &'static str;
    fn read(raw: &str) -> Option<Self>;
}

macro_rules! wire_enum {
    ($($t:ty),+) => {$(
        impl WireEnum for $t {
            fn all() -> Vec<Self> {
                <$t>::ALL.to_vec()
            }
            fn name(self) -> &'static str {
                self.as_str()
            }
            fn read(raw: &str) -> Option<Self> {
                <$t>::parse(raw)
            }
        }
    )+};
}

wire_enum!(
    PurgeStatus,
    Outcome,
    Contract,
    Transport,
    CacheStatusFormat,
    ErrorSource,
    Role,
    Via,
    HistoryKind,
    HistoryStatus,
    DeliveryStatus
);

/// `table` is every variant of `T` with its wire name, in declaration order: each reads and
/// writes as that name every way, and nothing else reads as a variant.
fn check<T: WireEnum>(table: &[(T, &str)]) {
    let listed: Vec<T> = table.iter().map(|(v, _)| *v).collect();
    assert_eq!(T::all(), listed, "ALL is every variant, in order");
    for &(v, name) in table {
        assert_eq!((v.name(), T::read(name), v.to_string()), (name, Some(v), name.to_owned()), "{v:?}");
        assert_eq!(serde_json::to_value(v).unwrap(), name, "{v:?}");
        assert_eq!(serde_json::from_value::<T>(serde_json::json!(name)).unwrap(), v, "{v:?}");
    }
    let near = table.iter().flat_map(|(_, n)| [n.to_uppercase(), format!(" {n}"), format!("{n}_"), n.replace('_', "")]);
    for raw in near.filter(|raw| !table.iter().any(|(_, n)| n == raw)).chain(["".into(), "unknown".into()]) {
        assert_eq!(T::read(&raw), None, "{raw:?}");
        let err = serde_json::from_value::<T>(serde_json::json!(raw)).unwrap_err().to_string();
        assert!(err.starts_with(&format!("unknown variant `{raw}`, expected")), "{raw:?}: {err}");
        assert!(table.iter().all(|(_, n)| err.contains(&format!("`{n}`"))), "the error lists every name: {err}");
    }
}

#[test]
fn every_string_enum_reads_and_writes_its_wire_names() {
    use CacheStatusFormat as F;
    check(&[(PurgeStatus::Purged, "purged"), (PurgeStatus::Partial, "partial"), (PurgeStatus::Failed, "failed")]);
    check(&[
        (Outcome::Purged, "purged"),
        (Outcome::NotCached, "not_cached"),
        (Outcome::Unconfirmed, "unconfirmed"),
        (Outcome::Rejected, "rejected"),
        (Outcome::Failed, "failed"),
    ]);
    check(&[(Contract::Edgepurge, "edgepurge"), (Contract::Plain, "plain")]);
    check(&[(Transport::Plain, "plain"), (Transport::Tls, "tls"), (Transport::Insecure, "insecure")]);
    check(&[(F::Rfc9211, "rfc9211"), (F::Pipely, "pipely"), (F::XCache, "x_cache"), (F::Age, "age")]);
    check(&[
        (ErrorSource::Caller, "caller"),
        (ErrorSource::Config, "config"),
        (ErrorSource::Discovery, "discovery"),
        (ErrorSource::Instance, "instance"),
        (ErrorSource::Worker, "worker"),
        (ErrorSource::Store, "store"),
        (ErrorSource::Access, "access"),
    ]);
    check(&[(Role::Admin, "admin"), (Role::Editor, "editor")]);
    check(&[(Via::Session, "session"), (Via::Token, "token"), (Via::Access, "access")]);
    check(&[(HistoryKind::Purge, "purge"), (HistoryKind::Check, "check")]);
    check(&[
        (HistoryStatus::Purged, "purged"),
        (HistoryStatus::Partial, "partial"),
        (HistoryStatus::Failed, "failed"),
        (HistoryStatus::Denied, "denied"),
        (HistoryStatus::Running, "running"),
    ]);
    check(&[
        (DeliveryStatus::Pending, "pending"),
        (DeliveryStatus::Delivered, "delivered"),
        (DeliveryStatus::Abandoned, "abandoned"),
    ]);
}

#[test]
fn string_enums_keep_the_derives_written_on_them() {
    // A history entry or a host without the field reads as a purge, of the edgepurge contract.
    assert_eq!((HistoryKind::default(), Contract::default()), (HistoryKind::Purge, Contract::Edgepurge));
    // Ordered as declared.
    assert!(
        DeliveryStatus::Pending < DeliveryStatus::Delivered && DeliveryStatus::Delivered < DeliveryStatus::Abandoned
    );
    assert!(Transport::Plain < Transport::Tls && Contract::Edgepurge < Contract::Plain);
}
