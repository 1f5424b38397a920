//! A toxiproxy server of our own (the `toxiproxy/server` binary that
//! `.ci/go-tools` installs into `.cache/go-bin`), driven over its HTTP API:
//! one proxy in front of an upstream, toxics added and removed by name.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Where `.ci/go-tools` puts the server (its module's binary is named `server`,
/// as grpc-go's interop server is, hence a folder of its own).
fn binary() -> Option<PathBuf> {
    let go_bin = std::env::var_os("RUST_GRPC_GO_BIN").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.cache/go-bin")),
        PathBuf::from,
    );
    let path = go_bin.join("toxiproxy/server");
    path.is_file().then_some(path)
}

/// A running toxiproxy server on 127.0.0.1, killed when dropped.
pub(crate) struct Toxiproxy {
    child: Child,
    api: SocketAddr,
}

impl Drop for Toxiproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A proxy: where clients connect.
pub(crate) struct Proxy {
    pub(crate) name: String,
    pub(crate) listen: SocketAddr,
}

/// One toxic: its type, the direction it acts on and its attributes (JSON).
#[derive(Debug, Clone)]
pub(crate) struct Toxic {
    pub(crate) kind: &'static str,
    /// `downstream` (server to client) or `upstream`.
    pub(crate) stream: &'static str,
    pub(crate) attributes: String,
}

impl Toxiproxy {
    /// Starts the server on a free port, or `None` (saying why on stderr) when
    /// it is not installed; under `CI=true` a missing server is a failure.
    pub(crate) fn start_or_skip() -> Option<Toxiproxy> {
        let Some(path) = binary() else {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "toxiproxy is not installed (bash .ci/go-tools installs it)"
            );
            eprintln!("SKIPPED: toxiproxy is not installed (bash .ci/go-tools installs it)");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut child = Command::new(path)
            .args(["-host", "127.0.0.1", "-port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("toxiproxy starts");
        // It logs each toxic; keep draining so it never blocks.
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
        let api = SocketAddr::from(([127, 0, 0, 1], port));
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(api).is_err() {
            assert!(
                Instant::now() < deadline,
                "toxiproxy did not listen on {api}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(Toxiproxy { child, api })
    }

    /// One HTTP/1.1 request to the API; returns the status code and body.
    async fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.api)
            .await
            .expect("toxiproxy's API answers");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.api,
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let code = response
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map_or(String::new(), |(_, body)| body.to_owned());
        (code, body)
    }

    /// A proxy named `name` on a free port in front of `upstream`.
    pub(crate) async fn proxy(&self, name: &str, upstream: SocketAddr) -> Proxy {
        let body = format!(
            r#"{{"name":"{name}","listen":"127.0.0.1:0","upstream":"{upstream}","enabled":true}}"#
        );
        let (code, answer) = self.request("POST", "/proxies", &body).await;
        assert_eq!(code, 201, "POST /proxies: {answer}");
        // The answer names the port it bound: "listen":"127.0.0.1:NNNNN".
        let listen = answer
            .split(r#""listen":""#)
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no listen address in {answer}"));
        Proxy {
            name: name.to_owned(),
            listen,
        }
    }

    /// Adds `toxic` to `proxy` under `name`, acting on every connection.
    pub(crate) async fn add(&self, proxy: &Proxy, name: &str, toxic: &Toxic) {
        let body = format!(
            r#"{{"name":"{name}","type":"{}","stream":"{}","toxicity":1.0,"attributes":{}}}"#,
            toxic.kind, toxic.stream, toxic.attributes
        );
        let path = format!("/proxies/{}/toxics", proxy.name);
        let (code, answer) = self.request("POST", &path, &body).await;
        assert_eq!(code, 200, "POST {path}: {answer}");
    }

    /// Removes the toxic `name` from `proxy`.
    pub(crate) async fn remove(&self, proxy: &Proxy, name: &str) {
        let path = format!("/proxies/{}/toxics/{name}", proxy.name);
        let (code, answer) = self.request("DELETE", &path, "").await;
        assert_eq!(code, 204, "DELETE {path}: {answer}");
    }
}
