//! greeter-connect: helloworld.Greeter on connectrpc, for the benchmark harness.
//! Binds a free port on 127.0.0.1, prints `LISTENING <addr>`, serves until killed.

use std::io::Write as _;
use std::sync::Arc;

use connectrpc::{RequestContext, Response, ServiceRequest, ServiceResult};

mod proto {
    connectrpc::include_generated!();
}

use proto::helloworld::{Greeter, HelloReply, HelloRequest};

struct MyGreeter;

// The generated trait returns `impl Encodable<HelloReply>`; returning the message
// itself, as connect-rust's README does, refines it.
#[allow(refining_impl_trait)]
impl Greeter for MyGreeter {
    async fn say_hello(
        &self,
        _ctx: RequestContext,
        request: ServiceRequest<'_, HelloRequest>,
    ) -> ServiceResult<HelloReply> {
        Response::ok(HelloReply {
            message: format!("Hello {}", request.name),
            ..Default::default()
        })
    }
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let router = connectrpc::Router::new().add_service(Arc::new(MyGreeter));
        let server = connectrpc::Server::bind("127.0.0.1:0")
            .await?
            .with_max_concurrent_streams(1024);
        let addr = server.local_addr()?;
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "LISTENING {addr}")?;
        stdout.flush()?;
        drop(stdout);
        server.serve(router).await
    })
}
