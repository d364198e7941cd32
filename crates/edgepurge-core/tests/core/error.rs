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
