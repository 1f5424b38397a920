//! metrics: gRPC's OpenTelemetry metrics (gRFC A66) from a server and a
//! channel in one process, exported in Prometheus' text format.
//!
//! ```text
//! cargo run -p metrics-example
//! ```
//!
//! It serves the echo service on a free port with `Server::metrics`, calls it
//! through a channel with `Endpoint::metrics` (a unary call, a failing call,
//! a call retried twice, a stream of three replies), then prints what a
//! Prometheus scrape of the registry would read.
#![forbid(unsafe_code)]

use std::error::Error;
use std::sync::atomic::Ordering;

use metrics_example::pb::EchoRequest;
use metrics_example::pb::echo_client::EchoClient;
use metrics_example::{EchoService, serve};
use opentelemetry_sdk::metrics::SdkMeterProvider;
use prometheus::{Encoder, TextEncoder};

/// Retries UNAVAILABLE calls to the echo service (gRFC A6).
const SERVICE_CONFIG: &str = r#"{"methodConfig": [{
    "name": [{"service": "demo.echo.Echo"}],
    "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.1s",
                    "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let registry = prometheus::Registry::new();
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(registry.clone())
        .build()?;
    let provider = SdkMeterProvider::builder().with_reader(exporter).build();

    let service = EchoService::default();
    let addr = serve(service.clone(), &provider).await?;
    let channel = rust_grpc::Endpoint::new(format!("http://{addr}"))?
        .default_service_config(SERVICE_CONFIG)?
        .metrics(&provider)
        .connect()
        .await?;
    let client = EchoClient::new(channel);

    let say = |text: &str| EchoRequest {
        text: text.to_owned(),
        times: 0,
    };
    client.say(say("hello")).await?;
    let failed = client.say(say("fail")).await.unwrap_err();
    println!("# a failing call: {:?}", failed.code());
    service.unavailable.store(2, Ordering::Release);
    client.say(say("retried")).await?;
    let mut replies = client
        .repeat(EchoRequest {
            text: "again".to_owned(),
            times: 3,
        })
        .await?
        .into_inner();
    while replies.message().await?.is_some() {}

    let mut text = Vec::new();
    TextEncoder::new().encode(&registry.gather(), &mut text)?;
    println!("{}", String::from_utf8(text)?);
    provider.shutdown()?;
    Ok(())
}
