//! The Fastly- and Cloudflare-compatible translations, both ways.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use super::{completed, config, two_host_plan};
use edgepurge_core::api::compat::CloudflarePurge;
use edgepurge_core::api::PurgeRequest;
use edgepurge_core::compat::{
    cloudflare_reply, cloudflare_request, fastly_reply, fastly_request, CloudflareAction, PurgeId,
};
use edgepurge_core::error::ErrorKind;
use edgepurge_core::outcome::DeliveryError;
use edgepurge_core::report::ReportBuilder;

fn hosts() -> Vec<String> {
    config(&[]).allowed_hosts
}

fn urls(u: &[&str], soft: bool) -> PurgeRequest {
    PurgeRequest { urls: u.iter().map(|s| (*s).to_owned()).collect(), soft, ..Default::default() }
}

fn keys(k: &[&str], soft: bool) -> PurgeRequest {
    PurgeRequest { keys: k.iter().map(|s| (*s).to_owned()).collect(), soft, ..Default::default() }
}

#[test]
fn fastly_requests_translate_as_documented() {
    let all = PurgeRequest { hosts: hosts(), ..Default::default() };
    // (path, query, Fastly-Soft-Purge, Surrogate-Key) -> (request, batch keys)
    type Input<'a> = (&'a str, Option<&'a str>, Option<&'a str>, Option<&'a str>);
    let cases: Vec<(Input<'_>, PurgeRequest, Option<Vec<&str>>)> = vec![
        (("/purge/www.example.com/a/b", None, None, None), urls(&["https://www.example.com/a/b"], false), None),
        (
            ("/purge/www.example.com/a", Some("x=1&y"), Some("1"), None),
            urls(&["https://www.example.com/a?x=1&y"], true),
            None,
        ),
        (("/purge/www.example.com/", None, Some(" 1 "), None), urls(&["https://www.example.com/"], true), None),
        (("/purge/www.example.com/", None, Some("0"), None), urls(&["https://www.example.com/"], false), None),
        (("/service/SVC/purge/show-1", None, None, None), keys(&["show-1"], false), None),
        (("/service/SVC/purge/show-1", None, Some("1"), None), keys(&["show-1"], true), None),
        (
            ("/service/SVC/purge", None, None, Some("k1  k2\tk3")),
            keys(&["k1", "k2", "k3"], false),
            Some(vec!["k1", "k2", "k3"]),
        ),
        (("/service/SVC/purge", None, None, None), keys(&[], false), Some(vec![])),
        (("/service/SVC/purge_all", None, Some("1"), None), all, None),
    ];
    for ((path, query, soft, keys), request, batch) in cases {
        let t = fastly_request(path, query, soft, keys, &hosts()).unwrap();
        assert_eq!(t.request, request, "{path}");
        assert_eq!(t.batch, batch.map(|b| b.into_iter().map(str::to_owned).collect()), "{path}");
    }
    for path in ["/purge/", "/purge", "/service/SVC", "/service/SVC/purge/a/b", "/service/SVC/other", "/elsewhere"] {
        let e = fastly_request(path, None, None, None, &hosts()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::NotFound, "{path}");
    }
    // A soft purge asked for in another spelling is refused, never carried out as a hard one.
    for soft in ["true", "yes", "", "01", "1 1"] {
        let e = fastly_request("/purge/www.example.com/", None, Some(soft), None, &hosts()).unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadRequest, "{soft:?}");
    }
}

fn cf(json: &str) -> Result<PurgeRequest, ErrorKind> {
    let body: CloudflarePurge = serde_json::from_str(json).map_err(|_| ErrorKind::BadRequest)?;
    cloudflare_request(&body, &hosts(), CloudflareAction::Purge).map_err(|e| e.kind)
}

#[test]
fn cloudflare_bodies_translate_as_documented() {
    let full = cf(
        r#"{"files": ["https://www.example.com/a", {"url": "https://www.example.com/b", "headers": {"Origin": "x"}}],
                     "tags": ["t1"], "prefixes": ["www.example.com/p/"], "hosts": ["cdn.example.com"]}"#,
    )
    .unwrap();
    assert_eq!(
        full,
        PurgeRequest {
            urls: vec!["https://www.example.com/a".into(), "https://www.example.com/b".into()],
            keys: vec!["t1".into()],
            prefixes: vec!["https://www.example.com/p/".into()],
            hosts: vec!["cdn.example.com".into()],
            soft: false,
            confirm: false,
            confirm_urls: vec![],
        }
    );
    assert_eq!(cf(r#"{"purge_everything": true}"#).unwrap().hosts, hosts());
    assert_eq!(cf(r#"{"purge_everything": false, "tags": ["t"]}"#).unwrap().keys, ["t"]);
    let thirty = format!(r#"{{"files": [{}]}}"#, vec![r#""https://www.example.com/""#; 30].join(","));
    assert_eq!(cf(&thirty).unwrap().urls.len(), 30);

    let over = |list: &str| format!(r#"{{"{list}": [{}]}}"#, vec![r#""x""#; 31].join(","));
    let refused: Vec<(String, ErrorKind)> = vec![
        (over("files"), ErrorKind::TooManyUrls),
        (over("tags"), ErrorKind::TooManyUrls),
        (over("prefixes"), ErrorKind::TooManyUrls),
        (over("hosts"), ErrorKind::TooManyUrls),
        (r#"{"purge_everything": true, "files": ["https://www.example.com/"]}"#.into(), ErrorKind::BadRequest),
        (r#"{"files": ["https://www.example.com/"], "bogus": 1}"#.into(), ErrorKind::BadRequest),
        (r#"{"files": "https://www.example.com/"}"#.into(), ErrorKind::BadRequest),
        (r#"{"files": [1]}"#.into(), ErrorKind::BadRequest),
        (r#"{"files": [{"headers": {}}]}"#.into(), ErrorKind::BadRequest),
        (r#"{"tags": [{"url": "x"}]}"#.into(), ErrorKind::BadRequest),
    ];
    for (json, kind) in refused {
        assert_eq!(cf(&json), Err(kind), "{json}");
    }
}

#[test]
fn compatible_replies_never_call_a_partial_purge_ok() {
    let plan = two_host_plan();
    let mut all = ReportBuilder::new(&plan);
    for (j, job) in plan.jobs.iter().enumerate() {
        for r in 0..job.requests.len() {
            all.record(&plan, j, &completed(r, Ok(super::answer_with(200, &[])), 1, 1));
        }
    }
    let ok = all.finish();
    let mut some = ReportBuilder::new(&plan);
    some.record(&plan, 0, &completed(0, Ok(super::answer_with(200, &[])), 1, 1));
    some.record(&plan, 1, &completed(0, Err(DeliveryError::Timeout(5)), 1, 3));
    let partial = some.finish();

    let (status, reply) = fastly_reply(ok.clone(), PurgeId { now_ms: 0x1f, random: 1 }, None);
    assert_eq!(
        (status, serde_json::to_value(reply).unwrap()),
        (200, serde_json::json!({"status": "ok", "id": "1f-00000001"}))
    );
    let (status, reply) =
        fastly_reply(ok.clone(), PurgeId { now_ms: 0x1f, random: 2 }, Some(vec!["k1".into(), "k2".into()]));
    assert_eq!(
        (status, serde_json::to_value(reply).unwrap()),
        (200, serde_json::json!({"k1": "1f-00000002", "k2": "1f-00000002"}))
    );
    let (status, reply) = fastly_reply(partial.clone(), PurgeId { now_ms: 0x1f, random: 3 }, Some(vec!["k1".into()]));
    let v = serde_json::to_value(reply).unwrap();
    assert_eq!((status, &v["status"], &v["id"]), (502, &serde_json::json!("error"), &serde_json::json!("1f-00000003")));
    assert!(v["msg"].as_str().unwrap().starts_with("purge reached 1 of 5 (item, instance) pairs"));
    assert_eq!(v["report"]["summary"]["total"], 5);

    let (status, reply) = cloudflare_reply(ok, PurgeId { now_ms: 0x1f, random: 4 });
    assert_eq!(
        (status, serde_json::to_value(reply).unwrap()),
        (200, serde_json::json!({"success": true, "errors": [], "messages": [], "result": {"id": "1f00000004"}}))
    );
    let (status, reply) = cloudflare_reply(partial, PurgeId { now_ms: 0x1f, random: 5 });
    let v = serde_json::to_value(reply).unwrap();
    assert_eq!(
        (status, &v["success"], &v["errors"][0]["code"]),
        (502, &serde_json::json!(false), &serde_json::json!(1000))
    );
    assert_eq!(
        (&v["result"]["id"], &v["result"]["report"]["status"]),
        (&serde_json::json!("1f00000005"), &serde_json::json!("partial"))
    );
}

#[test]
fn cloudflare_invalidate_marks_files_and_tags_stale_and_purges_the_rest() {
    let inv = |json: &str| {
        let body: CloudflarePurge = serde_json::from_str(json).unwrap();
        cloudflare_request(&body, &hosts(), CloudflareAction::Invalidate)
    };
    let files = inv(r#"{"files": ["https://www.example.com/a"]}"#).unwrap();
    assert_eq!((files.urls.len(), files.soft), (1, true));
    let tags = inv(r#"{"tags": ["t"]}"#).unwrap();
    assert_eq!((tags.keys.len(), tags.soft), (1, true));
    // Bans cannot mark stale: prefixes, hosts and everything are purged.
    let everything = inv(r#"{"purge_everything": true}"#).unwrap();
    assert_eq!((everything.hosts, everything.soft), (hosts(), false));
    assert!(!inv(r#"{"prefixes": ["www.example.com/p/"]}"#).unwrap().soft);
    let mixed = inv(r#"{"files": ["https://www.example.com/a"], "hosts": ["www.example.com"]}"#).unwrap_err();
    assert_eq!(mixed.kind, ErrorKind::BadRequest);
    // purge_cache with the same body deletes.
    let body: CloudflarePurge = serde_json::from_str(r#"{"files": ["https://www.example.com/a"]}"#).unwrap();
    assert!(!cloudflare_request(&body, &hosts(), CloudflareAction::Purge).unwrap().soft);
}
