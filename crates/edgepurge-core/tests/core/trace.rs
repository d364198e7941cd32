//! Traces as data: W3C trace context, span ids, the fan-out's spans, and OTLP/JSON.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{answer_with, completed, two_host_plan};
use edgepurge_core::delivery::Timing;
use edgepurge_core::report::ReportBuilder;
use edgepurge_core::trace::{Kind, Span, SpanIds, Trace, TraceContext, TraceId};

const FRESH: TraceId = TraceId([7; 16]);

#[test]
fn a_valid_traceparent_is_continued_and_anything_else_starts_a_trace() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let c = TraceContext::from_headers(Some(tp), Some("congo=t61rcWkgMzE"), FRESH);
    assert_eq!(c.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(c.parent.unwrap().to_string(), "00f067aa0ba902b7");
    assert!(c.sampled);
    assert_eq!(c.tracestate.as_deref(), Some("congo=t61rcWkgMzE"));
    let unsampled = TraceContext::from_headers(Some(&tp.replace("-01", "-00")), None, FRESH);
    assert!(!unsampled.sampled);
    // A later version may add fields; version ff, upper case, zero ids and junk are ignored.
    let later = TraceContext::from_headers(Some(&format!("cc{}-what", &tp[2..])), None, FRESH);
    assert_eq!(later.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    for bad in [
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "garbage",
    ] {
        let c = TraceContext::from_headers(Some(bad), Some("a=b"), FRESH);
        assert_eq!((c.trace_id, c.parent, c.tracestate), (FRESH, None, None), "{bad}");
    }
    let c = TraceContext::from_headers(None, None, FRESH);
    assert_eq!(c.traceparent(SpanIds::new([1; 16]).root()).len(), 55);
}

#[test]
fn span_ids_follow_from_the_seed_and_the_place() {
    let ids = SpanIds::new([9; 16]);
    assert_eq!(ids.id("request", 1, 2), SpanIds::new([9; 16]).id("request", 1, 2));
    let all = [
        ids.root(),
        ids.id("request", 0, 0),
        ids.id("request", 0, 1),
        ids.id("request", 1, 0),
        ids.id("connection", 0, 0),
    ];
    for (i, a) in all.iter().enumerate() {
        assert!(all[i + 1..].iter().all(|b| a != b), "{a} repeats");
    }
    assert_ne!(SpanIds::new([8; 16]).root(), ids.root());
}

#[test]
fn each_purge_carries_the_traceparent_of_the_span_that_records_it() {
    let mut plan = two_host_plan();
    let context = TraceContext::from_headers(None, None, FRESH);
    let ids = SpanIds::new([3; 16]);
    plan.trace(&context, &ids);
    let mut report = ReportBuilder::new(&plan);
    for (j, job) in plan.jobs.iter().enumerate() {
        for r in 0..job.requests.len() {
            let mut done = completed(r, Ok(answer_with(200, &[("Purge-Count", "1")])), 4, 1);
            done.timing =
                Timing { started_at: 1000 + r as u64, ended_at: 1010 + r as u64, connect_ms: (r == 0).then_some(2) };
            report.record(&plan, j, &done);
        }
    }
    let spans = report.spans(&plan, ids.root(), &ids);
    assert_eq!(spans.iter().filter(|s| s.name == "connection").count(), plan.jobs.len());
    let requests: Vec<&Span> = spans.iter().filter(|s| s.name == "PURGE").collect();
    assert_eq!(requests.len(), 5);
    for (j, job) in plan.jobs.iter().enumerate() {
        for (r, request) in job.requests.iter().enumerate() {
            let text = String::from_utf8(request.bytes.clone()).unwrap();
            let id = ids.id("request", j, r);
            assert!(text.contains(&format!("\r\ntraceparent: {}\r\n", context.traceparent(id))), "{text}");
            assert!(text.starts_with("PURGE /") && text.ends_with("\r\n\r\n"), "{text}");
            let span = requests.iter().find(|s| s.id == id).expect("a span per request");
            assert_eq!(span.parent, Some(ids.id("connection", j, 0)));
            assert_eq!((span.kind, span.start_ms, span.end_ms), (Kind::Client, 1000 + r as u64, 1010 + r as u64));
            assert!(span
                .attributes
                .iter()
                .any(|(k, v)| *k == "edgepurge.outcome" && format!("{v:?}").contains("purged")));
            assert!(span.attributes.contains(&("edgepurge.purge_count", 1.into())), "{:?}", span.attributes);
        }
    }
    let connection = spans.iter().find(|s| s.name == "connection").unwrap();
    assert!(connection.attributes.iter().any(|(k, _)| *k == "edgepurge.connect_ms"));
    assert_eq!(connection.parent, Some(ids.root()));
}

#[test]
fn failed_traces_are_always_kept_others_by_ratio() {
    let context = TraceContext::from_headers(None, None, FRESH);
    let ok = Trace {
        context: context.clone(),
        spans: vec![Span::new(SpanIds::new([1; 16]).root(), None, "x", Kind::Server, 1, 2)],
    };
    assert!(ok.keep(1.0));
    assert!(!ok.keep(0.0));
    let failed = Trace { spans: vec![ok.spans[0].clone().failed("boom")], ..ok.clone() };
    assert!(failed.keep(0.0));
    // The caller's "not sampled" flag does not drop it: edgepurge's sampler decides.
    let unsampled = Trace { context: TraceContext { sampled: false, ..context }, ..ok };
    assert!(unsampled.keep(1.0));
    assert!(!unsampled.keep(0.0));
}

#[test]
fn the_callers_context_is_read_apart_and_a_link_is_written() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let caller = TraceContext::caller(Some(tp), None).unwrap();
    assert_eq!(caller.trace_id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    assert!(TraceContext::caller(Some("00-zz-yy-01"), None).is_none());
    assert!(TraceContext::caller(None, None).is_none());
    // A refused request's own trace links to the caller's span instead of being its child.
    let own = TraceContext::fresh(FRESH);
    let mut root = Span::new(SpanIds::new([2; 16]).root(), None, "POST /api/purge", Kind::Server, 1, 2);
    root.links.push((caller.trace_id, caller.parent.unwrap()));
    let json: serde_json::Value =
        serde_json::from_slice(&Trace { context: own, spans: vec![root] }.otlp_json("edgepurge", "0")).unwrap();
    let span = &json["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
    assert_eq!(span["traceId"], FRESH.to_string());
    assert!(span.get("parentSpanId").is_none());
    assert_eq!(span["links"][0]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(span["links"][0]["spanId"], "00f067aa0ba902b7");
}

#[test]
fn a_trace_is_written_as_otlp_json() {
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let context = TraceContext::from_headers(Some(tp), Some("vendor=x"), FRESH);
    let ids = SpanIds::new([5; 16]);
    let root =
        Span::new(ids.root(), context.parent, "POST /api/purge", Kind::Server, 1_700_000_000_123, 1_700_000_000_456)
            .with("http.request.method", "POST")
            .with("http.response.status_code", 207)
            .with("edgepurge.tls", true);
    let child = Span::new(
        ids.id("request", 0, 0),
        Some(ids.root()),
        "PURGE",
        Kind::Client,
        1_700_000_000_200,
        1_700_000_000_300,
    )
    .failed("timed out");
    let json: serde_json::Value =
        serde_json::from_slice(&Trace { context, spans: vec![root, child] }.otlp_json("edgepurge", "0.1.0")).unwrap();
    let rs = &json["resourceSpans"][0];
    assert_eq!(
        rs["resource"]["attributes"][0],
        serde_json::json!({"key": "service.name", "value": {"stringValue": "edgepurge"}})
    );
    let spans = &rs["scopeSpans"][0]["spans"];
    assert_eq!(spans[0]["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(spans[0]["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(spans[0]["traceState"], "vendor=x");
    assert_eq!(spans[0]["kind"], 2);
    assert_eq!(spans[0]["startTimeUnixNano"], "1700000000123000000");
    assert_eq!(spans[0]["status"], serde_json::json!({"code": 1}));
    assert_eq!(
        spans[0]["attributes"][1],
        serde_json::json!({"key": "http.response.status_code", "value": {"intValue": "207"}})
    );
    assert_eq!(spans[0]["attributes"][2]["value"], serde_json::json!({"boolValue": true}));
    assert_eq!(spans[1]["parentSpanId"], spans[0]["spanId"]);
    assert_eq!(
        (spans[1]["kind"].clone(), spans[1]["status"].clone()),
        (serde_json::json!(3), serde_json::json!({"message": "timed out", "code": 2}))
    );
}

#[test]
fn a_large_purges_trace_keeps_its_failures_and_slowest_requests_within_the_bound() {
    use edgepurge_core::plan::Plan;
    use edgepurge_core::purge::Purge;
    use edgepurge_core::report::{MAX_REQUEST_SPANS, MAX_SPAN_LABEL_CHARS};
    use edgepurge_core::target::parse_all;
    use std::collections::BTreeMap;
    // 100 URLs (one of them very long) to 10 instances: 1,000 requests.
    let long = format!("https://a.example/{}", "x".repeat(1000));
    let urls: Vec<String> = std::iter::once(long).chain((1..100).map(|i| format!("https://a.example/{i}"))).collect();
    let instances: Vec<_> = (1..=10).map(|i| super::addr(&format!("10.0.0.{i}:80"))).collect();
    let mut by_host = BTreeMap::new();
    by_host.insert("a.example".to_owned(), instances);
    let plan = Plan::build(Purge::urls(parse_all(&urls).unwrap(), false), &by_host, &super::token(), 6, false).unwrap();
    let mut report = ReportBuilder::new(&plan);
    for (j, job) in plan.jobs.iter().enumerate() {
        for r in 0..job.requests.len() {
            // Instance 0's request 7 fails; request times grow with r.
            let reply = if (j, r) == (0, 7) {
                Ok(answer_with(500, &[]))
            } else {
                Ok(answer_with(200, &[("Purge-Count", "1")]))
            };
            let mut done = completed(r, reply, 4, 1);
            done.timing = Timing { started_at: 1000, ended_at: 1001 + r as u64, connect_ms: None };
            report.record(&plan, j, &done);
        }
    }
    let ids = SpanIds::new([3; 16]);
    let spans = report.spans(&plan, ids.root(), &ids);
    let requests: Vec<&Span> = spans.iter().filter(|s| s.name == "PURGE").collect();
    assert_eq!(requests.len(), MAX_REQUEST_SPANS);
    assert!(requests.iter().any(|s| s.error.is_some()), "the failure is kept");
    let kept_min = requests.iter().filter(|s| s.error.is_none()).map(|s| s.end_ms - s.start_ms).min().unwrap();
    assert!(kept_min >= 50, "past the failure, the slowest half are the ones kept: {kept_min}");
    let omitted: i64 = spans
        .iter()
        .filter(|s| s.name == "connection")
        .flat_map(|s| s.attributes.iter())
        .filter(|(k, _)| *k == "edgepurge.requests.omitted")
        .map(|(_, v)| if let edgepurge_core::trace::Value::Int(n) = v { *n } else { 0 })
        .sum();
    assert_eq!(omitted as usize, 1000 - MAX_REQUEST_SPANS, "every request left out is counted");
    // Labels are cut on spans; the item's index names it in full.
    for s in &requests {
        let label = s.attributes.iter().find(|(k, _)| *k == "edgepurge.item").map(|(_, v)| format!("{v:?}")).unwrap();
        assert!(label.chars().count() <= MAX_SPAN_LABEL_CHARS + 10, "{label}");
        assert!(s.attributes.iter().any(|(k, _)| *k == "edgepurge.item.index"));
    }
}

#[test]
fn a_trace_over_the_export_cap_is_summarised_not_dropped() {
    let ids = SpanIds::new([4; 16]);
    let root = Span::new(ids.root(), None, "POST /api/purge", Kind::Server, 1, 9);
    let connection = Span::new(ids.id("connection", 0, 0), Some(ids.root()), "connection", Kind::Client, 2, 8);
    let parent = connection.id;
    let requests = (0..3).map(|r| Span::new(ids.id("request", 0, r), Some(parent), "PURGE", Kind::Client, 3, 7));
    let trace =
        Trace { context: TraceContext::fresh(FRESH), spans: [root, connection].into_iter().chain(requests).collect() };
    let short = trace.summarised();
    assert_eq!(short.spans.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["POST /api/purge", "connection"]);
    assert!(short.spans[0].attributes.contains(&("edgepurge.trace.summarised", 3.into())));
    assert!(short.otlp_json("edgepurge", "0").len() < trace.otlp_json("edgepurge", "0").len());
}
