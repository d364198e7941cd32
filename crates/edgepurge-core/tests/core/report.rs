//! Reports: every (URL, instance) pair accounted for, whatever was recorded, and the status
//! they add up to.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{answer_with, completed, two_host_plan};
use edgepurge_core::api::{Outcome, PurgeStatus};
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::report::ReportBuilder;

#[test]
fn reports_account_for_every_pair() {
    let plan = two_host_plan();
    let ok = Ok(answer_with(200, &[("Purge-Count", "1")]));

    // Nothing recorded: every pair still reported, as failed.
    let report = ReportBuilder::new(&plan).finish();
    assert_eq!((report.status, report.summary.total, report.summary.failed), (PurgeStatus::Failed, 5, 5));
    assert_eq!(report.status.http_status(), 502);

    let mut all = ReportBuilder::new(&plan);
    for (j, job) in plan.jobs.iter().enumerate() {
        for r in 0..job.requests.len() {
            all.record(&plan, j, &completed(r, ok.clone(), 3, 1));
        }
    }
    let report = all.finish();
    assert_eq!((report.status, report.status.http_status(), report.summary.purged), (PurgeStatus::Purged, 200, 5));
    let rows: Vec<(&str, &str)> = report.results.iter().map(|r| (r.url.as_str(), r.instance.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("https://a.example/1", "10.0.0.1:80"),
            ("https://a.example/1", "10.0.0.2:80"),
            ("https://b.example/2", "10.0.0.1:80"),
            ("https://a.example/3", "10.0.0.1:80"),
            ("https://a.example/3", "10.0.0.2:80"),
        ]
    );

    let mut partial = ReportBuilder::new(&plan);
    for r in 0..3 {
        partial.record(&plan, 0, &completed(r, ok.clone(), 0, 1));
    }
    for r in 0..2 {
        partial.record(&plan, 1, &completed(r, Err(DeliveryError::Connect("connection refused".into())), 0, 3));
    }
    let report = partial.finish();
    assert_eq!((report.status, report.status.http_status()), (PurgeStatus::Partial, 207));
    assert_eq!((report.summary.purged, report.summary.failed), (3, 2));
    let failed: Vec<&str> =
        report.results.iter().filter(|r| r.outcome == Outcome::Failed).map(|r| r.instance.as_str()).collect();
    assert_eq!(failed, ["10.0.0.2:80", "10.0.0.2:80"]);
}
