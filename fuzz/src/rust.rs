//! What every generated file must be: Rust that parses.

pub(crate) fn assert_parses(files: &[(String, String)]) {
    for (name, content) in files {
        if let Err(error) = syn::parse_file(content) {
            panic!("{name} is not valid Rust: {error}\n{content}");
        }
    }
}
