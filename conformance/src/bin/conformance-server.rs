//! The conformance suite's server under test: reads one `ServerCompatRequest`
//! from stdin, starts the server it asks for, writes the `ServerCompatResponse`
//! to stdout, and serves until SIGTERM.

use conformance::pb::ServerCompatRequest;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let request: ServerCompatRequest = conformance::wire::read(&mut tokio::io::stdin())
        .await?
        .ok_or("stdin ended before a ServerCompatRequest")?;
    let (response, serving) = conformance::server::start(&request).await?;
    conformance::wire::write(&mut tokio::io::stdout(), &response).await?;
    serving.await?;
    Ok(())
}
