//! W3C trace context (`traceparent`, `tracestate`) between a call's client
//! span and its server span, through `tracing-opentelemetry`.

use opentelemetry::Context;
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use tracing_opentelemetry::OpenTelemetrySpanExt;

const TRACEPARENT: http::HeaderName = http::HeaderName::from_static("traceparent");
const TRACESTATE: http::HeaderName = http::HeaderName::from_static("tracestate");

/// Sends `span`'s OpenTelemetry context in `headers`; nothing when the span
/// has none (no OpenTelemetry layer records it).
pub(crate) fn inject(span: &tracing::Span, headers: &mut http::HeaderMap) {
    let context = span.context();
    let span = context.span();
    let span = span.span_context();
    if !span.is_valid() {
        return;
    }
    if let Ok(value) = http::HeaderValue::try_from(traceparent(span)) {
        headers.insert(TRACEPARENT, value);
    }
    let state = span.trace_state().header();
    if !state.is_empty()
        && let Ok(value) = http::HeaderValue::try_from(state)
    {
        headers.insert(TRACESTATE, value);
    }
}

/// Makes the context a call's `headers` carry, if any, the parent of `span`.
pub(crate) fn adopt(span: &tracing::Span, headers: &http::HeaderMap) {
    if let Some(parent) = extract(headers) {
        let _ = span.set_parent(Context::new().with_remote_span_context(parent));
    }
}

/// The `traceparent` of `span`: version 00, trace id, span id, flags.
fn traceparent(span: &SpanContext) -> String {
    format!(
        "00-{}-{}-{:02x}",
        span.trace_id(),
        span.span_id(),
        span.trace_flags().to_u8()
    )
}

/// The remote span context `headers` carry, if their `traceparent` is valid.
fn extract(headers: &http::HeaderMap) -> Option<SpanContext> {
    let value = headers.get(TRACEPARENT)?.to_str().ok()?.trim();
    let mut parts = value.split('-');
    let version = parts.next()?;
    let (trace_id, span_id, flags) = (parts.next()?, parts.next()?, parts.next()?);
    // Version ff is invalid; version 00 has exactly four fields, later
    // versions may add more after them.
    if version.len() != 2 || !is_hex(version) || version == "ff" {
        return None;
    }
    if version == "00" && parts.next().is_some() {
        return None;
    }
    if trace_id.len() != 32 || span_id.len() != 16 || flags.len() != 2 {
        return None;
    }
    if !(is_hex(trace_id) && is_hex(span_id) && is_hex(flags)) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    let flags = u8::from_str_radix(flags, 16).ok()?;
    let state = headers
        .get(TRACESTATE)
        .and_then(|state| state.to_str().ok())
        .and_then(|state| state.parse::<TraceState>().ok())
        .unwrap_or_default();
    let span = SpanContext::new(
        trace_id,
        span_id,
        TraceFlags::new(flags & 0x01),
        true,
        state,
    );
    span.is_valid().then_some(span)
}

/// Lower-case hex only, as W3C trace context requires.
fn is_hex(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(traceparent: &str, tracestate: Option<&str>) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
        headers.insert(TRACEPARENT, traceparent.parse().unwrap());
        if let Some(state) = tracestate {
            headers.insert(TRACESTATE, state.parse().unwrap());
        }
        headers
    }

    #[test]
    fn a_valid_traceparent_and_tracestate_are_read() {
        let span = extract(&headers(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            Some("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"),
        ))
        .unwrap();
        assert_eq!(
            span.trace_id(),
            TraceId::from_hex("0af7651916cd43dd8448eb211c80319c").unwrap()
        );
        assert_eq!(
            span.span_id(),
            SpanId::from_hex("b7ad6b7169203331").unwrap()
        );
        assert!(span.is_sampled());
        assert!(span.is_remote());
        assert_eq!(span.trace_state().get("rojo"), Some("00f067aa0ba902b7"));
    }

    #[test]
    fn a_written_traceparent_reads_back() {
        let span = SpanContext::new(
            TraceId::from_hex("00000000000000000000000000000abc").unwrap(),
            SpanId::from_hex("0000000000000def").unwrap(),
            TraceFlags::SAMPLED,
            false,
            TraceState::default(),
        );
        let written = traceparent(&span);
        assert_eq!(
            written,
            "00-00000000000000000000000000000abc-0000000000000def-01"
        );
        let read = extract(&headers(&written, None)).unwrap();
        assert_eq!(read.trace_id(), span.trace_id());
        assert_eq!(read.span_id(), span.span_id());
    }

    #[test]
    fn malformed_traceparents_are_ignored() {
        for bad in [
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-extra",
            "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0AF7651916CD43DD8448EB211C80319C-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
            "00-+af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        ] {
            assert!(extract(&headers(bad, None)).is_none(), "{bad}");
        }
    }
}
