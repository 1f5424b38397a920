//! The conformance suite's client under test: reads `ClientCompatRequest`s from
//! stdin until it ends, makes each call (up to `--parallel N` at once, 8 by
//! default), and writes a `ClientCompatResponse` for each to stdout.

use std::sync::Arc;

use conformance::client::Runner;
use conformance::pb::{ClientCompatRequest, ClientCompatResponse};
use tokio::sync::{Semaphore, mpsc};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let parallel = parallel(std::env::args().skip(1))?;
    let (done, mut results) = mpsc::channel::<ClientCompatResponse>(64);
    // One writer, so results never interleave on stdout.
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(result) = results.recv().await {
            conformance::wire::write(&mut stdout, &result).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let runner = Arc::new(Runner::default());
    let slots = Arc::new(Semaphore::new(parallel));
    let mut calls = tokio::task::JoinSet::new();
    let mut stdin = tokio::io::stdin();
    while let Some(request) = conformance::wire::read::<ClientCompatRequest>(&mut stdin).await? {
        let slot = Arc::clone(&slots).acquire_owned().await?;
        let (runner, done) = (Arc::clone(&runner), done.clone());
        calls.spawn(async move {
            let result = runner.run(request).await;
            drop(slot);
            let _ = done.send(result).await;
        });
    }
    while calls.join_next().await.is_some() {}
    drop(done);
    writer.await??;
    Ok(())
}

/// `--parallel N` (or `--parallel=N`) from the arguments.
fn parallel(mut args: impl Iterator<Item = String>) -> Result<usize, String> {
    let mut parallel = 8;
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--parallel") {
            Some("") => args.next(),
            Some(rest) => rest.strip_prefix('=').map(str::to_owned),
            None => return Err(format!("unknown argument {arg:?} (only --parallel N)")),
        };
        parallel = value
            .and_then(|value| value.parse().ok())
            .filter(|&n| n > 0)
            .ok_or("--parallel takes a number above 0")?;
    }
    Ok(parallel)
}
