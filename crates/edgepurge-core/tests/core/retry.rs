//! Inline retries: exponential backoff with full jitter under a cap, and only retryable failures
//! retried, only so often.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn backoff_is_exponential_with_full_jitter_under_a_cap() {
    use edgepurge_core::retry::backoff_ms;
    // The random number picks a point in [0, min(cap, base * 2^(n-1))].
    let cases = [
        (1, 0, 0),
        (1, u32::MAX, 100),
        (2, u32::MAX, 200),
        (3, u32::MAX, 400),
        (5, u32::MAX, 1000),
        (40, u32::MAX, 1000),
    ];
    for (failures, random, max) in cases {
        let got = backoff_ms(100, 1000, failures, random);
        assert!(got <= max, "failures={failures}: {got} > {max}");
    }
    assert_eq!(backoff_ms(100, 1000, 3, 250), 250);
    assert_eq!(backoff_ms(100, 1000, 3, 401), 0, "wraps within the window");
    let spread: std::collections::BTreeSet<u64> = (0..50u32).map(|r| backoff_ms(100, 1000, 4, r * 7919)).collect();
    assert!(spread.len() > 10, "jitter spreads retries: {spread:?}");
}

#[test]
fn only_retryable_failures_are_retried_and_only_so_often() {
    use edgepurge_core::retry::RetryPolicy;
    let p = RetryPolicy { attempts: 3, base_ms: 100, cap_ms: 2000 };
    assert!(p.retry_after(1, true, 7).is_some());
    assert!(p.retry_after(2, true, 7).is_some());
    assert_eq!(p.retry_after(3, true, 7), None, "three sends in all");
    assert_eq!(p.retry_after(1, false, 7), None, "a 4xx is an answer, not a fault");
    let once = RetryPolicy { attempts: 1, ..p };
    assert_eq!(once.retry_after(1, true, 7), None);
}
