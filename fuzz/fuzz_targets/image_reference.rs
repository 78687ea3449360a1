//! Fuzz target: image references typed by users or found in archives parse or fail,
//! never panic, and what parses prints back to something that parses the same.
//! Run: cargo fuzz run image_reference (needs a nightly toolchain or RUSTC_BOOTSTRAP=1).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Ok(r) = hull_image::reference::Reference::parse(s) {
            let again = hull_image::reference::Reference::parse(&r.to_string()).expect("canonical form parses");
            assert_eq!(again, r);
        }
    }
});
