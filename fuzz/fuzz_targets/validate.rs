//! Fuzzes the whole validator (YAML parser, decoders, checks) with arbitrary
//! bytes. Run: `RUSTC_BOOTSTRAP=1 cargo fuzz run validate -- -max_total_time=60`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smmflow_spec::{Project, Source};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let _ = Project::from_sources(vec![Source { path: "fuzz.yaml".into(), text }]);
});
