//! hull-image: the image side of hull, used in-process by the engine.
//!
//! Layers, from the bottom (issue 6; only the first exists yet):
//! - [`digest`] parses and checks `sha256:<hex>` content digests;
//! - [`blobs`] is the content-addressed store: blobs by digest, verified while written,
//!   written atomically, shared by every image.

pub mod archive;
pub mod blobs;
pub mod changes;
pub mod commit;
pub mod digest;
pub mod error;
pub mod image;
pub mod layer;
pub mod pack;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod rootfs;
pub mod runconfig;
pub mod store;
pub mod unpack;

pub use blobs::BlobStore;
pub use digest::Digest;
pub use error::{Error, Result};
