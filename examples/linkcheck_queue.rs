//! The link checker, stage 4 (tutorial chapter 6): crawl a whole site with a fixed number
//! of fetcher tasks fed through a bounded queue, and report every broken link. Stage 3,
//! `linkcheck_crawl`, checked a wave of links at a time, each wave waiting for its slowest
//! link and opening a connection for every link in it; here FETCHERS caps the connections,
//! and a fetcher that is done takes the next link at once.
//!
//! ```text
//! cargo run --example linkcheck_queue                         # a small site inside the program
//! cargo run --example linkcheck_queue -- site 8 16 500        # URL FETCHERS QUEUE TIMEOUT_MS
//! ```
//!
//! The crawl itself is `examples::crawl` (`src/crawl.rs`), which the later stages share:
//! one task owns the set of links seen and hands each new one to the fetchers through a
//! bounded `Queue`, and they report back through a second queue, which never holds more than
//! QUEUE + FETCHERS reports (the program prints the most it held). Pages on the start URL's
//! server are read for more links; a link to another server is checked, not crawled. Exits
//! with status 2 if the arguments are wrong or the site cannot be started.

use std::time::Duration;

use braid::executor::run;
use examples::cli::Args;
use examples::crawl::{crawl, Settings};
use examples::links::links_on;
use examples::site::Site;

fn main() {
    let mut args = Args::from_env(
        "linkcheck_queue [URL|site] [FETCHERS] [QUEUE] [TIMEOUT_MS]   (defaults: site, 4, 8, 2000)",
    );
    let start: String = args.next_or("URL", "site".to_string());
    let settings = Settings {
        fetchers: args.next_or("FETCHERS", 4),
        queue: args.next_or("QUEUE", 8),
        limit: Duration::from_millis(args.next_or("TIMEOUT_MS", 2000)),
    };
    if settings.fetchers == 0 || settings.queue == 0 {
        args.fail("FETCHERS and QUEUE must be at least 1");
    }
    let (_site, start) = Site::or_url(&start).unwrap_or_else(|error| args.fail(&error));
    args.finish();

    let found = run(crawl(start, settings, |url, page| async move {
        // The links are found right here, on the loop's thread: chapter 7 moves this out.
        let links = links_on(&url, &String::from_utf8_lossy(&page.body));
        ((), links)
    }));
    println!(
        "at most {} reports waited in `found` (QUEUE + FETCHERS = {})",
        found.most_found,
        settings.queue + settings.fetchers
    );
    found.print(&format!(" with {} fetchers", settings.fetchers));
}
