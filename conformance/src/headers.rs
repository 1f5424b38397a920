//! Metadata to and from the suite's `Header` lists. Values travel as they are on
//! the wire (a `-bin` value stays base64 text), as the suite's own programs do.

use rust_grpc::codegen::http::{HeaderMap, HeaderName, HeaderValue};
use rust_grpc::metadata::MetadataMap;

use crate::pb::Header;

/// The headers of `metadata`, one `Header` per name with its values in order.
#[must_use]
pub fn to_proto(metadata: &MetadataMap) -> Vec<Header> {
    let headers = metadata.clone().into_headers();
    let mut out: Vec<Header> = Vec::new();
    for name in headers.keys() {
        let value = headers
            .get_all(name)
            .iter()
            .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
            .collect();
        out.push(Header {
            name: name.as_str().to_owned(),
            value,
        });
    }
    out
}

/// Adds `headers` to `metadata`, each value as its own entry.
///
/// # Errors
///
/// When a name or value cannot be a header (the suite's programs would refuse it too).
pub fn append(metadata: &mut MetadataMap, headers: &[Header]) -> Result<(), String> {
    if headers.is_empty() {
        return Ok(());
    }
    let mut map: HeaderMap = std::mem::take(metadata).into_headers();
    for header in headers {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|err| format!("header name {:?}: {err}", header.name))?;
        for value in &header.value {
            let value = HeaderValue::from_str(value)
                .map_err(|err| format!("header {name} value {value:?}: {err}"))?;
            map.append(name.clone(), value);
        }
    }
    *metadata = MetadataMap::from_headers(map);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, values: &[&str]) -> Header {
        Header {
            name: name.into(),
            value: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn repeated_values_round_trip_under_one_lowercased_name() {
        let mut metadata = MetadataMap::new();
        append(
            &mut metadata,
            &[header("X-Custom", &["a", "b"]), header("x-other", &["c"])],
        )
        .unwrap();
        assert_eq!(
            to_proto(&metadata),
            [header("x-custom", &["a", "b"]), header("x-other", &["c"])]
        );
    }

    #[test]
    fn a_name_that_cannot_be_a_header_is_refused() {
        let mut metadata = MetadataMap::new();
        assert!(append(&mut metadata, &[header("bad name", &["a"])]).is_err());
    }
}
