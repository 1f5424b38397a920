//! The one set of generator options, shared by the protoc plugin, the standalone
//! binary and `rust-grpc-build`.

use std::fmt;

/// Everything that changes what the generator writes.
///
/// Parsed from protoc's `--rust-grpc_opt=k=v,k2=v2` string with [`Options::parse`],
/// or built in code. Keys that take a protobuf path (`.pkg.Message.field`) accept
/// `.` for "everything".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Generate clients (`client=true`, default on).
    pub client: bool,
    /// Generate server traits and servers (`server=true`, default on).
    pub server: bool,
    /// Give every server trait method a default body that answers UNIMPLEMENTED
    /// (`default_stubs=true`, default off), so adding an rpc does not break servers.
    pub default_stubs: bool,
    /// Types that live in another crate: `(protobuf path, Rust path)`, referenced
    /// rather than generated (`extern_path=.other.pkg=::other_crate::pkg`).
    pub extern_paths: Vec<(String, String)>,
    /// Attributes for generated types (`type_attribute=.pkg.Msg=#[derive(Hash)]`).
    pub type_attributes: Vec<(String, String)>,
    /// Attributes for generated fields (`field_attribute=.pkg.Msg.field=#[serde(skip)]`).
    pub field_attributes: Vec<(String, String)>,
    /// Fields that use `bytes::Bytes` instead of `Vec<u8>` (`bytes=.pkg.Msg.data`).
    pub bytes: Vec<String>,
    /// Map fields that use `BTreeMap` instead of `HashMap` (`btree_map=.`).
    pub btree_map: Vec<String>,
    /// Generate the well-known types (`google.protobuf.*`) instead of mapping them
    /// to `rust_grpc::prost_types` (`compile_well_known_types=true`, default off).
    pub compile_well_known_types: bool,
    /// Embed each package's encoded `FileDescriptorSet` as `FILE_DESCRIPTOR_SET`
    /// for reflection (`file_descriptor_set=true`, default on).
    pub file_descriptor_set: bool,
    /// The module tree file that includes every package file
    /// (`include_file=mod.rs`, the default; `include_file=` turns it off).
    pub include_file: Option<String>,
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

/// The keys [`Options::parse`] accepts, in the order `--help` lists them.
pub const KEYS: &[&str] = &[
    "client",
    "server",
    "default_stubs",
    "extern_path",
    "type_attribute",
    "field_attribute",
    "bytes",
    "btree_map",
    "compile_well_known_types",
    "file_descriptor_set",
    "include_file",
];

/// An option string that could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionsError {
    message: String,
}

impl OptionsError {
    fn new(message: String) -> Self {
        Self { message }
    }
}

impl fmt::Display for OptionsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for OptionsError {}

impl Options {
    /// Parses a comma-separated `key=value` list, as protoc passes `--rust-grpc_opt`.
    ///
    /// Commas inside brackets or parentheses (`#[derive(Eq, Hash)]`) do not split.
    /// Repeatable keys (`extern_path`, attributes, `bytes`, `btree_map`) add to the list.
    ///
    /// # Errors
    ///
    /// Returns an error naming the key for an unknown key, a missing value or a
    /// value that is not `true`/`false` where a boolean is expected.
    pub fn parse(parameter: &str) -> Result<Self, OptionsError> {
        let mut options = Self::default();
        for item in split_top_level(parameter) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            options.set(item)?;
        }
        Ok(options)
    }

    /// Applies one `key=value` item.
    ///
    /// # Errors
    ///
    /// As for [`Options::parse`].
    pub fn set(&mut self, item: &str) -> Result<(), OptionsError> {
        let (key, value) = match item.split_once('=') {
            Some((key, value)) => (key.trim(), Some(value.trim())),
            None => (item.trim(), None),
        };
        match key {
            "client" => self.client = parse_bool(key, value)?,
            "server" => self.server = parse_bool(key, value)?,
            "default_stubs" => self.default_stubs = parse_bool(key, value)?,
            "compile_well_known_types" => self.compile_well_known_types = parse_bool(key, value)?,
            "file_descriptor_set" => self.file_descriptor_set = parse_bool(key, value)?,
            "include_file" => {
                let value = value.unwrap_or("");
                if value.contains(['/', '\\'])
                    || value == ".."
                    || (!value.is_empty() && !value.ends_with(".rs"))
                {
                    return Err(OptionsError::new(format!(
                        "option `include_file` takes a file name ending in .rs, such as `mod.rs`, not `{value}`"
                    )));
                }
                self.include_file = (!value.is_empty()).then(|| value.to_owned());
            }
            "extern_path" => {
                let (proto, rust) = parse_pair(key, value)?;
                if rust != "()" && syn::parse_str::<syn::Path>(&rust).is_err() {
                    return Err(OptionsError::new(format!(
                        "option `extern_path`: `{rust}` is not a Rust path (such as `::other_crate::pkg`)"
                    )));
                }
                self.extern_paths.push((proto, rust));
            }
            "type_attribute" => self.type_attributes.push(parse_attribute(key, value)?),
            "field_attribute" => self.field_attributes.push(parse_attribute(key, value)?),
            "bytes" => self.bytes.push(parse_path(key, value)?),
            "btree_map" => self.btree_map.push(parse_path(key, value)?),
            _ => {
                return Err(OptionsError::new(format!(
                    "unknown option `{key}`; known options are: {}",
                    KEYS.join(", ")
                )));
            }
        }
        Ok(())
    }
}

fn parse_bool(key: &str, value: Option<&str>) -> Result<bool, OptionsError> {
    match value {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(other) => Err(OptionsError::new(format!(
            "option `{key}` takes `true` or `false`, not `{other}`"
        ))),
    }
}

fn parse_path(key: &str, value: Option<&str>) -> Result<String, OptionsError> {
    match value {
        Some(path) if !path.is_empty() => Ok(path.to_owned()),
        _ => Err(OptionsError::new(format!(
            "option `{key}` needs a protobuf path, for example `{key}=.my.package`"
        ))),
    }
}

fn parse_pair(key: &str, value: Option<&str>) -> Result<(String, String), OptionsError> {
    value
        .and_then(|value| value.split_once('='))
        .filter(|(path, target)| !path.trim().is_empty() && !target.trim().is_empty())
        .map(|(path, target)| (path.trim().to_owned(), target.trim().to_owned()))
        .ok_or_else(|| {
            OptionsError::new(format!(
                "option `{key}` takes `{key}=PROTO_PATH=VALUE`, for example `{}`",
                match key {
                    "extern_path" => "extern_path=.google.type=::google_types",
                    "field_attribute" => "field_attribute=.pkg.Msg.field=#[serde(default)]",
                    _ => "type_attribute=.pkg.Msg=#[derive(Hash)]",
                }
            ))
        })
}

fn parse_attribute(key: &str, value: Option<&str>) -> Result<(String, String), OptionsError> {
    use syn::parse::Parser as _;

    let (path, attribute) = parse_pair(key, value)?;
    match syn::Attribute::parse_outer.parse_str(&attribute) {
        Ok(attributes) if !attributes.is_empty() => Ok((path, attribute)),
        _ => Err(OptionsError::new(format!(
            "option `{key}`: `{attribute}` is not a Rust attribute (such as `#[derive(Hash)]`)"
        ))),
    }
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
    fn pair_without_target_is_an_error() {
        let err = Options::parse("extern_path=.a").unwrap_err().to_string();
        assert!(err.contains("extern_path=PROTO_PATH=VALUE"), "{err}");
    }
}
