//! The cost of metrics: built with `--features otel` and run with
//! `BENCH_METRICS=1`, our server and client record gRFC A66 metrics into a
//! Prometheus registry that nobody scrapes.

use opentelemetry_sdk::metrics::SdkMeterProvider;

/// A meter provider if `BENCH_METRICS` is set.
pub(crate) fn provider() -> Option<SdkMeterProvider> {
    std::env::var_os("BENCH_METRICS")?;
    let exporter = opentelemetry_prometheus::exporter()
        .with_registry(prometheus::Registry::new())
        .build()
        .ok()?;
    Some(SdkMeterProvider::builder().with_reader(exporter).build())
}
