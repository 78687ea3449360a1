//! Fuzz target: untrusted config.json bytes must parse or fail, never panic.
//! Run: cargo fuzz run config_json (needs a nightly toolchain or RUSTC_BOOTSTRAP=1).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    hull_container::spec::check_untrusted(data);
});
