//! Errors as RFC 9457 problems: every kind has its status and a problem type.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::error::ErrorKind;

#[test]
fn every_error_kind_has_its_status() {
    let kinds = [
        (ErrorKind::BadRequest, 400),
        (ErrorKind::Unauthorized, 401),
        (ErrorKind::HostNotAllowed, 403),
        (ErrorKind::Forbidden, 403),
        (ErrorKind::NotFound, 404),
        (ErrorKind::Conflict, 409),
        (ErrorKind::MethodNotAllowed, 405),
        (ErrorKind::PayloadTooLarge, 413),
        (ErrorKind::UnsupportedMediaType, 415),
        (ErrorKind::TooManyUrls, 422),
        (ErrorKind::OverBudget, 422),
        (ErrorKind::TooManyRequests, 429),
        (ErrorKind::Config, 500),
        (ErrorKind::Internal, 500),
        (ErrorKind::DiscoveryFailed, 502),
        (ErrorKind::DiscoveryUnavailable, 503),
    ];
    for (kind, status) in kinds {
        let p = edgepurge_core::ApiError::new(kind, "x").problem();
        assert_eq!(p.status, status, "{kind:?}");
        assert!(p.type_.starts_with("urn:edgepurge:problem:"));
    }
}

#[test]
fn every_error_kind_names_where_the_fault_lies() {
    use edgepurge_core::api::ErrorSource::{self, *};
    let kinds: [(ErrorKind, ErrorSource, bool); 8] = [
        (ErrorKind::BadRequest, Caller, false),
        (ErrorKind::TooManyRequests, Caller, true),
        (ErrorKind::Config, Config, false),
        (ErrorKind::Internal, Worker, true),
        (ErrorKind::DiscoveryUnavailable, Discovery, true),
        (ErrorKind::AuditUnavailable, Store, true),
        (ErrorKind::StoreBudget, Store, true),
        (ErrorKind::AccessUnavailable, Access, true),
    ];
    for (kind, source, retryable) in kinds {
        let p = edgepurge_core::ApiError::new(kind, "x").problem();
        assert_eq!((p.source, p.retryable), (source, retryable), "{kind:?}");
    }
    // Nothing but configuration problems blames the configuration.
    for kind in ErrorKind::ALL {
        if edgepurge_core::ApiError::new(kind, "x").problem().source == Config {
            assert!(matches!(kind, ErrorKind::Config | ErrorKind::NotReady), "{kind:?} blames the configuration");
        }
    }
}
