//! The link checker, third program (tutorial chapters 7 and 8): the crawl of
//! `linkcheck_crawl`, with the links of each page found on a thread pool, awaited from the
//! event loop, so that reading pages never holds up the fetches.
//!
//! ```text
//! cargo run --example linkcheck_parse                         # a small site inside the program
//! cargo run --example linkcheck_parse -- site 8 16 500 2      # URL FETCHERS QUEUE TIMEOUT_MS THREADS
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
use braid::threadpool::ThreadPool;
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
        "linkcheck_parse [URL|site] [FETCHERS] [QUEUE] [TIMEOUT_MS] [THREADS]   \
         (defaults: site, 4, 8, 2000, one per core)",
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let start: String = args.next_or("URL", "site".to_string());
    let fetchers: usize = args.next_or("FETCHERS", 4);
    let capacity: usize = args.next_or("QUEUE", 8);
    let limit = Duration::from_millis(args.next_or("TIMEOUT_MS", 2000));
    let threads: usize = args.next_or("THREADS", cores);
    if fetchers == 0 || capacity == 0 || threads == 0 {
        args.fail("FETCHERS, QUEUE and THREADS must be at least 1");
    }
    let parsers = ThreadPool::new(threads).unwrap_or_else(|error| args.fail(&error.to_string()));
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

    let report = run(crawl(start, fetchers, capacity, limit, Rc::new(parsers)));
    println!("broken links:");
    for (url, (why, on)) in &report.broken {
        println!("  {:<10} {url}  (on {on})", why.to_string());
    }
    let broken = report.broken.len();
    println!(
        "checked {} links on {} pages with {fetchers} fetchers and {threads} parser threads: \
         {} ok, {broken} broken",
        report.checked,
        report.pages,
        report.checked - broken
    );
}

async fn crawl(
    start: Url,
    fetchers: usize,
    capacity: usize,
    limit: Duration,
    parsers: Rc<ThreadPool>,
) -> Report {
    // Links handed to the fetchers: bounded, so this task waits when they are all busy.
    let work = Rc::new(Queue::<Job>::new(capacity));
    // What the fetchers found: unbounded, so a fetcher never waits to report.
    let found = Rc::new(Queue::<Found>::new(0));
    let tasks: Vec<_> = (0..fetchers)
        .map(|_| spawn(fetcher(work.clone(), found.clone(), parsers.clone(), limit)))
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

/// Takes links from `work` until it is closed, checks each, has the thread pool find the
/// links on each page that answered, and reports to `found`.
async fn fetcher(
    work: Rc<Queue<Job>>,
    found: Rc<Queue<Found>>,
    parsers: Rc<ThreadPool>,
    limit: Duration,
) {
    while let Ok(job) = work.get().await {
        let result = match check(&job.url, limit).await {
            Ok(page) => {
                // Reading a page is CPU work: done here, on the loop's thread, it would hold
                // up every other fetch for as long as it takes. On the pool it runs beside
                // the loop, and this task pauses until the links come back.
                let base = job.url.clone();
                let links = parsers.submit(move || links_on(&base, &page.body)).await;
                Ok(links.expect("finding links does not panic"))
            }
            Err(why) => Err(why),
        };
        found
            .put((job, result))
            .await
            .expect("`found` is never closed");
    }
}

/// The links on the page at `base` whose body is `body`, as URLs.
fn links_on(base: &Url, body: &[u8]) -> Vec<Url> {
    let html = String::from_utf8_lossy(body);
    let links = extract_links(&html);
    links.iter().filter_map(|l| resolve(base, l)).collect()
}
