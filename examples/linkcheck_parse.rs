//! The link checker, stage 5 (tutorial chapter 7): the crawl of
//! `linkcheck_queue`, with the links of each page found on a thread pool, awaited from the
//! event loop, so that reading pages never holds up the fetches.
//!
//! ```text
//! cargo run --example linkcheck_parse                         # a small site inside the program
//! cargo run --example linkcheck_parse -- site 8 16 500 2      # URL FETCHERS QUEUE TIMEOUT_MS THREADS
//! ```
//!
//! Exits with status 2 if the arguments are wrong or the site or the pool cannot be started.

use std::rc::Rc;
use std::time::Duration;

use braid::executor::run;
use braid::threadpool::ThreadPool;
use examples::cli::Args;
use examples::crawl::{crawl, Settings};
use examples::links::links_on;
use examples::site::Site;

fn main() {
    let mut args = Args::from_env(
        "linkcheck_parse [URL|site] [FETCHERS] [QUEUE] [TIMEOUT_MS] [THREADS]   \
         (defaults: site, 4, 8, 2000, one per core)",
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start: String = args.next_or("URL", "site".to_string());
    let settings = Settings {
        fetchers: args.next_or("FETCHERS", 4),
        queue: args.next_or("QUEUE", 8),
        limit: Duration::from_millis(args.next_or("TIMEOUT_MS", 2000)),
    };
    let threads: usize = args.next_or("THREADS", cores);
    if settings.fetchers == 0 || settings.queue == 0 || threads == 0 {
        args.fail("FETCHERS, QUEUE and THREADS must be at least 1");
    }
    let parsers = ThreadPool::new(threads).unwrap_or_else(|error| args.fail(&error.to_string()));
    let parsers = Rc::new(parsers);
    let (_site, start) = Site::or_url(&start).unwrap_or_else(|error| args.fail(&error));
    args.finish();

    let found = run(crawl(start, settings, move |url, page| {
        let parsers = Rc::clone(&parsers);
        async move {
            // Reading a page is CPU work: done on the loop's thread, it would hold up every
            // other fetch for as long as it takes. On the pool it runs beside the loop, and
            // this fetcher pauses until the links come back.
            let links =
                parsers.submit(move || links_on(&url, &String::from_utf8_lossy(&page.body)));
            ((), links.await.expect("finding links does not panic"))
        }
    }));
    found.print(&format!(
        " with {} fetchers and {threads} parser threads",
        settings.fetchers
    ));
}
