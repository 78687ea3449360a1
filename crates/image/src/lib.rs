//! hull-image: the image side of hull, used in-process by the engine. Modules from
//! the bottom up:
//! - [`digest`] (sha256 content digests), [`error`], [`tree`] (removing trees through
//!   descriptors);
//! - [`blobs`] (the content-addressed blob store), [`unpack`] (one hostile-proof tar
//!   layer into a directory), [`store`] (the layout under the root, `images.json`, the
//!   GC lock), [`layer`] (the one-pass ingest: hash, keep, decompress, unpack);
//! - [`reference`], [`image`] (manifests, indexes, configs, lookup, removal, GC);
//! - [`container_root`] (a container's root: overlay of the snapshots, or a copy),
//!   [`runconfig`] (image config to process), [`pack`] and [`changes`] (trees and a
//!   container's changes as tar), [`commit`];
//! - [`registry`], [`pull`], [`push`] (the distribution protocol), [`archive`]
//!   (docker-archive, oci-archive, OCI layouts, import).

pub mod archive;
pub mod blobs;
pub mod changes;
pub mod commit;
pub mod container_root;
pub mod digest;
pub mod error;
pub mod image;
pub mod layer;
pub mod pack;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
pub mod runconfig;
pub mod store;
pub mod tree;
pub mod unpack;

pub use blobs::BlobStore;
pub use digest::Digest;
pub use error::{Error, Result};
