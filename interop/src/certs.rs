//! The default TLS files: grpc-go's interop test certificates, from the grpc
//! module in the Go module cache (`go mod download google.golang.org/grpc@v1.85.0`,
//! or installing grpc-go's interop binaries, puts it there).
//!
//! The server presents `testdata/server1.pem` (key `testdata/server1.key`), which
//! names `*.test.google.fr`; clients trust `testdata/ca.pem` and claim to connect to
//! [`HOST_OVERRIDE`]. (The newer `testdata/x509/server1_cert.pem` names
//! `*.test.example.com` instead, so it does not fit the harness's host override.)

use std::path::{Path, PathBuf};
use std::process::Command;

/// The grpc-go release whose test certificates are used.
pub const GRPC_GO_VERSION: &str = "v1.85.0";

/// The host name the test certificate is issued for, as clients claim it.
pub const HOST_OVERRIDE: &str = "foo.test.google.fr";

/// Paths of the test certificate files.
#[derive(Debug, Clone)]
pub struct TestCerts {
    /// The server certificate (PEM).
    pub server_cert: PathBuf,
    /// The server's private key (PEM).
    pub server_key: PathBuf,
    /// The CA that issued the server certificate (PEM).
    pub ca: PathBuf,
}

impl TestCerts {
    /// The files in grpc-go's `testdata` directory `dir`.
    pub fn in_dir(dir: &Path) -> Self {
        Self {
            server_cert: dir.join("server1.pem"),
            server_key: dir.join("server1.key"),
            ca: dir.join("ca.pem"),
        }
    }

    /// grpc-go's test certificates from the Go module cache.
    ///
    /// # Errors
    ///
    /// Says where it looked and how to get the files when they are not there.
    pub fn grpc_go() -> Result<Self, String> {
        let cache = go_module_cache().ok_or_else(|| {
            "cannot find the Go module cache (no GOMODCACHE, no `go` on PATH, no GOPATH or HOME)"
                .to_owned()
        })?;
        let dir = cache
            .join(format!("google.golang.org/grpc@{GRPC_GO_VERSION}"))
            .join("testdata");
        let certs = Self::in_dir(&dir);
        for file in [&certs.server_cert, &certs.server_key, &certs.ca] {
            if !file.is_file() {
                return Err(format!(
                    "grpc-go's test certificate {} is missing; fetch it with \
                     `go mod download google.golang.org/grpc@{GRPC_GO_VERSION}` \
                     (or pass the files as flags)",
                    file.display()
                ));
            }
        }
        Ok(certs)
    }
}

/// The Go module cache: `$GOMODCACHE`, `go env GOMODCACHE`, `$GOPATH/pkg/mod` or
/// `~/go/pkg/mod`.
pub fn go_module_cache() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GOMODCACHE").filter(|dir| !dir.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    if let Ok(output) = Command::new("go").args(["env", "GOMODCACHE"]).output()
        && output.status.success()
    {
        let dir = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        if !dir.is_empty() {
            return Some(PathBuf::from(dir));
        }
    }
    if let Some(gopath) = std::env::var_os("GOPATH").filter(|dir| !dir.is_empty()) {
        let first = std::env::split_paths(&gopath).next()?;
        return Some(first.join("pkg/mod"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join("go/pkg/mod"))
}
