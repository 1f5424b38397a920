//! The system-protoc door: protoc parses the .proto files into a descriptor set,
//! and the generator works from that, as it does from protox's.

use std::path::Path;

use prost::Message as _;

use crate::source::Parsed;
use crate::{Error, ErrorKind};

/// Parses `files` and everything they import with the protoc at `protoc`,
/// looking imports up in `includes`.
///
/// # Errors
///
/// Returns an error when an include directory does not exist, when protoc cannot be run, with protoc's own message when it
/// rejects the files, or when its output cannot be read.
pub fn parse(
    protoc: &Path,
    files: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<Parsed, Error> {
    let dirs: Vec<&Path> = includes.iter().map(AsRef::as_ref).collect();
    crate::source::check_includes(&dirs)?;
    let dir = tempfile::tempdir().map_err(|error| {
        Error::new(
            ErrorKind::Io,
            "cannot make a temporary directory for protoc's output",
        )
        .with_cause(error)
    })?;
    let set_path = dir.path().join("set.bin");
    let mut command = std::process::Command::new(protoc);
    command
        .arg("--include_imports")
        .arg("--include_source_info")
        .arg(format!("--descriptor_set_out={}", set_path.display()));
    for include in includes {
        command.arg(format!("--proto_path={}", include.as_ref().display()));
    }
    for file in files {
        command.arg(file.as_ref());
    }
    let output = command.output().map_err(|error| {
        Error::new(
            ErrorKind::Protoc,
            format!(
                "cannot run protoc at {} (install protoc, or use the built-in parser: drop use_protoc)",
                protoc.display()
            ),
        )
        .with_cause(error)
    })?;
    if !output.status.success() {
        return Err(Error::new(
            ErrorKind::Protoc,
            format!(
                "protoc failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            ),
        ));
    }
    let bytes = std::fs::read(&set_path).map_err(|error| {
        Error::new(
            ErrorKind::Protoc,
            "cannot read the descriptor set protoc wrote",
        )
        .with_cause(error)
    })?;
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice()).map_err(|error| {
        Error::new(
            ErrorKind::Protoc,
            "protoc wrote an unreadable descriptor set",
        )
        .with_cause(error)
    })?;

    let requested: Vec<String> = files
        .iter()
        .map(|file| name_in_includes(file.as_ref(), includes))
        .collect();
    let mut parsed = Parsed {
        files: set.file,
        requested,
        imported: Vec::new(),
        paths: Vec::new(),
    };
    for file in &parsed.files {
        if !parsed.requested.iter().any(|name| name == file.name()) {
            parsed.imported.push(file.name().to_owned());
        }
        if let Some(path) = includes
            .iter()
            .map(|include| include.as_ref().join(file.name()))
            .find(|path| path.is_file())
        {
            parsed.paths.push(path);
        }
    }
    Ok(parsed)
}

/// The name protoc gives `file`: its path relative to the first include holding it.
fn name_in_includes(file: &Path, includes: &[impl AsRef<Path>]) -> String {
    includes
        .iter()
        .find_map(|include| file.strip_prefix(include.as_ref()).ok())
        .unwrap_or(file)
        .components()
        .map(|part| part.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_relative_to_the_first_include_that_holds_the_file() {
        let includes = [Path::new("protos"), Path::new("other")];
        assert_eq!(
            name_in_includes(Path::new("protos/a/b.proto"), &includes),
            "a/b.proto"
        );
        assert_eq!(
            name_in_includes(Path::new("other/c.proto"), &includes),
            "c.proto"
        );
        assert_eq!(
            name_in_includes(Path::new("elsewhere/d.proto"), &includes),
            "elsewhere/d.proto"
        );
    }

    #[test]
    fn a_protoc_that_cannot_run_says_what_to_do() {
        let error = parse(Path::new("/no/such/protoc"), &["a.proto"], &["."]).unwrap_err();
        assert!(error.is_protoc());
        assert_eq!(
            error.to_string(),
            "cannot run protoc at /no/such/protoc (install protoc, or use the built-in parser: drop use_protoc)"
        );
        let io = std::error::Error::source(&error).unwrap();
        assert!(io.downcast_ref::<std::io::Error>().is_some());
    }
}
