//! Targets, as gRPC names them: which resolver finds the addresses, what they
//! are called, and the `:authority` calls carry.
//!
//! `dns:[//dns-server/]host[:port]` (the default for a bare `host:port`),
//! `http://host:port` and `https://host:port`, `passthrough:///addr`,
//! `unix:path` and `unix:///abs/path`, `unix-abstract:name`, and address lists
//! `ipv4:a:p,b:p` and `ipv6:[a]:p,[b]:p`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

/// Where a channel finds its server: the resolver to use and what to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    kind: Kind,
    tls: bool,
    authority: http::uri::Authority,
    text: String,
}

/// What a target names, for its resolver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A host name (or address) to look up, with its port.
    Dns { host: String, port: u16 },
    /// An address used as given, never resolved.
    Passthrough(String),
    /// Socket addresses listed in the target.
    Addresses(Vec<SocketAddr>),
    /// A Unix socket path.
    Unix(PathBuf),
    /// A Linux abstract socket name.
    UnixAbstract(Vec<u8>),
}

/// Why a target could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetError {
    target: String,
    reason: String,
}

impl std::fmt::Display for TargetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "bad target {:?}: {} (targets look like host:port, dns:///host:port, http://host:port, unix:/path, ipv4:1.2.3.4:50051)",
            self.target, self.reason
        )
    }
}

impl std::error::Error for TargetError {}

/// gRPC's default port for a target without one (plaintext and TLS alike, as
/// grpc-go's DNS resolver uses).
const DEFAULT_PORT: u16 = 443;

impl Target {
    /// Parses a target string.
    ///
    /// # Errors
    ///
    /// Returns an error naming what is wrong when `text` is not a target.
    pub fn parse(text: &str) -> Result<Self, TargetError> {
        let fail = |reason: &str| TargetError {
            target: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = match text.split_once(':') {
            Some((scheme, rest)) if SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) => {
                (scheme.to_ascii_lowercase(), rest)
            }
            Some((scheme, rest)) if is_scheme(scheme) && rest.starts_with("//") => {
                return Err(fail(&format!("unknown scheme {scheme:?}")));
            }
            // `host:port` or `[::1]:port`: DNS.
            _ => ("dns".to_owned(), text),
        };
        let target = match scheme.as_str() {
            "http" | "https" => {
                let uri: http::Uri = text.parse().map_err(|_| fail("not a URI"))?;
                let authority = uri.authority().ok_or_else(|| fail("no host"))?.clone();
                let tls = scheme == "https";
                let port = authority.port_u16().unwrap_or(if tls { 443 } else { 80 });
                let host = authority
                    .host()
                    .trim_start_matches('[')
                    .trim_end_matches(']');
                Self::new(
                    Kind::Dns {
                        host: host.to_owned(),
                        port,
                    },
                    tls,
                    authority,
                    text,
                )
            }
            "dns" => {
                // dns:host:port, dns:///host:port, dns://server/host:port.
                let name = match rest.strip_prefix("//") {
                    Some(after) => {
                        after.split_once('/').map(|(_, name)| name).ok_or_else(|| {
                            fail("dns:// needs a third slash before the host (dns:///host:port)")
                        })?
                    }
                    None => rest,
                };
                let (host, port) = host_port(name).map_err(|reason| fail(&reason))?;
                let authority = authority(&host, port).map_err(|reason| fail(&reason))?;
                Self::new(Kind::Dns { host, port }, false, authority, text)
            }
            "passthrough" => {
                let address = rest.strip_prefix("///").unwrap_or(rest);
                if address.is_empty() {
                    return Err(fail("passthrough needs an address"));
                }
                let (host, port) = host_port(address).map_err(|reason| fail(&reason))?;
                let authority = authority(&host, port).map_err(|reason| fail(&reason))?;
                Self::new(
                    Kind::Passthrough(address.to_owned()),
                    false,
                    authority,
                    text,
                )
            }
            "unix" => {
                // unix:path (relative or absolute) or unix:///abs/path.
                let path = match rest.strip_prefix("//") {
                    Some(after) if after.starts_with('/') => after,
                    Some(_) => {
                        return Err(fail(
                            "unix:// takes an absolute path (unix:///run/app.sock)",
                        ));
                    }
                    None => rest,
                };
                if path.is_empty() {
                    return Err(fail("unix needs a socket path"));
                }
                Self::new(
                    Kind::Unix(PathBuf::from(path)),
                    false,
                    http::uri::Authority::from_static("localhost"),
                    text,
                )
            }
            "unix-abstract" => Self::new(
                Kind::UnixAbstract(rest.as_bytes().to_vec()),
                false,
                http::uri::Authority::from_static("localhost"),
                text,
            ),
            "ipv4" | "ipv6" => {
                let mut addresses = Vec::new();
                for part in rest.split(',') {
                    let (host, port) = host_port(part).map_err(|reason| fail(&reason))?;
                    let ip: IpAddr = host
                        .parse()
                        .map_err(|_| fail(&format!("{host:?} is not an IP address")))?;
                    if ip.is_ipv4() != (scheme == "ipv4") {
                        return Err(fail(&format!("{ip} is not an {scheme} address")));
                    }
                    addresses.push(SocketAddr::new(ip, port));
                }
                let first = addresses[0];
                let authority = authority(&first.ip().to_string(), first.port())
                    .map_err(|reason| fail(&reason))?;
                Self::new(Kind::Addresses(addresses), false, authority, text)
            }
            other => unreachable!("{other} is in SCHEMES"),
        };
        Ok(target)
    }

    fn new(kind: Kind, tls: bool, authority: http::uri::Authority, text: &str) -> Self {
        Self {
            kind,
            tls,
            authority,
            text: text.to_owned(),
        }
    }

    /// A target for the Unix socket at `path`.
    pub(crate) fn unix(path: PathBuf) -> Self {
        let text = format!("unix:{}", path.display());
        Self::new(
            Kind::Unix(path),
            false,
            http::uri::Authority::from_static("localhost"),
            &text,
        )
    }

    pub(crate) fn kind(&self) -> &Kind {
        &self.kind
    }

    /// Whether the target asked for TLS (`https://`).
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// The `:authority` of calls to this target.
    pub fn authority(&self) -> &http::uri::Authority {
        &self.authority
    }

    /// The host name of the target, for TLS server-name checks.
    #[cfg(feature = "tls")]
    pub(crate) fn host(&self) -> &str {
        self.authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::str::FromStr for Target {
    type Err = TargetError;

    fn from_str(text: &str) -> Result<Self, TargetError> {
        Self::parse(text)
    }
}

/// The schemes a target may name.
const SCHEMES: &[&str] = &[
    "dns",
    "http",
    "https",
    "passthrough",
    "unix",
    "unix-abstract",
    "ipv4",
    "ipv6",
];

fn is_scheme(text: &str) -> bool {
    !text.is_empty()
        && text.starts_with(|c: char| c.is_ascii_alphabetic())
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Splits `host:port`, `[v6]:port`, `host` (default port) or a bare IPv6
/// address.
fn host_port(text: &str) -> Result<(String, u16), String> {
    if text.is_empty() {
        return Err("no host".to_owned());
    }
    if let Some(rest) = text.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{text:?} has '[' without ']'"))?;
        let port = match after {
            "" => DEFAULT_PORT,
            _ => parse_port(
                after
                    .strip_prefix(':')
                    .ok_or_else(|| format!("{text:?}: expected ':port' after ']'"))?,
            )?,
        };
        return Ok((host.to_owned(), port));
    }
    if text.parse::<std::net::Ipv6Addr>().is_ok() {
        return Ok((text.to_owned(), DEFAULT_PORT));
    }
    match text.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() => Ok((host.to_owned(), parse_port(port)?)),
        Some(_) => Err(format!("{text:?} has no host")),
        None => Ok((text.to_owned(), DEFAULT_PORT)),
    }
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a port number"))
}

fn authority(host: &str, port: u16) -> Result<http::uri::Authority, String> {
    let text = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    text.parse()
        .map_err(|_| format!("{host:?} is not a host name"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(text: &str) -> Kind {
        Target::parse(text).unwrap().kind
    }

    fn dns(host: &str, port: u16) -> Kind {
        Kind::Dns {
            host: host.to_owned(),
            port,
        }
    }

    #[test]
    fn target_table() {
        let cases: &[(&str, Kind, &str)] = &[
            (
                "localhost:50051",
                dns("localhost", 50051),
                "localhost:50051",
            ),
            ("example.com", dns("example.com", 443), "example.com:443"),
            (
                "dns:///example.com:8080",
                dns("example.com", 8080),
                "example.com:8080",
            ),
            (
                "dns://8.8.8.8/example.com:8080",
                dns("example.com", 8080),
                "example.com:8080",
            ),
            ("dns:example.com:1", dns("example.com", 1), "example.com:1"),
            (
                "http://127.0.0.1:50051",
                dns("127.0.0.1", 50051),
                "127.0.0.1:50051",
            ),
            ("http://[::1]:50051", dns("::1", 50051), "[::1]:50051"),
            (
                "https://example.com",
                dns("example.com", 443),
                "example.com",
            ),
            ("http://example.com", dns("example.com", 80), "example.com"),
            ("[::1]:50051", dns("::1", 50051), "[::1]:50051"),
            (
                "127.0.0.1:50051",
                dns("127.0.0.1", 50051),
                "127.0.0.1:50051",
            ),
            (
                "passthrough:///10.0.0.1:5",
                Kind::Passthrough("10.0.0.1:5".into()),
                "10.0.0.1:5",
            ),
            (
                "unix:/run/app.sock",
                Kind::Unix("/run/app.sock".into()),
                "localhost",
            ),
            ("unix:app.sock", Kind::Unix("app.sock".into()), "localhost"),
            (
                "unix:///run/app.sock",
                Kind::Unix("/run/app.sock".into()),
                "localhost",
            ),
            (
                "unix-abstract:grpc",
                Kind::UnixAbstract(b"grpc".to_vec()),
                "localhost",
            ),
            (
                "ipv4:10.0.0.1:1,10.0.0.2:2",
                Kind::Addresses(vec![
                    "10.0.0.1:1".parse().unwrap(),
                    "10.0.0.2:2".parse().unwrap(),
                ]),
                "10.0.0.1:1",
            ),
            (
                "ipv6:[::1]:1,[fe80::1]:2",
                Kind::Addresses(vec![
                    "[::1]:1".parse().unwrap(),
                    "[fe80::1]:2".parse().unwrap(),
                ]),
                "[::1]:1",
            ),
        ];
        for (text, want, authority) in cases {
            let target = Target::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
            assert_eq!(&target.kind, want, "{text}");
            assert_eq!(target.authority.as_str(), *authority, "{text}");
        }
        assert!(Target::parse("https://example.com").unwrap().is_tls());
        assert!(!Target::parse("example.com:1").unwrap().is_tls());
        assert_eq!(kind("LOCALHOST:1"), dns("LOCALHOST", 1));
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        let cases = [
            ("", "no host"),
            ("host:notaport", "not a port number"),
            ("dns://example.com:1", "third slash"),
            ("ipv4:::1:5", "not an ipv4 address"),
            ("ipv6:1.2.3.4:5", "not an ipv6 address"),
            ("ipv4:nothost:5", "not an IP address"),
            ("unix:", "socket path"),
            ("unix://relative", "absolute path"),
            ("gopher://x:1", "unknown scheme \"gopher\""),
            ("[::1:5", "without ']'"),
            ("passthrough:///", "needs an address"),
        ];
        for (text, want) in cases {
            let err = Target::parse(text).unwrap_err().to_string();
            assert!(err.contains(want), "{text:?}: {err}");
        }
    }
}
