//! DoH answers from a hostile or broken server: a result or an error, never a panic.
#![no_main]
use edgepurge_core::discovery::{parse_answer, RecordType};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for rtype in RecordType::BOTH {
        let _ = parse_answer("instances.example.net", rtype, 0, data);
    }
});
