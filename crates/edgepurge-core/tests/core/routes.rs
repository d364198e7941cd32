//! The route table: matching, 404 and 405, templates, and the table's own consistency.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

use edgepurge_core::routes::{find, is_api, matches, template, Found, Op, ROUTES};
use std::collections::BTreeSet;

fn op(method: &str, path: &str) -> Option<(Op, Vec<String>)> {
    match find(method, path) {
        Found::Route(r, params) => Some((r.op, params.into_iter().map(str::to_owned).collect())),
        _ => None,
    }
}

#[test]
fn every_api_route_is_found_with_its_parameters() {
    let cases: &[(&str, &str, Op, &[&str])] = &[
        ("GET", "/api/health", Op::Health, &[]),
        ("HEAD", "/api/health", Op::HealthHead, &[]),
        ("POST", "/api/purge", Op::Purge, &[]),
        ("POST", "/api/verify", Op::Verify, &[]),
        ("GET", "/api/instances", Op::Instances, &[]),
        ("POST", "/api/instances/check", Op::CheckInstances, &[]),
        ("POST", "/api/session", Op::SignIn, &[]),
        ("DELETE", "/api/session", Op::SignOut, &[]),
        ("PATCH", "/api/people/12", Op::UpdatePerson, &["12"]),
        ("GET", "/api/people/12/tokens", Op::Tokens, &["12"]),
        ("DELETE", "/api/tokens/x", Op::RevokeToken, &["x"]),
        ("GET", "/api/openapi.json", Op::OpenApi, &[]),
    ];
    for &(method, path, want, params) in cases {
        assert_eq!(op(method, path), Some((want, params.iter().map(|p| p.to_string()).collect())), "{method} {path}");
    }
}

#[test]
fn fastly_and_cloudflare_routes_are_found_with_theirs() {
    let cases: &[(&str, Op, &[&str])] = &[
        ("/purge/www.example.com", Op::FastlyPurgeHost, &["www.example.com"]),
        ("/purge/www.example.com/", Op::FastlyPurgeUrl, &["www.example.com", ""]),
        ("/purge/www.example.com/a/b//c", Op::FastlyPurgeUrl, &["www.example.com", "a/b//c"]),
        ("/service/SU1/purge/episode-3", Op::FastlyPurgeKey, &["SU1", "episode-3"]),
        ("/service/SU1/purge", Op::FastlyPurgeKeys, &["SU1"]),
        ("/service/SU1/purge_all", Op::FastlyPurgeAll, &["SU1"]),
        ("/client/v4/zones/z1/purge_cache", Op::CloudflarePurgeCache, &["z1"]),
        ("/client/v4/zones/z1/invalidate_cache", Op::CloudflareInvalidateCache, &["z1"]),
    ];
    for &(path, want, params) in cases {
        assert_eq!(op("POST", path), Some((want, params.iter().map(|p| p.to_string()).collect())), "{path}");
    }
}

#[test]
fn a_path_with_an_empty_segment_or_a_doubled_prefix_is_no_route() {
    for path in [
        "/api//api/health",
        "/api//health",
        "//api/health",
        "/api/health/",
        "/api/people//tokens",
        "/api/people/",
        "/service//purge",
        "/purge/",
        "/purge//x",
        "/client/v4/zones//purge_cache",
        "api/health",
        "",
    ] {
        assert_eq!(find("GET", path), Found::NotFound, "{path:?}");
        assert_eq!(find("POST", path), Found::NotFound, "{path:?}");
    }
}

#[test]
fn a_known_path_with_another_method_is_a_405_listing_the_methods_it_takes() {
    let cases = [
        ("PUT", "/api/health", "GET, HEAD"),
        ("GET", "/api/purge", "POST"),
        ("PURGE", "/api/purge", "POST"),
        ("post", "/api/purge", "POST"),
        ("GET", "/api/session", "POST, DELETE"),
        ("PUT", "/api/people", "GET, POST"),
        ("GET", "/api/people/3", "PATCH, DELETE"),
        ("GET", "/service/x/purge_all", "POST"),
        ("GET", "/client/v4/zones/z/purge_cache", "POST"),
    ];
    for (method, path, allow) in cases {
        assert_eq!(find(method, path), Found::NotAllowed(allow.to_owned()), "{method} {path}");
    }
}

#[test]
fn unknown_paths_are_404s() {
    for path in ["/api/nothing", "/api/people/3/tokens/4", "/service/x/bogus", "/client/v4/zones/z", "/index.html"] {
        assert_eq!(find("GET", path), Found::NotFound, "{path}");
    }
}

#[test]
fn templates_name_the_route_and_never_the_callers_data() {
    let cases = [
        ("/api/people/12/tokens", "/api/people/{id}/tokens"),
        ("/api/health", "/api/health"),
        ("/purge/www.example.com/secret/path", "/purge/{host}/{path}"),
        ("/service/SU1/purge/k", "/service/{service_id}/purge/{key}"),
        ("/client/v4/zones/z1/purge_cache", "/client/v4/zones/{zone_id}/purge_cache"),
        ("/api/whatever/you/like", "(no route)"),
    ];
    for (path, want) in cases {
        assert_eq!(template(path), want, "{path}");
    }
}

#[test]
fn the_api_prefixes_are_the_tables() {
    for route in ROUTES {
        let example = route.pattern.replace("{path}", "p").replace(['{', '}'], "");
        assert!(is_api(&example), "{} is outside the API's prefixes", route.pattern);
    }
    for path in ["/", "/index.html", "/pkg/web_bg.wasm", "/apix/purge"] {
        assert!(!is_api(path), "{path}");
    }
}

#[test]
fn each_method_and_pattern_and_each_operation_id_is_in_the_table_once() {
    let mut seen = BTreeSet::new();
    let mut ids = BTreeSet::new();
    let mut ops = BTreeSet::new();
    for r in ROUTES {
        assert!(seen.insert((r.method, r.pattern)), "{} {} twice", r.method, r.pattern);
        assert!(ids.insert(r.id), "{} twice", r.id);
        assert!(ops.insert(r.op), "{:?} twice", r.op);
        assert_eq!(r.op.id(), r.id);
        assert_eq!(r.method, r.method.to_ascii_uppercase());
    }
}

#[test]
fn every_route_finds_itself_and_no_earlier_route_shadows_it() {
    for r in ROUTES {
        let example = r.pattern.replace("{path}", "a/b").replace("{id}", "7").replace(['{', '}'], "");
        match find(r.method, &example) {
            Found::Route(found, _) => assert_eq!(found.op, r.op, "{} {example}", r.method),
            other => panic!("{} {example}: {other:?}", r.method),
        }
    }
}

#[test]
fn every_route_answers_the_problems_of_its_callers() {
    use edgepurge_core::routes::Callers;
    for r in ROUTES {
        let mut sorted = r.problems.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted, r.problems, "{}: listed in order, once", r.id);
        if matches!(r.callers, Callers::Api | Callers::Fastly) {
            for status in [401, 403, 429, 500] {
                assert!(r.problems.contains(&status), "{} can answer {status}", r.id);
            }
        }
    }
    assert!(matches("/api/verify", "/api/verify").is_some());
    let verify = ROUTES.iter().find(|r| r.op == Op::Verify).unwrap();
    assert!(verify.problems.contains(&422), "verify refuses a plan over the subrequest budget");
}
