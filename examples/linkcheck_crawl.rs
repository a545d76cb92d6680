//! The link checker, stage 3 (tutorial chapter 5): crawl a whole site in waves, and report
//! every broken link. The first wave is the start page; each wave checks all its links at
//! once with `gather`, one TCP connection each, and the next wave is every link found on
//! those pages that no wave has seen yet.
//!
//! ```text
//! cargo run --example linkcheck_crawl                         # a small site inside the program
//! cargo run --example linkcheck_crawl -- http://127.0.0.1:8080/ 500   # URL TIMEOUT_MS
//! ```
//!
//! Pages on the start URL's server are read for more links; a link to another server is
//! checked, not crawled. A wave waits for its slowest link, and opens as many connections
//! at once as it has links: stage 4, `linkcheck_queue`, does better on both counts. Exits
//! with status 2 if the arguments are wrong or the site cannot be started.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use braid::executor::{gather, run};
use examples::cli::Args;
use examples::crawl::Crawl;
use examples::http::Url;
use examples::links::{check, links_on};
use examples::site::Site;

fn main() {
    let mut args = Args::from_env(
        "linkcheck_crawl [URL|site] [TIMEOUT_MS]   (defaults: a site inside the program, 2000)",
    );
    let start: String = args.next_or("URL", "site".to_string());
    let limit = Duration::from_millis(args.next_or("TIMEOUT_MS", 2000));
    let (_site, start) = Site::or_url(&start).unwrap_or_else(|error| args.fail(&error));
    args.finish();

    let (found, waves) = run(crawl_in_waves(start, limit));
    found.print(&format!(" in {waves} waves"));
}

/// Checks every link reachable from `start` on its server, a wave at a time; returns what
/// it found and the number of waves.
async fn crawl_in_waves(start: Url, limit: Duration) -> (Crawl<()>, usize) {
    let mut seen = HashSet::from([start.to_string()]);
    // The links to check, each with the page it was found on.
    let mut wave = vec![(start.clone(), start.clone())];
    let mut waves = 0;
    let mut crawl = Crawl {
        checked: 0,
        broken: BTreeMap::new(),
        pages: Vec::new(),
        most_found: 0, // no queue of reports here
    };
    while !wave.is_empty() {
        waves += 1;
        // Every link of the wave at once, each on a connection of its own; the results come
        // back in the wave's order when the last one is in.
        let results = gather(wave.iter().map(|(url, _)| check(url, limit))).await;
        let mut next = Vec::new();
        for ((url, on), result) in wave.into_iter().zip(results) {
            crawl.checked += 1;
            match result {
                // A page of another server: checked, not crawled.
                Ok(_) if (&url.host, url.port) != (&start.host, start.port) => {}
                Ok(page) => {
                    for link in links_on(&url, &String::from_utf8_lossy(&page.body)) {
                        if seen.insert(link.to_string()) {
                            next.push((link, url.clone()));
                        }
                    }
                    crawl.pages.push((url, ()));
                }
                Err(why) => {
                    crawl.broken.insert(url.to_string(), (why, on));
                }
            }
        }
        wave = next;
    }
    (crawl, waves)
}
