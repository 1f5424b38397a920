//! The A66 metrics of real calls over TCP, read back from the SDK's
//! in-memory exporter: names, units, attributes, counts and sizes.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use metrics_example::pb::echo_client::EchoClient;
use metrics_example::pb::{EchoReply, EchoRequest};
use metrics_example::{EchoService, serve};
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use rust_grpc::Channel;
use rust_grpc::prost::Message;
use rust_grpc::telemetry::{LATENCY_BUCKETS, SIZE_BUCKETS};

const RETRY_CONFIG: &str = r#"{"methodConfig": [{
    "name": [{"service": "demo.echo.Echo"}],
    "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.01s", "maxBackoff": "0.1s",
                    "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]}"#;

const SAY: &str = "demo.echo.Echo/Say";

/// One exported data point, flattened.
#[derive(Debug, Clone)]
struct Point {
    name: String,
    unit: String,
    attributes: BTreeMap<String, String>,
    /// A counter's value, or a histogram's count.
    count: u64,
    /// A histogram's sum.
    sum: f64,
    bounds: Vec<f64>,
}

struct Harness {
    exporter: InMemoryMetricExporter,
    provider: SdkMeterProvider,
    service: EchoService,
    client: EchoClient<Channel>,
    target: String,
}

async fn harness(client_metrics: bool) -> Harness {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    let service = EchoService::default();
    let addr = serve(service.clone(), &provider).await.unwrap();
    let target = format!("http://{addr}");
    let mut endpoint = rust_grpc::Endpoint::new(target.clone())
        .unwrap()
        .default_service_config(RETRY_CONFIG)
        .unwrap();
    if client_metrics {
        endpoint = endpoint.metrics(&provider);
    }
    let client = EchoClient::new(endpoint.connect().await.unwrap());
    Harness {
        exporter,
        provider,
        service,
        client,
        target,
    }
}

impl Harness {
    /// Every data point exported so far (cumulative).
    fn points(&self) -> Vec<Point> {
        self.provider.force_flush().unwrap();
        let exports = self.exporter.get_finished_metrics().unwrap();
        let mut points = Vec::new();
        let Some(last) = exports.last() else {
            return points;
        };
        for scope in last.scope_metrics() {
            assert_eq!(scope.scope().name(), rust_grpc::telemetry::METER_NAME);
            for metric in scope.metrics() {
                let point = |attributes: BTreeMap<String, String>| Point {
                    name: metric.name().to_owned(),
                    unit: metric.unit().to_owned(),
                    attributes,
                    count: 0,
                    sum: 0.0,
                    bounds: Vec::new(),
                };
                let attrs = |kvs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                    kvs.map(|kv| (kv.key.to_string(), kv.value.to_string()))
                        .collect::<BTreeMap<_, _>>()
                };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for p in sum.data_points() {
                            points.push(Point {
                                count: p.value(),
                                ..point(attrs(&mut p.attributes()))
                            });
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                        for p in histogram.data_points() {
                            points.push(Point {
                                count: p.count(),
                                sum: p.sum(),
                                bounds: p.bounds().collect(),
                                ..point(attrs(&mut p.attributes()))
                            });
                        }
                    }
                    AggregatedMetrics::U64(MetricData::Histogram(histogram)) => {
                        for p in histogram.data_points() {
                            points.push(Point {
                                count: p.count(),
                                sum: p.sum() as f64,
                                bounds: p.bounds().collect(),
                                ..point(attrs(&mut p.attributes()))
                            });
                        }
                    }
                    other => panic!("unexpected data for {}: {other:?}", metric.name()),
                }
            }
        }
        points
    }

    fn attributes(
        &self,
        method: &str,
        status: Option<&str>,
        client: bool,
    ) -> Vec<(&'static str, String)> {
        let mut attributes = vec![("grpc.method", method.to_owned())];
        if let Some(status) = status {
            attributes.push(("grpc.status", status.to_owned()));
        }
        if client {
            attributes.push(("grpc.target", self.target.clone()));
        }
        attributes
    }

    /// The one point of `name` with exactly these attributes.
    fn point(&self, name: &str, attributes: &[(&str, String)]) -> Point {
        let wanted: BTreeMap<String, String> = attributes
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let points = self.points();
        let found: Vec<_> = points
            .iter()
            .filter(|p| p.name == name && p.attributes == wanted)
            .collect();
        assert_eq!(found.len(), 1, "{name} {wanted:?} in {points:#?}");
        found[0].clone()
    }

    fn server(&self, name: &str, method: &str, status: Option<&str>) -> Point {
        self.point(name, &self.attributes(method, status, false))
    }

    fn client(&self, name: &str, method: &str, status: Option<&str>) -> Point {
        self.point(name, &self.attributes(method, status, true))
    }
}

fn request(text: &str, times: u32) -> EchoRequest {
    EchoRequest {
        text: text.to_owned(),
        times,
    }
}

fn reply_len(text: &str) -> f64 {
    EchoReply {
        text: text.to_owned(),
    }
    .encoded_len() as f64
}

#[tokio::test]
async fn a_unary_call_records_every_a66_instrument_with_its_unit_attributes_and_buckets() {
    let h = harness(true).await;
    h.client.say(request("hello", 0)).await.unwrap();
    let sent = request("hello", 0).encoded_len() as f64;
    let received = reply_len("hello");

    let started = h.server("grpc.server.call.started", SAY, None);
    assert_eq!((started.unit.as_str(), started.count), ("{call}", 1));
    let duration = h.server("grpc.server.call.duration", SAY, Some("OK"));
    assert_eq!((duration.unit.as_str(), duration.count), ("s", 1));
    assert_eq!(duration.bounds, LATENCY_BUCKETS);
    let size = h.server(
        "grpc.server.call.rcvd_total_compressed_message_size",
        SAY,
        Some("OK"),
    );
    assert_eq!((size.unit.as_str(), size.count, size.sum), ("By", 1, sent));
    assert_eq!(size.bounds, SIZE_BUCKETS);
    let size = h.server(
        "grpc.server.call.sent_total_compressed_message_size",
        SAY,
        Some("OK"),
    );
    assert_eq!((size.unit.as_str(), size.sum), ("By", received));

    let started = h.client("grpc.client.attempt.started", SAY, None);
    assert_eq!((started.unit.as_str(), started.count), ("{attempt}", 1));
    let attempt = h.client("grpc.client.attempt.duration", SAY, Some("OK"));
    assert_eq!((attempt.unit.as_str(), attempt.count), ("s", 1));
    assert_eq!(attempt.bounds, LATENCY_BUCKETS);
    let size = h.client(
        "grpc.client.attempt.sent_total_compressed_message_size",
        SAY,
        Some("OK"),
    );
    assert_eq!((size.unit.as_str(), size.sum), ("By", sent));
    let size = h.client(
        "grpc.client.attempt.rcvd_total_compressed_message_size",
        SAY,
        Some("OK"),
    );
    assert_eq!((size.unit.as_str(), size.sum), ("By", received));
    let call = h.client("grpc.client.call.duration", SAY, Some("OK"));
    assert_eq!((call.unit.as_str(), call.count), ("s", 1));
    assert!(call.sum >= attempt.sum, "{call:?} {attempt:?}");
}

#[tokio::test]
async fn a_failing_call_is_recorded_with_its_status_code_name() {
    let h = harness(true).await;
    let status = h.client.say(request("fail", 0)).await.unwrap_err();
    assert_eq!(status.code(), rust_grpc::Code::NotFound);

    let server = h.server("grpc.server.call.duration", SAY, Some("NOT_FOUND"));
    assert_eq!(server.count, 1);
    let sent = h.server(
        "grpc.server.call.sent_total_compressed_message_size",
        SAY,
        Some("NOT_FOUND"),
    );
    assert_eq!((sent.count, sent.sum), (1, 0.0));
    let attempt = h.client("grpc.client.attempt.duration", SAY, Some("NOT_FOUND"));
    assert_eq!(attempt.count, 1);
    let call = h.client("grpc.client.call.duration", SAY, Some("NOT_FOUND"));
    assert_eq!(call.count, 1);
}

#[tokio::test]
async fn a_streaming_call_counts_the_bytes_of_every_message() {
    let h = harness(true).await;
    let mut replies = h
        .client
        .repeat(request("again", 3))
        .await
        .unwrap()
        .into_inner();
    let mut count = 0;
    while replies.message().await.unwrap().is_some() {
        count += 1;
    }
    assert_eq!(count, 3);
    let repeat = "demo.echo.Echo/Repeat";
    let sent = h.server(
        "grpc.server.call.sent_total_compressed_message_size",
        repeat,
        Some("OK"),
    );
    assert_eq!((sent.count, sent.sum), (1, 3.0 * reply_len("again")));
    let received = h.client(
        "grpc.client.attempt.rcvd_total_compressed_message_size",
        repeat,
        Some("OK"),
    );
    assert_eq!(
        (received.count, received.sum),
        (1, 3.0 * reply_len("again"))
    );
    assert_eq!(
        h.client("grpc.client.call.duration", repeat, Some("OK"))
            .count,
        1
    );
}

#[tokio::test]
async fn a_retried_call_counts_every_attempt_and_one_call() {
    let h = harness(true).await;
    h.service.unavailable.store(2, Ordering::Release);
    h.client.say(request("retried", 0)).await.unwrap();

    assert_eq!(h.client("grpc.client.attempt.started", SAY, None).count, 3);
    let failed = h.client("grpc.client.attempt.duration", SAY, Some("UNAVAILABLE"));
    assert_eq!(failed.count, 2);
    let ok = h.client("grpc.client.attempt.duration", SAY, Some("OK"));
    assert_eq!(ok.count, 1);
    let call = h.client("grpc.client.call.duration", SAY, Some("OK"));
    assert_eq!(call.count, 1);
    // The call's duration spans all three attempts and the backoffs between.
    assert!(call.sum > failed.sum + ok.sum, "{call:?} {failed:?} {ok:?}");
    // Each attempt sent the whole request again.
    let sent = h.client(
        "grpc.client.attempt.sent_total_compressed_message_size",
        SAY,
        Some("UNAVAILABLE"),
    );
    assert_eq!(sent.sum, 2.0 * request("retried", 0).encoded_len() as f64);
    assert_eq!(h.server("grpc.server.call.started", SAY, None).count, 3);
}

#[tokio::test]
async fn a_method_no_service_registers_counts_as_other_on_the_server() {
    let h = harness(false).await;
    let raw = rust_grpc::codegen::Client::new(
        rust_grpc::Endpoint::new(h.target.clone())
            .unwrap()
            .connect()
            .await
            .unwrap(),
    );
    for path in ["/demo.echo.Echo/Nope", "/no.such.Service/Call"] {
        let status = raw
            .unary::<EchoRequest, EchoReply>(rust_grpc::Request::new(request("x", 0)), path)
            .await
            .unwrap_err();
        assert_eq!(status.code(), rust_grpc::Code::Unimplemented);
    }
    assert_eq!(h.server("grpc.server.call.started", "other", None).count, 2);
    let other = h.server("grpc.server.call.duration", "other", Some("UNIMPLEMENTED"));
    assert_eq!(other.count, 2);
    assert!(
        !h.points()
            .iter()
            .any(|p| p.attributes.values().any(|v| v.contains("Nope"))),
        "an unknown method's name is never an attribute"
    );
}

#[tokio::test]
async fn a_channel_without_metrics_records_no_client_instrument() {
    let h = harness(false).await;
    h.client.say(request("hello", 0)).await.unwrap();
    let points = h.points();
    assert!(points.iter().any(|p| p.name == "grpc.server.call.duration"));
    assert!(
        !points.iter().any(|p| p.name.starts_with("grpc.client.")),
        "{points:#?}"
    );
}

#[tokio::test]
async fn a_call_through_an_async_interceptor_still_counts_under_its_method() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(exporter.clone()).build())
        .build();
    // The interceptor waits a turn: the generated method takes the call only later.
    let interceptor = |request: rust_grpc::Request<()>| async move {
        tokio::task::yield_now().await;
        Ok(request)
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = rust_grpc::Server::builder().metrics(&provider).add_service(
        metrics_example::pb::echo_server::EchoServer::with_interceptor(
            EchoService::default(),
            interceptor,
        ),
    );
    tokio::spawn(router.serve_with_listener(listener));
    let client = EchoClient::connect(format!("http://{addr}")).await.unwrap();
    client.say(request("hello", 0)).await.unwrap();

    let h = Harness {
        exporter,
        provider,
        service: EchoService::default(),
        client,
        target: String::new(),
    };
    assert_eq!(h.server("grpc.server.call.started", SAY, None).count, 1);
    assert_eq!(
        h.server("grpc.server.call.duration", SAY, Some("OK")).count,
        1
    );
}
