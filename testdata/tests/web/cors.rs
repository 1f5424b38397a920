//! CORS: preflights answered for allowed origins only, and the headers that let
//! a page of an allowed origin read a call's status and metadata.

use bytes::Bytes;
use http_body_util::Full;
use rust_grpc::codegen::http::HeaderName;
use rust_grpc::server::GrpcWeb;
use rust_grpc_testdata::stub;

use crate::{Http, Reply, frame, post, send, serve};

const APP: &str = "http://app.example:8080";

async fn preflight(web: GrpcWeb, origin: &str) -> Reply {
    let addr = serve(web).await;
    send(
        addr,
        Http::One,
        "OPTIONS",
        "/corpus.echo.Echo/Unary",
        &[
            ("origin", origin),
            ("access-control-request-method", "POST"),
            (
                "access-control-request-headers",
                "content-type,x-grpc-web,x-token",
            ),
        ],
        Full::new(Bytes::new()),
    )
    .await
}

#[tokio::test]
async fn a_preflight_from_an_allowed_origin_says_what_it_may_send() {
    let web = GrpcWeb::default()
        .allow_origin(APP)
        .allow_header(HeaderName::from_static("x-token"));
    let reply = preflight(web, APP).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.headers["access-control-allow-origin"], APP);
    assert_eq!(reply.headers["access-control-allow-methods"], "POST");
    let allowed = reply.headers["access-control-allow-headers"]
        .to_str()
        .unwrap();
    for name in ["content-type", "x-grpc-web", "x-token"] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }
    assert_eq!(reply.headers["access-control-max-age"], "7200");
    assert!(
        !reply
            .headers
            .contains_key("access-control-allow-credentials")
    );
}

#[tokio::test]
async fn a_preflight_from_another_origin_is_refused_without_cors_headers() {
    let reply = preflight(GrpcWeb::default().allow_origin(APP), "http://evil.example").await;
    assert_eq!(reply.status, 403);
    assert!(!reply.headers.contains_key("access-control-allow-origin"));
}

#[tokio::test]
async fn no_origin_is_allowed_by_default() {
    let reply = preflight(GrpcWeb::default(), APP).await;
    assert_eq!(reply.status, 403);
}

#[tokio::test]
async fn any_origin_gets_the_wildcard_and_never_credentials() {
    let web = GrpcWeb::default()
        .allow_any_origin()
        .allow_credentials(true);
    let reply = preflight(web, APP).await;
    assert_eq!(reply.status, 204);
    assert_eq!(reply.headers["access-control-allow-origin"], "*");
    assert!(
        !reply
            .headers
            .contains_key("access-control-allow-credentials")
    );
}

#[tokio::test]
async fn credentials_go_with_a_listed_origin_when_allowed() {
    let web = GrpcWeb::default().allow_origin(APP).allow_credentials(true);
    let reply = preflight(web, APP).await;
    assert_eq!(reply.headers["access-control-allow-origin"], APP);
    assert_eq!(reply.headers["access-control-allow-credentials"], "true");
}

#[tokio::test]
async fn a_call_from_an_allowed_origin_exposes_status_and_metadata() {
    let web = GrpcWeb::default()
        .allow_origin(APP)
        .expose_header(HeaderName::from_static("x-token-seen"));
    let addr = serve(web).await;
    let reply = post(
        addr,
        Http::One,
        "Unary",
        "application/grpc-web",
        &[("origin", APP), ("x-token", "t")],
        frame(&stub::request("hi", 0)),
    )
    .await;
    assert_eq!(reply.headers["access-control-allow-origin"], APP);
    let exposed = reply.headers["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for name in [
        "grpc-status",
        "grpc-message",
        "grpc-status-details-bin",
        "x-token-seen",
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    assert!(
        reply
            .headers
            .get_all("vary")
            .iter()
            .any(|value| value == "origin")
    );
}

#[tokio::test]
async fn a_call_from_another_origin_gets_no_cors_headers() {
    let addr = serve(GrpcWeb::default().allow_origin(APP)).await;
    let reply = post(
        addr,
        Http::One,
        "Unary",
        "application/grpc-web",
        &[("origin", "http://evil.example")],
        frame(&stub::request("hi", 0)),
    )
    .await;
    assert!(!reply.headers.contains_key("access-control-allow-origin"));
    assert!(!reply.headers.contains_key("access-control-expose-headers"));
}
