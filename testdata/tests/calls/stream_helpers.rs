//! `rust_grpc::stream` and `serve_with_listener` through the generated
//! `corpus.echo` service: what ordinary handlers and clients use in place of a
//! stream crate.

use std::time::Duration;

use rust_grpc::stream::{self, BoxStream};
use rust_grpc::{Code, Request, Response, Server, Status, Streaming};
use rust_grpc_testdata::default::corpus::echo::{EchoReply, EchoRequest};
use rust_grpc_testdata::stub::{self, StubServer, reply, request};
use tokio::sync::oneshot;

/// How long any single step may take before a test gives up instead of hanging.
const PATIENCE: Duration = Duration::from_secs(10);

/// Joins the messages of a client stream with `+`.
async fn join(request: Request<Streaming<EchoRequest>>) -> Result<Response<EchoReply>, Status> {
    let mut incoming = request.into_inner();
    let mut joined = Vec::new();
    while let Some(request) = incoming.message().await? {
        joined.push(request.message);
    }
    Ok(Response::new(reply(joined.join("+"))))
}

#[tokio::test]
async fn a_handler_streams_what_its_task_sends_on_a_channel_then_its_error() {
    let client = StubServer::new()
        .server_stream(|request: Request<EchoRequest>| async move {
            let EchoRequest { message, count } = request.into_inner();
            let (sender, replies) = stream::channel(2);
            tokio::spawn(async move {
                for n in 0..count {
                    if sender.send(reply(format!("{message} {n}"))).await.is_err() {
                        return;
                    }
                }
                let _ = sender.send(Err(Status::aborted("no more"))).await;
            });
            Ok(Response::new(replies))
        })
        .start();
    let mut replies = client
        .server_stream(request("item", 5))
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    let status = loop {
        match replies.message().await {
            Ok(Some(reply)) => got.push(reply.message),
            Ok(None) => panic!("the stream ended OK after {got:?}"),
            Err(status) => break status,
        }
    };
    assert_eq!(got, ["item 0", "item 1", "item 2", "item 3", "item 4"]);
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(status.message(), "no more");
}

#[tokio::test]
async fn a_channel_sender_sees_closed_once_the_client_drops_the_call() {
    let (stopped, producer_stopped) = oneshot::channel::<u64>();
    let stopped = std::sync::Mutex::new(Some(stopped));
    let client = StubServer::new()
        .server_stream(move |_| {
            let stopped = stopped.lock().unwrap().take();
            async move {
                let (sender, replies) = stream::channel(1);
                tokio::spawn(async move {
                    let mut sent = 0;
                    // Endless: only the call's end stops it.
                    while sender.send(reply("again")).await.is_ok() {
                        sent += 1;
                    }
                    if let Some(stopped) = stopped {
                        let _ = stopped.send(sent);
                    }
                });
                Ok(Response::new(replies))
            }
        })
        .start();
    let mut replies = client
        .server_stream(request("", 0))
        .await
        .unwrap()
        .into_inner();
    assert!(replies.message().await.unwrap().is_some());
    drop(replies);
    let sent = tokio::time::timeout(PATIENCE, producer_stopped)
        .await
        .expect("the producer still sends after the client dropped the call")
        .unwrap();
    assert!(sent >= 1, "{sent}");
}

#[tokio::test]
async fn a_handler_returns_an_iterator_as_its_stream() {
    let client = StubServer::new()
        .server_stream(|request: Request<EchoRequest>| async move {
            let EchoRequest { message, count } = request.into_inner();
            let replies = (0..count).map(move |_| reply(message.clone()));
            Ok(Response::new(stream::boxed(stream::iter(replies))))
        })
        .start();
    let mut replies = client
        .server_stream(request("hi", 3))
        .await
        .unwrap()
        .into_inner();
    let mut got = Vec::new();
    while let Some(reply) = replies.message().await.unwrap() {
        got.push(reply.message);
    }
    assert_eq!(got, ["hi", "hi", "hi"]);
}

#[tokio::test]
async fn a_client_streams_an_iterator_once_and_empty() {
    let client = StubServer::new().client_stream(join).start();
    let requests = ["a", "b", "c"].map(|message| request(message, 0));
    let joined = client.client_stream(stream::iter(requests)).await.unwrap();
    assert_eq!(joined.get_ref().message, "a+b+c");
    let one = client
        .client_stream(stream::once(request("only", 0)))
        .await
        .unwrap();
    assert_eq!(one.get_ref().message, "only");
    let none = client.client_stream(stream::empty()).await.unwrap();
    assert_eq!(none.get_ref().message, "");
}

#[tokio::test]
async fn a_bidi_handler_answers_with_once_and_empty() {
    let client = StubServer::new()
        .bidi(|request: Request<Streaming<EchoRequest>>| async move {
            let mut incoming = request.into_inner();
            let answer: BoxStream<EchoReply> = match incoming.message().await? {
                Some(first) => stream::boxed(stream::once(reply(first.message))),
                None => stream::boxed(stream::empty::<EchoReply>()),
            };
            Ok(Response::new(answer))
        })
        .start();
    let mut replies = client
        .bidi(stream::iter([request("first", 0), request("second", 0)]))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(replies.message().await.unwrap().unwrap().message, "first");
    assert!(replies.message().await.unwrap().is_none());
    let mut replies = client.bidi(stream::empty()).await.unwrap().into_inner();
    assert!(replies.message().await.unwrap().is_none());
}

#[tokio::test]
async fn a_server_serves_a_listener_bound_beforehand() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(
        Server::builder()
            .add_service(StubServer::new().unary(stub::echo).into_service())
            .serve_with_listener_shutdown(listener, async {
                let _ = stopped.await;
            }),
    );
    let client = stub::connect(addr).await;
    let answer = client.unary(request("over tcp", 0)).await.unwrap();
    assert_eq!(answer.get_ref().message, "over tcp");
    stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("the server stops on its signal")
        .unwrap()
        .unwrap();
}
