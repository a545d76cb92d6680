//! Fetch many web pages at once on braid's event loop with `gather`, Python's
//! `asyncio.gather(*(fetch(url) for url in urls))`.
//!
//! ```text
//! cargo run --example fetch_many                  # 50 pages from a server inside the program
//! cargo run --example fetch_many -- 10            # 10 pages from it
//! cargo run --example fetch_many -- http://127.0.0.1:8080/ http://127.0.0.1:8080/x
//! ```
//!
//! Only plain `http://` URLs. Prints the status and size of each page in the order given,
//! and exits with status 1 if any fetch failed.

use std::time::{Duration, Instant};

use braid::executor::{gather, run};
use examples::cli::Args;
use examples::http::{self, Url};
use examples::page_server::PageServer;

fn main() {
    let mut args = Args::from_env("fetch_many [PAGES | URL...]   (default: 50 in-process pages)");
    let words: Vec<String> = args.rest("URL");
    // Either one number (pages from the in-process server) or a list of URLs.
    let (server, urls) = match words.as_slice() {
        [] | [_] if words.iter().all(|w| w.parse::<usize>().is_ok()) => {
            let pages = words.first().map_or(50, |w| w.parse().unwrap_or(50));
            let server = PageServer::start(Duration::from_millis(5)).unwrap_or_else(|error| {
                eprintln!("fetch_many: cannot start the page server: {error}");
                std::process::exit(1)
            });
            let urls = (0..pages)
                .map(|i| server.url(&format!("/page/{i}")))
                .collect();
            (Some(server), urls)
        }
        _ => {
            let urls = words
                .iter()
                .map(|w| w.parse::<Url>())
                .collect::<Result<Vec<_>, _>>();
            (
                None,
                urls.unwrap_or_else(|error| args.fail(&error.to_string())),
            )
        }
    };

    let start = Instant::now();
    // Every fetch runs concurrently in this one task; the results keep the input order.
    let pages = run(async { gather(urls.iter().map(http::get)).await });
    let elapsed = start.elapsed();

    let mut failed = 0;
    for (url, page) in urls.iter().zip(&pages) {
        match page {
            Ok(page) => println!("{}  {:>7} bytes  {url}", page.status, page.body.len()),
            Err(error) => {
                failed += 1;
                println!("ERR  {error}  {url}");
            }
        }
    }
    println!(
        "fetched {} of {} pages in {:.1} ms",
        pages.len() - failed,
        pages.len(),
        elapsed.as_secs_f64() * 1000.0
    );
    drop(server);
    if failed > 0 {
        std::process::exit(1);
    }
}
