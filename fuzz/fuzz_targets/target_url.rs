//! Caller URL -> purge target -> request bytes: never a panic, and a target that parses always
//! writes a request of exactly six CRLF-terminated lines with no stray CR, LF or NUL.
#![no_main]
use edgepurge_core::http1::{purge_request, FieldValue};
use edgepurge_core::target::Target;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else { return };
    if let Ok(target) = Target::parse(input) {
        let token = FieldValue::new("t0ken").expect("valid token");
        let req = purge_request(&target, &token, true);
        assert_eq!(req.windows(2).filter(|w| w == b"\r\n").count(), 6);
        assert_eq!(req.iter().filter(|&&b| b == b'\r' || b == b'\n').count(), 12);
        assert!(!req.contains(&0));
        // Normalising is idempotent.
        let again = Target::parse(target.url()).expect("a normalised URL parses");
        assert_eq!(again.url(), target.url());
    }
});
