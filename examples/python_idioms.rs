//! The Python idioms of chapter 12 that a newcomer reaches for first, each done the braid way
//! and checked. Every line it prints names the Python it stands for.
//!
//! ```text
//! cargo run --example python_idioms
//! ```

use std::io;
use std::time::Duration;

use braid::executor::net::{TcpListener, TcpStream};
use braid::procpool::ProcessPool;
use braid::threadpool::ThreadPool;
use futures::StreamExt;

fn square(x: u64) -> u64 {
    x * x
}

async fn fetch_name() -> String {
    braid::sleep(Duration::from_millis(2)).await;
    "braid".to_owned()
}

async fn count_letters() -> usize {
    5
}

/// A task whose body returns `io::Result` and awaits a timeout: the nesting `??` removes.
async fn read_greeting() -> io::Result<String> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = braid::spawn(async move {
        let (stream, _) = listener.accept().await?;
        stream.send_all(b"hello").await
    });
    let client = TcpStream::connect(addr).await?;
    let mut buf = [0u8; 5];
    let mut filled = 0;
    while filled < buf.len() {
        let n = braid::timeout(Duration::from_secs(30), client.recv(&mut buf[filled..])).await??;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
    }
    server.await??;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

#[braid::main(blocking_threads = 8, slow_poll_threshold = "50ms")]
async fn main() -> io::Result<()> {
    // a, b = await asyncio.gather(fetch_name(), count_letters())
    let (name, letters) = braid::join!(fetch_name(), count_letters());
    assert_eq!((name.as_str(), letters), ("braid", 5));
    println!("asyncio.gather of two types: ({name:?}, {letters})");

    // await asyncio.gather(...) raising its first exception
    let failed: Result<(u8, u8), String> =
        braid::try_join!(async { Ok(1) }, async { Err("no".to_owned()) });
    assert_eq!(failed, Err("no".to_owned()));
    println!("asyncio.gather raising the first error: {failed:?}");

    // for fut in asyncio.as_completed(tasks): i = tasks.index(fut)
    let tasks: Vec<_> = [30u64, 1, 15]
        .into_iter()
        .map(|ms| braid::spawn(async move { braid::sleep(Duration::from_millis(ms)).await }))
        .collect();
    let mut seen = Vec::new();
    let mut stream = braid::as_completed(tasks);
    while let Some((i, result)) = stream.next().await {
        result.expect("the task ran");
        seen.push(i);
    }
    seen.sort_unstable();
    assert_eq!(seen, [0, 1, 2]);
    println!("asyncio.as_completed with each task's index: all 3 came back");

    // await task, where the coroutine may raise OSError or time out
    let greeting = braid::spawn(read_greeting()).flatten().await?;
    assert_eq!(greeting, "hello");
    println!("await task raising OSError, without nesting: {greeting:?}");

    // The pools' own calls (`map`, `join_timeout`, their `as_completed`) block the calling
    // thread, as Python's do: from async code they go to a blocking thread, never the loop's.
    let pools = braid::spawn_blocking(pool_idioms)
        .await
        .expect("the pool idioms ran");
    pools?;
    Ok(())
}

/// The concurrent.futures idioms, on a thread of their own.
fn pool_idioms() -> io::Result<()> {
    // with ThreadPoolExecutor() as ex: results = list(ex.map(f, items))
    let threads = ThreadPool::new(2).map_err(io::Error::other)?;
    let squares: Vec<u64> = threads
        .map(square, 1..=5u64)
        .map(|result| result.expect("square does not panic"))
        .collect();
    assert_eq!(squares, [1, 4, 9, 16, 25]);
    println!("ThreadPoolExecutor.map, collected: {squares:?}");

    // future.result(timeout=t) on a thread-pool future and a process-pool future alike
    let processes = ProcessPool::new(2)?;
    let mut on_thread = threads.submit(|| square(6));
    let mut on_process = processes.submit(square, 7);
    let from_thread = loop {
        if let Some(result) = on_thread.join_timeout(Duration::from_millis(10)) {
            break result.expect("square does not panic");
        }
    };
    let from_process = loop {
        if let Some(result) = on_process.join_timeout(Duration::from_millis(10)) {
            break result.expect("square does not fail");
        }
    };
    assert_eq!((from_thread, from_process), (36, 49));
    println!("future.result(timeout) on both pools: {from_thread} and {from_process}");

    // for fut in as_completed(fs): i = fs[fut]   (concurrent.futures, process pool)
    let handles: Vec<_> = (1..=4u64).map(|x| processes.submit(square, x)).collect();
    let mut by_index = [0u64; 4];
    for (i, result) in braid::threadpool::as_completed(handles) {
        by_index[i] = result.expect("square does not fail");
    }
    assert_eq!(by_index, [1, 4, 9, 16]);
    println!("concurrent.futures.as_completed with indices: {by_index:?}");
    Ok(())
}
