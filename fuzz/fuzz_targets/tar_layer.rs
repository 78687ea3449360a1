//! Fuzz target: an untrusted layer (any bytes, any compression) unpacks or fails
//! without panicking and without writing outside its directory: everything it made is
//! under the per-run directory, which is removed afterwards.
//! Run (as root, so ownership and device nodes are exercised):
//! cargo fuzz run tar_layer (needs a nightly toolchain or RUSTC_BOOTSTRAP=1).
#![no_main]

use std::io::BufReader;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let base = std::env::temp_dir().join(format!("hull-fuzz-tar-{}", std::process::id()));
    let dest = base.join("snap");
    let _ = hull_image::store::remove_tree(&base);
    std::fs::create_dir_all(&dest).unwrap();
    if let Ok(r) = hull_image::layer::decompress(BufReader::new(data)) {
        let _ = hull_image::unpack::unpack(r, &dest, Default::default());
    }
    // Nothing beside the snapshot directory.
    let beside: Vec<_> = std::fs::read_dir(&base).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("snap")], "a layer wrote outside its directory");
    hull_image::store::remove_tree(&base).unwrap();
});
