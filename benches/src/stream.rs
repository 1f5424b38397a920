//! Our closed-loop streaming client, built on the client our generator writes:
//! bidi ping-pong (messages per second and round-trip percentiles) and server
//! streaming (megabytes per second). Warm-up first, then a fixed window; the
//! server's CPU time is read at the window's edges.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio_stream::wrappers::ReceiverStream;

use crate::load::Measured;
use crate::procfs;
use crate::servers::ours::grpc_testing::benchmark_service_client::BenchmarkServiceClient;
use crate::servers::ours::grpc_testing::{Payload, SimpleRequest};

/// A stream cell's shape.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shape {
    /// Concurrent streams, all on one connection.
    pub(crate) streams: u32,
    /// Request and response payload bytes (bidi), or response bytes (server streaming).
    pub(crate) payload: usize,
    pub(crate) warm_up: Duration,
    pub(crate) duration: Duration,
}

/// What a stream cell measured, and the server's CPU time over the window.
pub(crate) struct Outcome {
    pub(crate) measured: Measured,
    pub(crate) server: Option<procfs::Usage>,
}

/// The percentile `p` (0..=100) of sorted nanoseconds, in microseconds.
fn percentile_us(sorted: &[u64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1000.0)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| error.to_string())
}

async fn connect(addr: SocketAddr) -> Result<BenchmarkServiceClient, String> {
    BenchmarkServiceClient::connect(format!("http://{addr}"))
        .await
        .map_err(|error| format!("connect: {error}"))
}

/// Runs a cell on a fresh current-thread runtime, failing it if it overruns its
/// window by more than 20 s (a server that stopped answering).
fn bounded(
    shape: Shape,
    cell: impl std::future::Future<Output = Result<Outcome, String>>,
) -> Result<Outcome, String> {
    let limit = shape.warm_up + shape.duration + Duration::from_secs(20);
    runtime()?.block_on(async move {
        tokio::time::timeout(limit, cell)
            .await
            .map_err(|_| format!("no answer within {limit:?}: the server stopped answering"))?
    })
}

/// Reads the server's CPU time and run-queue wait when the window opens and closes.
async fn cpu_over_window(pid: u32, start: Instant, end: Instant) -> Option<procfs::Usage> {
    tokio::time::sleep_until(start.into()).await;
    let before = procfs::usage(pid)?;
    tokio::time::sleep_until(end.into()).await;
    Some(procfs::usage(pid)?.since(before))
}

/// Bidi ping-pong (`StreamingCall`): each stream sends one request and waits for
/// its response before sending the next.
pub(crate) fn bidi(addr: SocketAddr, pid: u32, shape: Shape) -> Result<Outcome, String> {
    bounded(shape, async move {
        let client = connect(addr).await?;
        let start = Instant::now() + shape.warm_up;
        let end = start + shape.duration;
        let mut tasks = Vec::new();
        for _ in 0..shape.streams {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let request = SimpleRequest {
                    response_size: shape.payload as i32,
                    payload: Some(Payload {
                        r#type: 0,
                        body: vec![0; shape.payload].into(),
                    }),
                    ..Default::default()
                };
                // The first request goes in before the call starts: a server may
                // send its response headers only with its first response (grpc-go does).
                let (sender, receiver) = tokio::sync::mpsc::channel(1);
                let mut sent = Instant::now();
                sender
                    .send(request.clone())
                    .await
                    .map_err(|_| "the request stream closed")?;
                let mut replies = client
                    .streaming_call(ReceiverStream::new(receiver))
                    .await
                    .map_err(|status| format!("StreamingCall: {status}"))?
                    .into_inner();
                let mut latencies = Vec::new();
                loop {
                    match replies.message().await {
                        Ok(Some(_)) => {}
                        Ok(None) => return Err("the server ended the stream early".to_string()),
                        Err(status) => return Err(format!("StreamingCall: {status}")),
                    }
                    let done = Instant::now();
                    if sent >= start && done <= end {
                        latencies.push((done - sent).as_nanos() as u64);
                    }
                    if done >= end {
                        break;
                    }
                    sent = Instant::now();
                    sender
                        .send(request.clone())
                        .await
                        .map_err(|_| "the request stream closed")?;
                }
                drop(sender);
                Ok::<_, String>(latencies)
            }));
        }
        let server = cpu_over_window(pid, start, end).await;
        let mut latencies = Vec::new();
        let mut errors = Vec::new();
        for task in tasks {
            match task.await {
                Ok(Ok(mut stream)) => latencies.append(&mut stream),
                Ok(Err(error)) => errors.push(error),
                Err(error) => errors.push(error.to_string()),
            }
        }
        latencies.sort_unstable();
        Ok(Outcome {
            measured: Measured {
                count: latencies.len() as u64,
                secs: shape.duration.as_secs_f64(),
                p50_us: percentile_us(&latencies, 50.0),
                p90_us: percentile_us(&latencies, 90.0),
                p99_us: percentile_us(&latencies, 99.0),
                mean_us: None,
                mb_per_s: None,
                errors: errors.len() as u64,
                error_text: errors.join("; "),
            },
            server,
        })
    })
}

/// Server streaming (`StreamingFromServer`): the server sends the same response
/// as fast as the client takes it; counts messages and payload bytes.
pub(crate) fn server_streaming(
    addr: SocketAddr,
    pid: u32,
    shape: Shape,
) -> Result<Outcome, String> {
    runtime()?.block_on(async move {
        let client = connect(addr).await?;
        let start = Instant::now() + shape.warm_up;
        let end = start + shape.duration;
        let mut tasks = Vec::new();
        for _ in 0..shape.streams {
            let client = client.clone();
            tasks.push(tokio::spawn(async move {
                let request = SimpleRequest {
                    response_size: shape.payload as i32,
                    ..Default::default()
                };
                let mut replies = client
                    .streaming_from_server(request)
                    .await
                    .map_err(|status| format!("StreamingFromServer: {status}"))?
                    .into_inner();
                let (mut messages, mut bytes) = (0u64, 0u64);
                loop {
                    match replies.message().await {
                        Ok(Some(reply)) => {
                            let now = Instant::now();
                            if now >= end {
                                break;
                            }
                            if now >= start {
                                messages += 1;
                                bytes += reply.payload.map_or(0, |p| p.body.len() as u64);
                            }
                        }
                        Ok(None) => return Err("the server ended the stream early".to_string()),
                        Err(status) => return Err(format!("StreamingFromServer: {status}")),
                    }
                }
                // Dropping `replies` cancels the call.
                Ok::<_, String>((messages, bytes))
            }));
        }
        let server = cpu_over_window(pid, start, end).await;
        let (mut messages, mut bytes) = (0, 0);
        let mut errors = Vec::new();
        for task in tasks {
            match task.await {
                Ok(Ok((m, b))) => {
                    messages += m;
                    bytes += b;
                }
                Ok(Err(error)) => errors.push(error),
                Err(error) => errors.push(error.to_string()),
            }
        }
        let secs = shape.duration.as_secs_f64();
        Ok(Outcome {
            measured: Measured {
                count: messages,
                secs,
                mb_per_s: Some(bytes as f64 / 1e6 / secs),
                errors: errors.len() as u64,
                error_text: errors.join("; "),
                ..Measured::default()
            },
            server,
        })
    })
}

/// One `UnaryCall` through our generated client, 64 B each way: proves a server
/// that serves only BenchmarkService answers.
pub(crate) fn unary_call(addr: SocketAddr) -> Result<(), String> {
    runtime()?.block_on(async move {
        let client = connect(addr).await?;
        let reply = client
            .unary_call(SimpleRequest {
                response_size: 64,
                payload: Some(Payload {
                    r#type: 0,
                    body: vec![0; 64].into(),
                }),
                ..Default::default()
            })
            .await
            .map_err(|status| format!("UnaryCall: {status}"))?;
        let size = reply.get_ref().payload.as_ref().map_or(0, |p| p.body.len());
        if size != 64 {
            return Err(format!("UnaryCall answered {size} payload bytes, not 64"));
        }
        Ok(())
    })
}

/// One unary `SayHello` through our generated client: proves a server answers.
pub(crate) fn say_hello(addr: SocketAddr) -> Result<(), String> {
    use crate::servers::ours::helloworld::{HelloRequest, greeter_client::GreeterClient};
    runtime()?.block_on(async move {
        let client = GreeterClient::connect(format!("http://{addr}"))
            .await
            .map_err(|error| format!("connect: {error}"))?;
        let reply = client
            .say_hello(HelloRequest {
                name: crate::load::NAME.into(),
            })
            .await
            .map_err(|status| format!("SayHello: {status}"))?;
        let expected = crate::servers::greeting(crate::load::NAME);
        if reply.get_ref().message != expected {
            return Err(format!("SayHello answered {:?}", reply.get_ref().message));
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::percentile_us;

    #[test]
    fn percentiles_are_nearest_rank() {
        let sorted: Vec<u64> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile_us(&sorted, 50.0), Some(50.0));
        assert_eq!(percentile_us(&sorted, 99.0), Some(99.0));
        assert_eq!(percentile_us(&sorted, 100.0), Some(100.0));
        assert_eq!(percentile_us(&[], 50.0), None);
    }
}
