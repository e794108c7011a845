//! Compiles `proto/jpki/gateway/v1/gateway.proto` without a system `protoc`: `protox` (pure Rust,
//! with the google/protobuf well-known types built in) parses it into a `FileDescriptorSet`, which
//! is written to `OUT_DIR` for server reflection and handed to `tonic-prost-build` for the messages,
//! servers and clients.

use std::error::Error;
use std::path::PathBuf;

use prost::Message;

/// The proto root (the include path), relative to this crate.
const PROTO_ROOT: &str = "../../proto";
/// The API files, relative to [`PROTO_ROOT`] (as imports name them).
const PROTO_FILES: [&str; 4] = [
    "jpki/gateway/v1/gateway.proto",
    "jpki/gateway/v1/credentials.proto",
    "jpki/admin/v1/admin.proto",
    "jpki/audit/v1/audit.proto",
];
/// The encoded descriptor set's file name in `OUT_DIR` (read by `FILE_DESCRIPTOR_SET`).
const DESCRIPTOR_FILE: &str = "jpki_gateway_v1_descriptor.bin";

fn main() -> Result<(), Box<dyn Error>> {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let proto_root = manifest_dir.join(PROTO_ROOT);
    for file in PROTO_FILES {
        println!("cargo:rerun-if-changed={}", proto_root.join(file).display());
    }

    // Source info keeps the proto comments (generated docs, reflection clients); imports keep
    // google/protobuf/timestamp.proto in the set so reflection clients can resolve every type.
    let fds = protox::Compiler::new([&proto_root])?
        .include_source_info(true)
        .include_imports(true)
        .open_files(PROTO_FILES)
        .map_err(|e| format!("{}: {e}", proto_root.display()))?
        .file_descriptor_set();

    std::fs::write(out_dir.join(DESCRIPTOR_FILE), fds.encode_to_vec())?;

    // google.protobuf.* map to prost-types (compile_well_known_types stays off).
    tonic_prost_build::configure().build_server(true).build_client(true).compile_fds(fds)?;
    Ok(())
}
