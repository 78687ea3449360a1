//! Fuzz target: untrusted manifest, index and config bytes (from registries and
//! archives) must parse or fail, never panic; a manifest with a config must give a
//! layer stack or an error.
//! Run: cargo fuzz run image_manifest (needs a nightly toolchain or RUSTC_BOOTSTRAP=1).
#![no_main]

use hull_image::image::{layers_of, parse_manifest, Manifestish, Platform};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Split the input into a manifest and a config at the first NUL.
    let (m, c) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &b"{}"[..]),
    };
    match parse_manifest(m, None, "fuzz") {
        Ok(Manifestish::Index(idx)) => {
            let _ = Platform::host().select(&idx);
        }
        Ok(Manifestish::Manifest(man)) => {
            if let Ok(cfg) = serde_json::from_slice::<oci_spec::image::ImageConfiguration>(c) {
                let _ = layers_of(&man, &cfg);
            }
        }
        Err(_) => {}
    }
});
