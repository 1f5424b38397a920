//! `rust-grpc-build`: compile .proto files into rust-grpc clients, servers and
//! messages from `build.rs`, with no protoc installed.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     rust_grpc_build::compile_protos(&["proto/helloworld.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! ```ignore
//! // src/main.rs
//! mod pb {
//!     rust_grpc::include_proto!("helloworld");
//! }
//! ```
//!
//! With options, start from [`configure`] and end with [`Builder::compile`], the
//! call that does the work: it takes the .proto files and the include
//! directories, writes into `OUT_DIR`, and returns what it read and wrote
//! ([`Compiled`]), which a build script can drop. Without it nothing is generated.
//!
//! ```no_run
//! // build.rs
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     rust_grpc_build::configure()
//!         .default_stubs(true)
//!         .type_attribute(".helloworld.HelloRequest", "#[derive(Hash)]")
//!         .compile(&["proto/helloworld.proto"], &["proto"])?;
//!     Ok(())
//! }
//! ```
//!
//! Returning the [`Error`] from `main` with `?` makes cargo print its `Debug`
//! form, the whole message on one line: `file:line:column` for a bad .proto, the
//! option and value for a rejected option (checked by `compile`, before any
//! output), every place looked for a missing file.
//!
//! The .proto files are parsed in Rust (protox); the well-known types are built in.
//! Every file read, imports included, is printed as `cargo:rerun-if-changed`, so
//! cargo reruns the build script exactly when a .proto it depends on changes.
//! [`Builder::use_protoc`] switches to a system protoc instead.
#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};

use rust_grpc_codegen::{Options, OptionsError};

/// Why compiling the protos failed.
///
/// Either the generator's own error ([`Error::generator`]: a bad .proto with
/// `file:line:column`, a rejected option, protoc's message, an I/O error), shown
/// as it is, or a problem with how the build helper was called. Its `Debug`
/// output is the readable message with every source on one line, so a `build.rs`
/// that returns it with `?` prints something a user can act on.
pub struct Error {
    kind: Kind,
}

enum Kind {
    Generator(rust_grpc_codegen::Error),
    Option(OptionsError),
    NoOutDir,
}

impl Error {
    /// What the generator reported, when it was the generator that failed.
    pub fn generator(&self) -> Option<&rust_grpc_codegen::Error> {
        match &self.kind {
            Kind::Generator(error) => Some(error),
            _ => None,
        }
    }

    /// The option a [`Builder`] method was given and the generator rejected.
    pub fn option(&self) -> Option<&OptionsError> {
        match &self.kind {
            Kind::Option(error) => Some(error),
            Kind::Generator(error) => error.options_error(),
            Kind::NoOutDir => None,
        }
    }

    /// `OUT_DIR` was not set and no [`Builder::out_dir`] was given.
    pub fn is_out_dir_missing(&self) -> bool {
        matches!(self.kind, Kind::NoOutDir)
    }
}

impl From<rust_grpc_codegen::Error> for Error {
    fn from(error: rust_grpc_codegen::Error) -> Self {
        Self {
            kind: Kind::Generator(error),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Generator(error) => fmt::Display::fmt(error, f),
            Kind::Option(error) => fmt::Display::fmt(error, f),
            Kind::NoOutDir => f.write_str(
                "OUT_DIR is not set: call rust-grpc-build from build.rs, or set Builder::out_dir",
            ),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")?;
        let mut next = std::error::Error::source(self);
        while let Some(cause) = next {
            write!(f, ": {cause}")?;
            next = cause.source();
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    // The generator's error is shown as this one's message, so the chain goes on
    // from its source.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            Kind::Generator(error) => error.source(),
            Kind::Option(_) | Kind::NoOutDir => None,
        }
    }
}

/// Compiles `protos` (looking imports up in `includes`) into `OUT_DIR` with the
/// default options: clients, servers and messages, one file per package.
///
/// # Errors
///
/// Returns an error with `file:line:column` for a bad .proto, or an I/O error.
pub fn compile_protos(
    protos: &[impl AsRef<Path>],
    includes: &[impl AsRef<Path>],
) -> Result<(), Error> {
    configure().compile(protos, includes).map(drop)
}

/// What one compilation read and wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compiled {
    /// Every .proto file read from disk, imports included (the well-known types
    /// are built in and not listed).
    pub read: Vec<PathBuf>,
    /// Every file generated, in the output directory.
    pub written: Vec<PathBuf>,
}

/// A [`Builder`] with the default options.
pub fn configure() -> Builder {
    Builder::default()
}

/// Options for one compilation; the same options the protoc plugin takes, checked
/// the same way. Each method returns the builder; end the chain with
/// [`Builder::compile`], which reports a rejected value and does the work.
#[derive(Debug, Clone)]
pub struct Builder {
    options: Options,
    /// The first option the generator rejected, kept so the chain stays infallible.
    rejected: Option<OptionsError>,
    out_dir: Option<PathBuf>,
    protoc: Option<PathBuf>,
    generate_imports: bool,
    emit_rerun_if_changed: bool,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            options: Options::default(),
            rejected: None,
            out_dir: None,
            protoc: None,
            generate_imports: true,
            emit_rerun_if_changed: true,
        }
    }
}

impl Builder {
    /// Applies a setter of [`Options`]; the first rejection is kept for `compile`.
    fn with(
        mut self,
        set: impl FnOnce(&mut Options) -> Result<&mut Options, OptionsError>,
    ) -> Self {
        if let Err(error) = set(&mut self.options) {
            self.rejected.get_or_insert(error);
        }
        self
    }

    /// Generates clients (default true).
    pub fn build_client(mut self, enable: bool) -> Self {
        self.options.client(enable);
        self
    }

    /// Generates server traits and servers (default true).
    pub fn build_server(mut self, enable: bool) -> Self {
        self.options.server(enable);
        self
    }

    /// Gives every server trait method a default body answering UNIMPLEMENTED
    /// (default false).
    pub fn default_stubs(mut self, enable: bool) -> Self {
        self.options.default_stubs(enable);
        self
    }

    /// Uses `rust_path` for the protobuf types under `proto_path` instead of
    /// generating them (for example `.google.type` and `::google_types`).
    /// [`compile`](Self::compile) fails if either is malformed.
    pub fn extern_path(self, proto_path: impl Into<String>, rust_path: impl Into<String>) -> Self {
        self.with(|options| options.extern_path(proto_path, rust_path))
    }

    /// Adds an attribute to the messages and enums under `path`.
    /// [`compile`](Self::compile) fails if the attribute does not parse.
    pub fn type_attribute(self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.with(|options| options.type_attribute(path, attribute))
    }

    /// Adds an attribute to the fields under `path`.
    /// [`compile`](Self::compile) fails if the attribute does not parse.
    pub fn field_attribute(self, path: impl Into<String>, attribute: impl Into<String>) -> Self {
        self.with(|options| options.field_attribute(path, attribute))
    }

    /// Uses `bytes::Bytes` for the `bytes` fields under `path` (`.` for all).
    pub fn bytes(self, path: impl Into<String>) -> Self {
        self.with(|options| options.bytes(path))
    }

    /// Uses `BTreeMap` for the map fields under `path` (`.` for all).
    pub fn btree_map(self, path: impl Into<String>) -> Self {
        self.with(|options| options.btree_map(path))
    }

    /// Generates `google.protobuf` types instead of using `rust_grpc::prost_types`.
    pub fn compile_well_known_types(mut self, enable: bool) -> Self {
        self.options.compile_well_known_types(enable);
        self
    }

    /// Embeds each package's `FILE_DESCRIPTOR_SET` for reflection (default true).
    pub fn file_descriptor_set(mut self, enable: bool) -> Self {
        self.options.file_descriptor_set(enable);
        self
    }

    /// Names the module tree file (default `mod.rs`; `None` for none).
    /// [`compile`](Self::compile) fails for a name that is not a file name ending in `.rs`.
    pub fn include_file(self, name: Option<&str>) -> Self {
        self.with(|options| options.include_file(name))
    }

    /// Applies one option in the plugin's `key=value` form.
    ///
    /// # Errors
    ///
    /// Returns an error for an unknown key or a bad value ([`Error::option`]).
    pub fn option(mut self, item: &str) -> Result<Self, Error> {
        self.options.set(item).map_err(|error| Error {
            kind: Kind::Option(error),
        })?;
        Ok(self)
    }

    /// Also generates the imported files (default true), so that the messages a
    /// service uses from another package are there; types under an
    /// [`extern_path`](Self::extern_path) and the well-known types are never generated.
    pub fn generate_imports(mut self, enable: bool) -> Self {
        self.generate_imports = enable;
        self
    }

    /// Writes into `dir` instead of `OUT_DIR`.
    pub fn out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Parses with a system protoc at `protoc` instead of the built-in parser.
    pub fn use_protoc(mut self, protoc: impl Into<PathBuf>) -> Self {
        self.protoc = Some(protoc.into());
        self
    }

    /// Prints `cargo:rerun-if-changed` for every file read (default true).
    pub fn emit_rerun_if_changed(mut self, enable: bool) -> Self {
        self.emit_rerun_if_changed = enable;
        self
    }

    /// Compiles `protos`, looking imports up in `includes`: the builder's final
    /// call, which writes the files (`configure().<options>.compile(..)?`).
    ///
    /// # Errors
    ///
    /// Returns the first option a builder method rejected; an error for an
    /// include directory that does not exist; an error with `file:line:column`
    /// for a bad .proto, or naming every place looked for a missing one; an error
    /// naming the .proto files to add when generated code would refer to a
    /// package neither generated nor mapped with `extern_path` (with
    /// `generate_imports(false)`); an error naming the file for an I/O problem;
    /// or protoc's own message when protoc is used.
    pub fn compile(
        &self,
        protos: &[impl AsRef<Path>],
        includes: &[impl AsRef<Path>],
    ) -> Result<Compiled, Error> {
        if let Some(error) = &self.rejected {
            return Err(Error {
                kind: Kind::Option(error.clone()),
            });
        }
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error {
                    kind: Kind::NoOutDir,
                })?,
        };
        let parsed = match &self.protoc {
            None => rust_grpc_codegen::source::parse(protos, includes),
            Some(protoc) => rust_grpc_codegen::protoc::parse(protoc, protos, includes),
        }?;
        if self.emit_rerun_if_changed {
            for path in &parsed.paths {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let to_generate = parsed.files_to_generate(&self.options, self.generate_imports);
        let files = rust_grpc_codegen::generate(&parsed.files, &to_generate, &self.options)?;
        rust_grpc_codegen::write(&out_dir, &files)?;
        Ok(Compiled {
            read: parsed.paths,
            written: files.iter().map(|file| out_dir.join(&file.name)).collect(),
        })
    }
}
