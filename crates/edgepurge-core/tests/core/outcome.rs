//! Classification: every answer of an instance, or failure to get one, maps to one outcome.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::answer_with;
use edgepurge_core::api::{Contract, Outcome};
use edgepurge_core::http1::{Answer, AnswerError};
use edgepurge_core::outcome::{classify, DeliveryError};

#[test]
fn every_reply_maps_to_one_outcome() {
    type Case = (Result<Answer, DeliveryError>, Outcome, Option<u16>, bool);
    let cases: Vec<Case> = vec![
        (Ok(answer_with(200, &[("Purge-Count", "2")])), Outcome::Purged, Some(200), false),
        (Ok(answer_with(200, &[("Purge-Ban", "added")])), Outcome::Purged, Some(200), false),
        (Ok(answer_with(200, &[("Purge-Count", "0")])), Outcome::NotCached, Some(200), false),
        // Issue 9, finding 7: only the VCL contract's answer is "purged"; anything else that
        // looks like success (no Purge-Count, a garbled one, a 404 from whatever answered) is
        // "unconfirmed".
        (Ok(answer_with(200, &[])), Outcome::Unconfirmed, Some(200), false),
        (Ok(answer_with(204, &[])), Outcome::Unconfirmed, Some(204), false),
        (Ok(answer_with(200, &[("Purge-Count", "many")])), Outcome::Unconfirmed, Some(200), false),
        (Ok(answer_with(404, &[])), Outcome::Unconfirmed, Some(404), false),
        (Ok(answer_with(410, &[])), Outcome::Unconfirmed, Some(410), false),
        (Ok(answer_with(401, &[])), Outcome::Rejected, Some(401), false),
        (Ok(answer_with(403, &[])), Outcome::Rejected, Some(403), false),
        (Ok(answer_with(405, &[])), Outcome::Rejected, Some(405), false),
        (Ok(answer_with(400, &[])), Outcome::Rejected, Some(400), false),
        (Ok(answer_with(503, &[])), Outcome::Failed, Some(503), true),
        (Ok(answer_with(302, &[])), Outcome::Failed, Some(302), false),
        (Err(DeliveryError::Connect("refused".into())), Outcome::Failed, None, true),
        (Err(DeliveryError::Timeout(2000)), Outcome::Failed, None, true),
        (Err(DeliveryError::Io("reset".into())), Outcome::Failed, None, true),
        (Err(DeliveryError::Answer(AnswerError::Incomplete)), Outcome::Failed, None, true),
        (Err(DeliveryError::Answer(AnswerError::Malformed("x".into()))), Outcome::Failed, None, false),
    ];
    for (reply, outcome, status, retryable) in cases {
        let c = classify(&reply, Contract::Edgepurge);
        assert_eq!((c.outcome, c.http_status, c.retryable), (outcome, status, retryable), "{reply:?}");
        assert_eq!(c.error.is_none(), matches!(outcome, Outcome::Purged | Outcome::NotCached), "{reply:?}");
        assert_eq!(outcome.is_success(), !matches!(outcome, Outcome::Rejected | Outcome::Failed));
    }
    let c = classify(&Ok(answer_with(401, &[])), Contract::Edgepurge);
    assert!(c.error.unwrap().contains("PURGE_TOKEN"));
}
