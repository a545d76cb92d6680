//! The link checker, last program (tutorial chapter 9): the crawl of `linkcheck_pool`, then
//! an analysis of every page in a process pool instead of the thread pool: how many words it
//! has, and which pages carry the same words. The analysis crashes on one page of the built-in site, on purpose; only
//! that page's job fails.
//!
//! ```text
//! cargo run --example linkcheck_report                        # a small site inside the program
//! cargo run --example linkcheck_report -- site 500 4          # URL TIMEOUT_MS WORKERS
//! ```
//!
//! The pool's workers are this program started again, so `main` begins with
//! `braid::procpool::init()`. Exits with status 2 if the arguments are wrong or the site or
//! a pool cannot be started.

use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use braid::executor::run;
use braid::procpool::ProcessPool;
use braid::threadpool::ThreadPool;
use examples::cli::Args;
use examples::crawl::{crawl, Settings};
use examples::http::Url;
use examples::links::{links_on, words_of};
use examples::site::Site;

fn main() {
    // First line of main: in a process-pool worker, this serves jobs and never returns.
    braid::procpool::init();

    let mut args = Args::from_env(
        "linkcheck_report [URL|site] [TIMEOUT_MS] [WORKERS]   (defaults: site, 2000, 2)",
    );
    let start: String = args.next_or("URL", "site".to_string());
    let limit = Duration::from_millis(args.next_or("TIMEOUT_MS", 2000));
    let workers: usize = args.next_or("WORKERS", 2);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parsers = ThreadPool::new(cores).unwrap_or_else(|error| args.fail(&error.to_string()));
    let parsers = Rc::new(parsers);
    let (_site, start) = Site::or_url(&start).unwrap_or_else(|error| args.fail(&error));
    let pool = ProcessPool::new(workers).unwrap_or_else(|error| args.fail(&error.to_string()));
    args.finish();

    let settings = Settings {
        fetchers: 4,
        queue: 8,
        limit,
    };
    // As in linkcheck_parse, with each page's text kept for the analysis.
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
    found.print("");
    analyse_pages(&pool, found.pages);
}

/// How many words `html` has outside its tags (a word: a run of letters, so numbers and
/// link paths count only by their letters), and a fingerprint of those words in order.
/// Runs in a worker process; a page holding a NUL byte makes it abort, as a native
/// library might on input it was never meant to see.
fn analyse(html: String) -> (usize, u64) {
    if html.contains('\0') {
        std::process::abort();
    }
    let words = words_of(&html);
    // FNV-1a over the words, a space between them.
    let mut fingerprint: u64 = 0xcbf2_9ce4_8422_2325;
    for word in &words {
        for byte in word.bytes().chain([b' ']) {
            fingerprint = (fingerprint ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (words.len(), fingerprint)
}

/// Analyses every page in the pool, and prints what went wrong, the pages with the same
/// words, and a total.
fn analyse_pages(pool: &ProcessPool, pages: Vec<(Url, String)>) {
    let (urls, texts): (Vec<Url>, Vec<String>) = pages.into_iter().unzip();
    // One page per job: a worker that crashes takes only its own page with it.
    let mut same: BTreeMap<u64, Vec<String>> = BTreeMap::new();
    let (mut analysed, mut words) = (0, 0);
    for (url, result) in urls.iter().zip(pool.map(analyse, texts, 1)) {
        match result {
            Ok((count, fingerprint)) => {
                analysed += 1;
                words += count;
                same.entry(fingerprint).or_default().push(url.to_string());
            }
            Err(error) => println!("could not analyse {url}: {error}"),
        }
    }
    for group in same.values_mut().filter(|group| group.len() > 1) {
        group.sort();
        println!("the same words: {}", group.join(", "));
    }
    println!(
        "analysed {analysed} of {} pages in worker processes: {words} words",
        urls.len()
    );
}
