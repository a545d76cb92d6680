//! Using a crate built on tokio (reqwest, sqlx, tonic, ...) from a braid program.
//!
//! Such a crate needs tokio's own loop to drive its sockets and timers. The program keeps one
//! tokio runtime on a thread of its own, hands it the tokio-bound work with
//! `Runtime::spawn`, and awaits the returned handle on braid's loop like any other future.
//!
//! Here the braid loop runs a line-echo server, and the "tokio crate" is a client written
//! with `tokio::net` and `tokio::time`, as a tokio-only library would be. Each request runs on
//! tokio; its answer comes back to the braid task that asked.
//!
//! The other way is the `async-compat` crate: `async_compat::Compat::new(future).await`
//! polls a tokio-bound future on braid's loop inside the context of a tokio runtime that
//! async-compat keeps on a thread of its own. `tests/ecosystem.rs` does a real reqwest GET
//! both ways, and chapter 14 ("braid and the ecosystem") compares them.
//!
//! ```text
//! cargo run --example tokio_crates              # 5 requests
//! cargo run --example tokio_crates -- 20        # 20 requests
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use braid::executor::net::{TcpListener, TcpStream};
use examples::cli::Args;
use futures::io::{AsyncReadExt, AsyncWriteExt};

/// Stands in for a tokio-only library call (a reqwest GET, an sqlx query): it uses tokio's
/// sockets and timers, so it only runs inside a tokio runtime.
async fn tokio_only_request(server: SocketAddr, line: String) -> io::Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut stream = tokio::net::TcpStream::connect(server).await?;
    stream.write_all(format!("{line}\n").as_bytes()).await?;
    let mut answer = Vec::new();
    let read = stream.read_to_end(&mut answer);
    tokio::time::timeout(Duration::from_secs(30), read).await??;
    String::from_utf8(answer).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// The braid side: answers one line per connection with the line upper-cased, then closes.
async fn serve(listener: TcpListener) -> io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        braid::spawn(answer_one(stream)).detach();
    }
}

async fn answer_one(mut stream: TcpStream) -> io::Result<()> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while stream.read(&mut byte).await? == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    stream.write_all(&line.to_ascii_uppercase()).await?;
    stream.close().await
}

fn main() {
    let mut args = Args::from_env("tokio_crates [REQUESTS]   (default 5)");
    let requests: usize = args.next_or("REQUESTS", 5);
    args.finish();

    // One tokio runtime for the program, made before braid's loop and dropped after it.
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime starts");

    let result = braid::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let server = listener.local_addr()?;
        let serving = braid::spawn(serve(listener));

        // Every request goes to tokio at once; the braid loop awaits the handles and keeps
        // serving meanwhile. Each future given to tokio owns what it uses (`Send + 'static`).
        let handles: Vec<_> = (0..requests)
            .map(|i| tokio_rt.spawn(tokio_only_request(server, format!("request {i}"))))
            .collect();
        for (i, handle) in handles.into_iter().enumerate() {
            let answer = handle.await.map_err(io::Error::other)??;
            println!(
                "tokio asked {:?}, braid answered {answer:?}",
                format!("request {i}")
            );
        }
        serving.cancel();
        Ok::<_, io::Error>(())
    });
    drop(tokio_rt);
    if let Err(error) = result {
        eprintln!("tokio_crates: {error}");
        std::process::exit(1);
    }
    println!("{requests} requests made on tokio were answered on braid");
}
