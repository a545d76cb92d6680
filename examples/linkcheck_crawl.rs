//! The link checker, second program (tutorial chapters 5 and 6): crawl a whole site with a
//! fixed number of fetcher tasks fed through a bounded queue, and report every broken link.
//!
//! ```text
//! cargo run --example linkcheck_crawl                         # a small site inside the program
//! cargo run --example linkcheck_crawl -- site 8 16 500        # URL FETCHERS QUEUE TIMEOUT_MS
//! ```
//!
//! Pages on the start URL's server are read for more links; a link to another server is
//! checked, not crawled. Each URL is fetched once. Exits with status 2 if the arguments are
//! wrong or the site cannot be started.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use braid::executor::sync::Queue;
use braid::executor::{run, spawn};
use examples::cli::Args;
use examples::http::Url;
use examples::links::{check, extract_links, resolve, Broken};
use examples::site::Site;

/// A link to check, and the page it was found on.
struct Job {
    url: Url,
    on: Url,
}

/// What a fetcher found: the links on the page, or why the link is broken.
type Found = (Job, Result<Vec<Url>, Broken>);

#[derive(Default)]
struct Report {
    checked: usize,
    pages: usize,
    broken: BTreeMap<String, (Broken, Url)>,
}

fn main() {
    let mut args = Args::from_env(
        "linkcheck_crawl [URL|site] [FETCHERS] [QUEUE] [TIMEOUT_MS]   (defaults: site, 4, 8, 2000)",
    );
    let start: String = args.next_or("URL", "site".to_string());
    let fetchers: usize = args.next_or("FETCHERS", 4);
    let capacity: usize = args.next_or("QUEUE", 8);
    let limit = Duration::from_millis(args.next_or("TIMEOUT_MS", 2000));
    if fetchers == 0 || capacity == 0 {
        args.fail("FETCHERS and QUEUE must be at least 1");
    }
    let (_site, start) = match start.as_str() {
        "site" => {
            let site = Site::start().unwrap_or_else(|error| args.fail(&error.to_string()));
            let home = site.home();
            (Some(site), home)
        }
        url => (
            None,
            url.parse()
                .unwrap_or_else(|error| args.fail(&format!("{error}"))),
        ),
    };
    args.finish();

    let report = run(crawl(start, fetchers, capacity, limit));
    println!("broken links:");
    for (url, (why, on)) in &report.broken {
        println!("  {:<10} {url}  (on {on})", why.to_string());
    }
    let broken = report.broken.len();
    println!(
        "checked {} links on {} pages with {fetchers} fetchers: {} ok, {broken} broken",
        report.checked,
        report.pages,
        report.checked - broken
    );
}

async fn crawl(start: Url, fetchers: usize, capacity: usize, limit: Duration) -> Report {
    // Links handed to the fetchers: bounded, so this task waits when they are all busy.
    let work = Rc::new(Queue::<Job>::new(capacity));
    // What the fetchers found: unbounded, so a fetcher never waits to report.
    let found = Rc::new(Queue::<Found>::new(0));
    let tasks: Vec<_> = (0..fetchers)
        .map(|_| spawn(fetcher(work.clone(), found.clone(), limit)))
        .collect();

    let site = start.clone();
    let mut seen = HashSet::from([start.to_string()]);
    let mut waiting = VecDeque::from([Job {
        url: start.clone(),
        on: start,
    }]);
    let mut in_flight = 0;
    let mut report = Report::default();
    loop {
        if let Some(job) = waiting.pop_front() {
            // Waits while the queue is full: back-pressure from the fetchers.
            work.put(job).await.expect("only this task closes `work`");
            in_flight += 1;
            continue;
        }
        if in_flight == 0 {
            break; // nothing waiting, nothing being fetched: the crawl is done
        }
        let (job, result) = found.get().await.expect("`found` is never closed");
        in_flight -= 1;
        report.checked += 1;
        match result {
            // A page of another server is checked, not crawled.
            Ok(links) if (&job.url.host, job.url.port) != (&site.host, site.port) => drop(links),
            Ok(links) => {
                report.pages += 1;
                for url in links {
                    if seen.insert(url.to_string()) {
                        let on = job.url.clone();
                        waiting.push_back(Job { url, on });
                    }
                }
            }
            Err(why) => {
                report.broken.insert(job.url.to_string(), (why, job.on));
            }
        }
    }
    work.close(); // each fetcher's `get` now fails, and it ends
    for task in tasks {
        task.await.expect("a fetcher does not panic");
    }
    report
}

/// Takes links from `work` until it is closed, checks each, and reports to `found`.
async fn fetcher(work: Rc<Queue<Job>>, found: Rc<Queue<Found>>, limit: Duration) {
    while let Ok(job) = work.get().await {
        let result = check(&job.url, limit).await.map(|page| {
            let html = String::from_utf8_lossy(&page.body);
            let links = extract_links(&html);
            links.iter().filter_map(|l| resolve(&job.url, l)).collect()
        });
        found
            .put((job, result))
            .await
            .expect("`found` is never closed");
    }
}
