//! W3C trace context across a real TCP call: the client's `grpc.client.call`
//! span and the server's `grpc.call` span, recorded as OpenTelemetry spans
//! by `tracing-opentelemetry`, are one trace.

use std::time::Duration;

use metrics_example::pb::EchoRequest;
use metrics_example::pb::echo_client::EchoClient;
use metrics_example::{EchoService, serve};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_between_a_channel_and_a_server_is_one_trace() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    // Global: the server's spans open on the runtime's worker threads.
    tracing::subscriber::set_global_default(subscriber).unwrap();

    let meters = opentelemetry::metrics::noop::NoopMeterProvider::new();
    let addr = serve(EchoService::default(), &meters).await.unwrap();
    let client = EchoClient::connect(format!("http://{addr}")).await.unwrap();
    let request = EchoRequest {
        text: "traced".to_owned(),
        times: 0,
    };
    client
        .say(request)
        .instrument(tracing::info_span!("caller"))
        .await
        .unwrap();

    // The server's span closes once its response body is done.
    let spans = wait_for(&exporter, &["caller", "grpc.client.call", "grpc.call"]).await;
    let [caller, client, server] = spans;
    let trace = caller.span_context.trace_id();
    assert_eq!(client.span_context.trace_id(), trace);
    assert_eq!(
        server.span_context.trace_id(),
        trace,
        "the server continued the caller's trace"
    );
    assert_eq!(client.parent_span_id, caller.span_context.span_id());
    assert_eq!(server.parent_span_id, client.span_context.span_id());
    assert!(
        server.parent_span_is_remote,
        "the server's parent came over the wire"
    );
    assert!(!client.parent_span_is_remote);
}

async fn wait_for(exporter: &InMemorySpanExporter, names: &[&str; 3]) -> [SpanData; 3] {
    for _ in 0..200 {
        let spans = exporter.get_finished_spans().unwrap();
        let found: Vec<_> = names
            .iter()
            .filter_map(|name| spans.iter().find(|span| span.name == *name).cloned())
            .collect();
        if let Ok(found) = <[SpanData; 3]>::try_from(found) {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!(
        "spans {names:?} not all exported: {:?}",
        exporter
            .get_finished_spans()
            .unwrap()
            .iter()
            .map(|span| span.name.clone())
            .collect::<Vec<_>>()
    );
}
