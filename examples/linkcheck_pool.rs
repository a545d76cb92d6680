//! The link checker, stage 6 (tutorial chapter 8): the crawl of `linkcheck_parse`, keeping
//! each page's text, then the words of every page counted on the same thread pool with
//! `map`, which hands the pages out to the pool's threads and gives the counts back in the
//! pages' order.
//!
//! ```text
//! cargo run --example linkcheck_pool                         # a small site inside the program
//! cargo run --example linkcheck_pool -- site 500 2           # URL TIMEOUT_MS THREADS
//! ```
//!
//! Exits with status 2 if the arguments are wrong or the site or the pool cannot be started.

use std::rc::Rc;
use std::time::Duration;

use braid::executor::run;
use braid::threadpool::ThreadPool;
use examples::cli::Args;
use examples::crawl::{crawl, Settings};
use examples::links::{links_on, words_of};
use examples::site::Site;

fn main() {
    let mut args = Args::from_env(
        "linkcheck_pool [URL|site] [TIMEOUT_MS] [THREADS]   (defaults: site, 2000, one per core)",
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start: String = args.next_or("URL", "site".to_string());
    let limit = Duration::from_millis(args.next_or("TIMEOUT_MS", 2000));
    let threads: usize = args.next_or("THREADS", cores);
    if threads == 0 {
        args.fail("THREADS must be at least 1");
    }
    let pool = ThreadPool::new(threads).unwrap_or_else(|error| args.fail(&error.to_string()));
    let pool = Rc::new(pool);
    let (_site, start) = Site::or_url(&start).unwrap_or_else(|error| args.fail(&error));
    args.finish();

    let settings = Settings {
        fetchers: 4,
        queue: 8,
        limit,
    };
    // As in linkcheck_parse, with each page's text kept for the count.
    let parsers = Rc::clone(&pool);
    let found = run(crawl(start, settings, move |url, page| {
        let parsers = Rc::clone(&parsers);
        async move {
            let text = String::from_utf8_lossy(&page.body).into_owned();
            let parsed = parsers.submit(move || {
                let links = links_on(&url, &text);
                (text, links)
            });
            parsed.await.expect("finding links does not panic")
        }
    }));
    found.print(&format!(" with {threads} threads"));

    // The loop is done: from here on, plain blocking code on the main thread. `map` submits
    // the pages a few at a time and yields each count in the pages' order as it is ready.
    let mut pages = found.pages;
    pages.sort_by_key(|(url, _)| url.to_string()); // the crawl's order varies from run to run
    let (urls, texts): (Vec<_>, Vec<String>) = pages.into_iter().unzip();
    let counts: Vec<usize> = pool
        .map(|text: String| words_of(&text).len(), texts)
        .map(|count| count.expect("counting words does not panic"))
        .collect();
    let (most, url) = counts
        .iter()
        .zip(&urls)
        .max_by_key(|(count, _)| **count)
        .expect("the start page answered");
    println!(
        "counted {} words on {} pages on the thread pool; the most, {most}, on {url}",
        counts.iter().sum::<usize>(),
        urls.len()
    );
}
