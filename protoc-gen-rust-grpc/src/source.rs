//! The pure-Rust front door: .proto files parsed by protox, no protoc needed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use miette::Diagnostic;
use prost_types::FileDescriptorProto;

use crate::{Error, ErrorKind, Options};

/// Parsed .proto files, ready for [`crate::generate`].
#[derive(Debug, Clone)]
pub struct Parsed {
    /// Every file read, imports included, with source info (for comments).
    pub files: Vec<FileDescriptorProto>,
    /// The names (relative to an include directory) of the files asked for.
    pub requested: Vec<String>,
    /// The names of the files that were only imported.
    pub imported: Vec<String>,
    /// Every file read from disk, imports included, for `cargo:rerun-if-changed`.
    pub paths: Vec<PathBuf>,
}

impl Parsed {
    /// The files to generate: those asked for and, with `imports`, the imported
    /// ones too, so the messages a service uses from another package are there;
    /// never the well-known types (unless `compile_well_known_types` is set) nor
    /// packages under an `extern_path`, which are used from elsewhere.
    pub fn files_to_generate(&self, options: &Options, imports: bool) -> Vec<String> {
        let mut names = self.requested.clone();
        if imports {
            names.extend(
                self.imported
                    .iter()
                    .filter(|name| generates_import(self, options, name))
                    .cloned(),
            );
        }
        names
    }
}

fn generates_import(parsed: &Parsed, options: &Options, name: &str) -> bool {
    let Some(file) = parsed.files.iter().find(|file| file.name() == name) else {
        return false;
    };
    let package = format!(".{}", file.package());
    let wkt = package == ".google.protobuf" && !options.compile_well_known_types;
    let external = options.extern_paths.iter().any(|(proto, _)| {
        proto == "." || package == *proto || package.starts_with(&format!("{proto}."))
    });
    !wkt && !external
}

/// Parses `files` and everything they import, looking imports up in `includes`.
///
/// The well-known types (`google/protobuf/*.proto`) are built in.
///
/// # Errors
///
/// Returns an error that starts with `file:line:column:` where the problem has a
/// place, then says what is wrong: a syntax error, a missing import, an unknown
/// type, a duplicate name, a file outside every include directory or missing
/// (naming every place looked in), an include directory that does not exist.
pub fn parse(files: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<Parsed, Error> {
    let includes: Vec<&Path> = includes.iter().map(AsRef::as_ref).collect();
    check_includes(&includes)?;
    let mut compiler =
        protox::Compiler::new(&includes).map_err(|error| describe(&error, &includes))?;
    compiler.include_source_info(true).include_imports(true);
    for file in files {
        let file = file.as_ref();
        compiler.open_file(file).map_err(|error| {
            // protox says "not in any include path" both for a file outside every
            // include and for one that does not exist, and not where it looked.
            if error.is_file_not_found() && error.file().is_none() {
                not_found(file, &includes)
            } else {
                describe(&error, &includes)
            }
        })?;
    }
    let mut parsed = Parsed {
        files: compiler.file_descriptor_set().file,
        requested: Vec::new(),
        imported: Vec::new(),
        paths: Vec::new(),
    };
    for file in compiler.files() {
        if file.is_import() {
            parsed.imported.push(file.name().to_owned());
        } else {
            parsed.requested.push(file.name().to_owned());
        }
        if let Some(path) = file.path() {
            parsed.paths.push(path.to_owned());
        }
    }
    Ok(parsed)
}

/// An include directory that does not exist is a mistake (a typo, a path relative
/// to the wrong directory) that would otherwise surface as a missing import.
pub(crate) fn check_includes(includes: &[&Path]) -> Result<(), Error> {
    match includes.iter().find(|include| !include.is_dir()) {
        None => Ok(()),
        Some(include) => {
            let what = if include.exists() {
                "is not a directory"
            } else {
                "does not exist"
            };
            Err(Error::new(
                ErrorKind::Io,
                format!(
                    "include directory {} {what}{}",
                    include.display(),
                    relative_hint(include)
                ),
            )
            .with_file(include.display().to_string()))
        }
    }
}

/// For a relative path, where it was resolved from: build scripts run in the
/// package's directory, which is not always where the user thinks.
fn relative_hint(path: &Path) -> String {
    match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => format!(" (relative to {})", cwd.display()),
        _ => String::new(),
    }
}

/// A file asked for that protox could not open: whether it exists, and every
/// place it was looked for.
fn not_found(file: &Path, includes: &[&Path]) -> Error {
    let shown = file.display();
    let message = if file.is_file() {
        let dirs: Vec<String> = includes.iter().map(|i| i.display().to_string()).collect();
        format!(
            "{shown} is not inside any include directory ({}); pass it as a path under one of them, or add its directory to the include paths (-I DIR, or the includes of rust-grpc-build)",
            dirs.join(", ")
        )
    } else {
        let mut tried = vec![file.to_path_buf()];
        if file.is_relative() {
            tried.extend(includes.iter().map(|include| include.join(file)));
        }
        tried.dedup();
        let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        format!(
            "{shown} does not exist; looked for it at: {}{}",
            tried.join(", "),
            relative_hint(file)
        )
    };
    Error::new(ErrorKind::Parse, message).with_file(shown.to_string())
}

/// `file:line:column: message`, then the other places involved and protox's help.
fn describe(error: &protox::Error, includes: &[&Path]) -> Error {
    let labels: Vec<miette::LabeledSpan> =
        error.labels().map(Iterator::collect).unwrap_or_default();
    // The primary label marks the offending place; a duplicate name, say, also
    // labels the first definition.
    let main = labels
        .iter()
        .position(miette::LabeledSpan::primary)
        .or_else(|| labels.len().checked_sub(1));
    let position = |label: &miette::LabeledSpan| {
        let contents = error.source_code()?.read_span(label.inner(), 0, 0).ok()?;
        let line = u32::try_from(contents.line() + 1).ok()?;
        let column = u32::try_from(contents.column() + 1).ok()?;
        Some((line, column))
    };
    let file = error.file();
    let mut out = String::new();
    let at = main.and_then(|index| position(&labels[index]));
    match (file, &at) {
        (Some(file), Some((line, column))) => {
            let _ = write!(out, "{file}:{line}:{column}: ");
        }
        (Some(file), None) => {
            let _ = write!(out, "{file}: ");
        }
        _ => {}
    }
    let _ = write!(out, "{error}");
    for (index, label) in labels.iter().enumerate() {
        if Some(index) == main {
            continue;
        }
        if let (Some(file), Some((line, column)), Some(text)) =
            (file, position(label), label.label())
        {
            let _ = write!(out, "\n  note: {file}:{line}:{column}: {text}");
        }
    }
    if let Some(help) = error.help() {
        let _ = write!(out, "\n  help: {help}");
    } else if error.is_file_not_found() {
        if let Some(import) = imported_name(error) {
            let tried: Vec<String> = includes
                .iter()
                .map(|include| include.join(&import).display().to_string())
                .collect();
            let _ = write!(out, "\n  looked for it at: {}", tried.join(", "));
        }
        out.push_str(
            "\n  help: add the directory that holds it to the include paths \
             (-I DIR, or the includes of rust-grpc-build)",
        );
    }
    let mut described = Error::new(ErrorKind::Parse, out);
    if let Some(file) = file {
        described = described.with_file(file);
    }
    if let Some((line, column)) = at {
        described = described.with_position(line, column);
    }
    described
}

/// The name in protox's "import 'NAME' not found".
fn imported_name(error: &protox::Error) -> Option<String> {
    let text = error.to_string();
    let rest = text.strip_prefix("import '")?;
    rest.strip_suffix("' not found").map(str::to_owned)
}
