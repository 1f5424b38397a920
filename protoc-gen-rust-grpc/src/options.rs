//! The one set of generator options, shared by every door: the protoc plugin and
//! buf (`--rust-grpc_opt`), the standalone binary (`--opt`) and `rust-grpc-build`'s
//! builder. One table documents them ([`Options::documented`], which `--help`
//! prints and a test holds README's table to), one parser splits the `k=v` form,
//! and the typed setters below are the one place each value is checked.

use std::fmt;

/// Everything that changes what the generator writes.
///
/// Parsed from protoc's `--rust-grpc_opt=k=v,k2=v2` string with [`Options::parse`],
/// or set in code with the methods named after the keys. Keys that take a
/// protobuf path (`.pkg.Message.field`) accept `.` for "everything".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub(crate) client: bool,
    pub(crate) server: bool,
    pub(crate) default_stubs: bool,
    pub(crate) extern_paths: Vec<(String, String)>,
    pub(crate) type_attributes: Vec<(String, String)>,
    pub(crate) field_attributes: Vec<(String, String)>,
    pub(crate) bytes: Vec<String>,
    pub(crate) btree_map: Vec<String>,
    pub(crate) compile_well_known_types: bool,
    pub(crate) file_descriptor_set: bool,
    pub(crate) include_file: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            client: true,
            server: true,
            default_stubs: false,
            extern_paths: Vec::new(),
            type_attributes: Vec::new(),
            field_attributes: Vec::new(),
            bytes: Vec::new(),
            btree_map: Vec::new(),
            compile_well_known_types: false,
            file_descriptor_set: true,
            include_file: Some("mod.rs".to_owned()),
        }
    }
}

/// One option as documented: its key, the value it takes, its default and what
/// it does.
#[derive(Debug, Clone, Copy)]
pub struct OptionDoc {
    key: &'static str,
    value: &'static str,
    default: &'static str,
    help: &'static str,
}

impl OptionDoc {
    /// The key, such as `default_stubs`.
    pub fn key(&self) -> &'static str {
        self.key
    }

    /// The value it takes, such as `BOOL` or `.PROTO=::RUST`.
    pub fn value(&self) -> &'static str {
        self.value
    }

    /// The value when the option is not given; empty for lists, which start empty.
    pub fn default(&self) -> &'static str {
        self.default
    }

    /// What it does, in one line.
    pub fn help(&self) -> &'static str {
        self.help
    }
}

const fn doc(
    key: &'static str,
    value: &'static str,
    default: &'static str,
    help: &'static str,
) -> OptionDoc {
    OptionDoc {
        key,
        value,
        default,
        help,
    }
}

const DOCS: &[OptionDoc] = &[
    doc("client", "BOOL", "true", "generate clients"),
    doc(
        "server",
        "BOOL",
        "true",
        "generate server traits and servers",
    ),
    doc(
        "default_stubs",
        "BOOL",
        "false",
        "server trait methods answer UNIMPLEMENTED by default",
    ),
    doc(
        "extern_path",
        ".PROTO=::RUST",
        "",
        "use types from another crate instead of generating them",
    ),
    doc(
        "type_attribute",
        ".PATH=ATTR",
        "",
        "add an attribute to generated messages and enums",
    ),
    doc(
        "field_attribute",
        ".PATH=ATTR",
        "",
        "add an attribute to generated fields",
    ),
    doc(
        "bytes",
        ".PATH",
        "",
        "use bytes::Bytes for these bytes fields (. for all)",
    ),
    doc(
        "btree_map",
        ".PATH",
        "",
        "use BTreeMap for these map fields (. for all)",
    ),
    doc(
        "compile_well_known_types",
        "BOOL",
        "false",
        "generate google.protobuf types instead of using prost-types",
    ),
    doc(
        "file_descriptor_set",
        "BOOL",
        "true",
        "embed FILE_DESCRIPTOR_SET for reflection",
    ),
    doc(
        "include_file",
        "NAME",
        "mod.rs",
        "the module tree file; empty for none",
    ),
];

/// An option that could not be understood: which key, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionsError {
    key: String,
    message: String,
}

impl OptionsError {
    fn new(key: &str, message: String) -> Self {
        Self {
            key: key.to_owned(),
            message,
        }
    }

    /// The key the problem is with, as given (an unknown key too).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Whether the key is not an option at all.
    pub fn is_unknown_key(&self) -> bool {
        !DOCS.iter().any(|doc| doc.key == self.key)
    }
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OptionsError {}

impl Options {
    /// Every option, in the order `--help` and README list them.
    pub fn documented() -> impl ExactSizeIterator<Item = OptionDoc> {
        DOCS.iter().copied()
    }

    /// The options section of `--help`: one line per option, with its default.
    pub fn help() -> String {
        let width = DOCS
            .iter()
            .map(|doc| doc.key.len() + doc.value.len() + 1)
            .max()
            .unwrap_or(0);
        let mut out = String::new();
        for doc in DOCS {
            let usage = format!("{}={}", doc.key, doc.value);
            out.push_str(&format!("  {usage:<width$}  {}", doc.help));
            if !doc.default.is_empty() {
                out.push_str(&format!(" (default {})", doc.default));
            }
            out.push('\n');
        }
        out
    }

    /// Parses a comma-separated `key=value` list, as protoc passes `--rust-grpc_opt`.
    ///
    /// Commas inside brackets or parentheses (`#[derive(Eq, Hash)]`) do not split.
    /// Repeatable keys (`extern_path`, attributes, `bytes`, `btree_map`) add to the list.
    ///
    /// # Errors
    ///
    /// Returns an error naming the key for an unknown key, a missing value or a
    /// value that the key's setter rejects.
    pub fn parse(parameter: &str) -> Result<Self, OptionsError> {
        let mut options = Self::default();
        options.set_all(parameter)?;
        Ok(options)
    }

    /// Applies a comma-separated `key=value` list on top of these options.
    ///
    /// # Errors
    ///
    /// As for [`Options::parse`].
    pub fn set_all(&mut self, parameter: &str) -> Result<&mut Self, OptionsError> {
        for item in split_top_level(parameter) {
            let item = item.trim();
            if !item.is_empty() {
                self.set(item)?;
            }
        }
        Ok(self)
    }

    /// Applies one `key=value` item (`key` alone means `key=true`).
    ///
    /// # Errors
    ///
    /// As for [`Options::parse`].
    pub fn set(&mut self, item: &str) -> Result<&mut Self, OptionsError> {
        let (key, value) = match item.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (item.trim(), None),
        };
        match key {
            "client" => Ok(self.client(parse_bool(key, value)?)),
            "server" => Ok(self.server(parse_bool(key, value)?)),
            "default_stubs" => Ok(self.default_stubs(parse_bool(key, value)?)),
            "compile_well_known_types" => {
                Ok(self.compile_well_known_types(parse_bool(key, value)?))
            }
            "file_descriptor_set" => Ok(self.file_descriptor_set(parse_bool(key, value)?)),
            "include_file" => self.include_file(value.filter(|v| !v.is_empty())),
            "extern_path" => {
                let (proto, rust) = parse_pair(key, value)?;
                self.extern_path(proto, rust)
            }
            "type_attribute" => {
                let (path, attribute) = parse_pair(key, value)?;
                self.type_attribute(path, attribute)
            }
            "field_attribute" => {
                let (path, attribute) = parse_pair(key, value)?;
                self.field_attribute(path, attribute)
            }
            "bytes" => self.bytes(value.unwrap_or("")),
            "btree_map" => self.btree_map(value.unwrap_or("")),
            _ => {
                let known = DOCS.iter().map(|doc| doc.key).collect::<Vec<_>>();
                let suggestion = closest(key, &known)
                    .map(|near| format!(" (did you mean `{near}`?)"))
                    .unwrap_or_default();
                Err(OptionsError::new(
                    key,
                    format!(
                        "unknown option `{key}`{suggestion}; known options are: {}",
                        known.join(", ")
                    ),
                ))
            }
        }
    }

    /// Generates clients (`client`, default true).
    pub fn client(&mut self, enable: bool) -> &mut Self {
        self.client = enable;
        self
    }

    /// Generates server traits and servers (`server`, default true).
    pub fn server(&mut self, enable: bool) -> &mut Self {
        self.server = enable;
        self
    }

    /// Gives every server trait method a default body that answers UNIMPLEMENTED
    /// (`default_stubs`, default false), so adding an rpc does not break servers.
    pub fn default_stubs(&mut self, enable: bool) -> &mut Self {
        self.default_stubs = enable;
        self
    }

    /// Generates the well-known types (`google.protobuf.*`) instead of mapping them
    /// to `rust_grpc::prost_types` (`compile_well_known_types`, default false).
    pub fn compile_well_known_types(&mut self, enable: bool) -> &mut Self {
        self.compile_well_known_types = enable;
        self
    }

    /// Embeds each package's encoded `FileDescriptorSet` as `FILE_DESCRIPTOR_SET`
    /// for reflection (`file_descriptor_set`, default true).
    pub fn file_descriptor_set(&mut self, enable: bool) -> &mut Self {
        self.file_descriptor_set = enable;
        self
    }

    /// Names the module tree file that includes every package file
    /// (`include_file`, default `mod.rs`; `None` for none).
    ///
    /// # Errors
    ///
    /// Returns an error for a name that is not a plain file name ending in `.rs`.
    pub fn include_file(&mut self, name: Option<&str>) -> Result<&mut Self, OptionsError> {
        if let Some(name) = name
            && (name.contains(['/', '\\']) || !name.ends_with(".rs") || name == ".rs")
        {
            return Err(OptionsError::new(
                "include_file",
                format!(
                    "option `include_file` takes a file name ending in .rs, such as `mod.rs`, not `{name}`"
                ),
            ));
        }
        self.include_file = name.map(str::to_owned);
        Ok(self)
    }

    /// Refers to the types under `proto_path` (such as `.google.type`) through
    /// `rust_path` (such as `::google_types`) instead of generating them
    /// (`extern_path`, repeatable).
    ///
    /// # Errors
    ///
    /// Returns an error when `proto_path` does not start with `.` or `rust_path`
    /// is not a Rust path.
    pub fn extern_path(
        &mut self,
        proto_path: impl Into<String>,
        rust_path: impl Into<String>,
    ) -> Result<&mut Self, OptionsError> {
        let (proto, rust) = (proto_path.into(), rust_path.into());
        let key = "extern_path";
        if !proto.starts_with('.') {
            return Err(OptionsError::new(
                key,
                format!(
                    "option `extern_path`: `{proto}` is not a fully qualified protobuf path (such as `.google.type`)"
                ),
            ));
        }
        if rust != "()" && syn::parse_str::<syn::Path>(&rust).is_err() {
            return Err(OptionsError::new(
                key,
                format!(
                    "option `extern_path`: `{rust}` is not a Rust path (such as `::other_crate::pkg`)"
                ),
            ));
        }
        self.extern_paths.push((proto, rust));
        Ok(self)
    }

    /// Adds `attribute` (such as `#[derive(Hash)]`) to the messages and enums under
    /// `path` (`type_attribute`, repeatable).
    ///
    /// # Errors
    ///
    /// Returns an error for an empty path or an attribute that does not parse.
    pub fn type_attribute(
        &mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Result<&mut Self, OptionsError> {
        let pair = check_attribute("type_attribute", path.into(), attribute.into())?;
        self.type_attributes.push(pair);
        Ok(self)
    }

    /// Adds `attribute` (such as `#[serde(default)]`) to the fields under `path`
    /// (`field_attribute`, repeatable).
    ///
    /// # Errors
    ///
    /// Returns an error for an empty path or an attribute that does not parse.
    pub fn field_attribute(
        &mut self,
        path: impl Into<String>,
        attribute: impl Into<String>,
    ) -> Result<&mut Self, OptionsError> {
        let pair = check_attribute("field_attribute", path.into(), attribute.into())?;
        self.field_attributes.push(pair);
        Ok(self)
    }

    /// Uses `bytes::Bytes` instead of `Vec<u8>` for the bytes fields under `path`
    /// (`bytes`, repeatable; `.` for all).
    ///
    /// # Errors
    ///
    /// Returns an error for an empty path.
    pub fn bytes(&mut self, path: impl Into<String>) -> Result<&mut Self, OptionsError> {
        let path = check_path("bytes", path.into())?;
        self.bytes.push(path);
        Ok(self)
    }

    /// Uses `BTreeMap` instead of `HashMap` for the map fields under `path`
    /// (`btree_map`, repeatable; `.` for all).
    ///
    /// # Errors
    ///
    /// Returns an error for an empty path.
    pub fn btree_map(&mut self, path: impl Into<String>) -> Result<&mut Self, OptionsError> {
        let path = check_path("btree_map", path.into())?;
        self.btree_map.push(path);
        Ok(self)
    }
}

fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, OptionsError> {
    match value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(OptionsError::new(
            key,
            format!("option `{key}` takes `true` or `false`, not `{other}`"),
        )),
    }
}

fn check_path(key: &str, path: String) -> Result<String, OptionsError> {
    let path = path.trim().to_owned();
    if path.is_empty() {
        return Err(OptionsError::new(
            key,
            format!("option `{key}` needs a protobuf path, for example `{key}=.my.package`"),
        ));
    }
    Ok(path)
}

fn parse_pair(key: &str, value: Option<&str>) -> Result<(String, String), OptionsError> {
    value
        .and_then(|value| value.split_once('='))
        .filter(|(path, target)| !path.trim().is_empty() && !target.trim().is_empty())
        .map(|(path, target)| (path.trim().to_owned(), target.trim().to_owned()))
        .ok_or_else(|| {
            OptionsError::new(
                key,
                format!(
                    "option `{key}` takes `{key}=PROTO_PATH=VALUE`, for example `{}`",
                    match key {
                        "extern_path" => "extern_path=.google.type=::google_types",
                        "field_attribute" => "field_attribute=.pkg.Msg.field=#[serde(default)]",
                        _ => "type_attribute=.pkg.Msg=#[derive(Hash)]",
                    }
                ),
            )
        })
}

fn check_attribute(
    key: &str,
    path: String,
    attribute: String,
) -> Result<(String, String), OptionsError> {
    use syn::parse::Parser as _;

    let path = check_path(key, path)?;
    let not_rust = |why: String| {
        OptionsError::new(
            key,
            format!(
                "option `{key}`: `{attribute}` is not a Rust attribute (such as `#[derive(Hash)]`){why}"
            ),
        )
    };
    let attributes = match syn::Attribute::parse_outer.parse_str(&attribute) {
        Ok(attributes) if !attributes.is_empty() => attributes,
        // syn's own words ("unexpected end of input") say less than the value does.
        _ => return Err(not_rust(String::new())),
    };
    // Any tokens parse inside `derive(...)`; rustc would reject a malformed list
    // only when compiling OUT_DIR, far from the option that caused it.
    for attribute in attributes.iter().filter(|a| a.path().is_ident("derive")) {
        attribute
            .parse_args_with(
                syn::punctuated::Punctuated::<syn::Path, syn::Token![,]>::parse_terminated,
            )
            .map_err(|error| {
                not_rust(format!(
                    ": `derive` takes paths separated by commas ({error})"
                ))
            })?;
    }
    Ok((path, attribute))
}

/// The candidate nearest to `given` by edit distance, if near enough to be a typo.
fn closest<'a>(given: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (edit_distance(given, candidate), *candidate))
        .filter(|(distance, candidate)| *distance <= (candidate.len() / 3).max(2))
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance over chars.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Splits on commas that are not inside `()`, `[]` or `{}`.
fn split_top_level(parameter: &str) -> Vec<&str> {
    let mut items = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (index, c) in parameter.char_indices() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&parameter[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    items.push(&parameter[start..]);
    items
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_parameter_gives_defaults() {
        assert_eq!(Options::parse("").unwrap(), Options::default());
    }

    #[test]
    fn booleans_and_repeated_keys_parse() {
        let options = Options::parse(
            "client=false,default_stubs,extern_path=.a=::a,extern_path=.b=::b,include_file=",
        )
        .unwrap();
        assert!(!options.client);
        assert!(options.server);
        assert!(options.default_stubs);
        assert_eq!(
            options.extern_paths,
            vec![(".a".into(), "::a".into()), (".b".into(), "::b".into())]
        );
        assert_eq!(options.include_file, None);
    }

    #[test]
    fn commas_inside_attributes_do_not_split() {
        let options =
            Options::parse("type_attribute=.pkg.M=#[derive(Eq, Hash)],server=false").unwrap();
        assert_eq!(
            options.type_attributes,
            vec![(".pkg.M".into(), "#[derive(Eq, Hash)]".into())]
        );
        assert!(!options.server);
    }

    #[test]
    fn unknown_key_is_an_error_listing_known_keys() {
        let err = Options::parse("clinet=true").unwrap_err().to_string();
        assert!(err.starts_with("unknown option `clinet`"), "{err}");
        assert!(err.contains("client, server"), "{err}");
    }

    #[test]
    fn unknown_key_suggests_the_closest_known_one() {
        let table = [
            ("clinet", Some("client")),
            ("default_stub", Some("default_stubs")),
            ("externpath", Some("extern_path")),
            ("type_attributes", Some("type_attribute")),
            ("btreemap", Some("btree_map")),
            ("frobnicate", None),
        ];
        for (key, near) in table {
            let err = Options::parse(key).unwrap_err().to_string();
            match near {
                Some(near) => assert!(
                    err.starts_with(&format!(
                        "unknown option `{key}` (did you mean `{near}`?); known options are: client,"
                    )),
                    "{err}"
                ),
                None => assert!(err.starts_with(&format!("unknown option `{key}`; known")), "{err}"),
            }
        }
    }

    #[test]
    fn edit_distance_counts_single_char_edits() {
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("clinet", "client"), 2);
        assert_eq!(edit_distance("server", "server"), 0);
        assert_eq!(edit_distance("bytes", "byte"), 1);
    }

    #[test]
    fn a_derive_that_is_not_a_list_of_paths_is_an_error() {
        let err = Options::parse("type_attribute=.=#[derive(Foo Bar)]")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with(
                "option `type_attribute`: `#[derive(Foo Bar)]` is not a Rust attribute (such as `#[derive(Hash)]`): `derive` takes paths separated by commas"
            ),
            "{err}"
        );
        let mut options = Options::default();
        assert!(
            options
                .field_attribute(".a.B.c", "#[derive(Foo Bar)]")
                .is_err()
        );
        assert!(
            options
                .type_attribute(".", "#[derive(Eq, ::std::hash::Hash,)]")
                .is_ok()
        );
        assert!(
            options
                .type_attribute(".", "#[serde(rename_all = \"camelCase\")]")
                .is_ok()
        );
    }

    #[test]
    fn attribute_that_is_not_rust_is_an_error() {
        let err = Options::parse("type_attribute=.=#[derive(")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "option `type_attribute`: `#[derive(` is not a Rust attribute (such as `#[derive(Hash)]`)"
        );
    }

    #[test]
    fn extern_path_target_must_be_a_rust_path() {
        let err = Options::parse("extern_path=.a=not a path")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`not a path` is not a Rust path"), "{err}");
        assert!(Options::parse("extern_path=.google.protobuf.Empty=()").is_ok());
        assert!(Options::parse("extern_path=.a=crate::pb::a").is_ok());
    }

    #[test]
    fn include_file_must_stay_in_the_output_directory() {
        let err = Options::parse("include_file=../x.rs")
            .unwrap_err()
            .to_string();
        assert!(err.contains("a file name ending in .rs"), "{err}");
    }

    #[test]
    fn bad_boolean_is_an_error() {
        let err = Options::parse("server=yes").unwrap_err().to_string();
        assert_eq!(err, "option `server` takes `true` or `false`, not `yes`");
    }

    #[test]
    fn every_documented_default_is_the_default() {
        for doc in Options::documented().filter(|doc| !doc.default().is_empty()) {
            let item = format!("{}={}", doc.key(), doc.default());
            assert_eq!(Options::parse(&item).unwrap(), Options::default(), "{item}");
        }
    }

    #[test]
    fn every_documented_key_parses_and_no_other() {
        for doc in Options::documented() {
            let value = match doc.value() {
                "BOOL" => "false",
                "NAME" => "x.rs",
                ".PATH" => ".a",
                ".PATH=ATTR" => ".a=#[derive(Hash)]",
                ".PROTO=::RUST" => ".a=::a",
                other => panic!("a value form the test does not know: {other}"),
            };
            let item = format!("{}={value}", doc.key());
            assert!(Options::parse(&item).is_ok(), "{item}");
        }
        let error = Options::parse("clinet=true").unwrap_err();
        assert!(error.is_unknown_key());
        assert_eq!(error.key(), "clinet");
    }

    #[test]
    fn typed_setters_check_what_the_parser_checks() {
        let mut options = Options::default();
        let parsed = options.extern_path(".a", "not a path").unwrap_err();
        assert_eq!(
            parsed,
            Options::parse("extern_path=.a=not a path").unwrap_err()
        );
        assert!(options.extern_path("a", "::a").is_err());
        assert!(options.type_attribute(".a", "#[derive(").is_err());
        assert!(options.field_attribute("", "#[serde(skip)]").is_err());
        assert!(options.bytes("").is_err());
        assert!(options.include_file(Some("../x.rs")).is_err());
        assert_eq!(
            options,
            Options::default(),
            "a rejected value changed the options"
        );
        options.extern_path(".a", "::a").unwrap().client(false);
        assert_eq!(
            options,
            Options::parse("extern_path=.a=::a,client=false").unwrap()
        );
    }

    #[test]
    fn help_lists_every_option_with_its_default() {
        let help = Options::help();
        assert_eq!(help.lines().count(), Options::documented().len());
        assert!(help.contains("  client=BOOL "), "{help}");
        assert!(help.contains("(default mod.rs)"), "{help}");
    }

    #[test]
    fn pair_without_target_is_an_error() {
        let err = Options::parse("extern_path=.a").unwrap_err().to_string();
        assert!(err.contains("extern_path=PROTO_PATH=VALUE"), "{err}");
    }
}
