//! Instance answers in arbitrary pieces: the reader completes, errs or waits, never panics, and
//! how the bytes are split never changes the result.
#![no_main]
use edgepurge_core::http1::AnswerReader;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, bytes)) = data.split_first() else { return };
    let whole = {
        let mut r = AnswerReader::new();
        match r.feed(bytes) {
            Ok(Some(a)) => Ok(a),
            Ok(None) => r.finish(),
            Err(e) => Err(e),
        }
    };
    let cut = usize::from(split).min(bytes.len());
    let pieces = {
        let mut r = AnswerReader::new();
        match r.feed(&bytes[..cut]) {
            Ok(Some(a)) => Ok(a),
            Err(e) => Err(e),
            Ok(None) => match r.feed(&bytes[cut..]) {
                Ok(Some(a)) => Ok(a),
                Ok(None) => r.finish(),
                Err(e) => Err(e),
            },
        }
    };
    // A complete answer found early may stop before trailing bytes: compare only when the
    // first piece alone was not already complete.
    if let (Ok(a), Ok(b)) = (&whole, &pieces) {
        assert_eq!(a.status, b.status);
    }
    let _ = AnswerReader::for_head().feed(bytes);
});
