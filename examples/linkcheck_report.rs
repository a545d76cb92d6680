//! The link checker, last program (tutorial chapter 9): the crawl of `linkcheck_parse`, then
//! an analysis of every page in a process pool: how many words it has, and which pages carry
//! the same words. The analysis crashes on one page of the built-in site, on purpose; only
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

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::rc::Rc;
use std::time::Duration;

use braid::executor::sync::Queue;
use braid::executor::{run, spawn};
use braid::procpool::ProcessPool;
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

/// What a fetcher found: the page's text and links, or why the link is broken.
type Found = (Job, Result<(String, Vec<Url>), Broken>);

#[derive(Default)]
struct Report {
    checked: usize,
    broken: BTreeMap<String, (Broken, Url)>,
    /// Each page of the site that answered, and its body as text.
    pages: Vec<(Url, String)>,
}

/// The crawl's settings, fixed here: `linkcheck_parse` takes them as arguments.
const FETCHERS: usize = 4;
const QUEUE: usize = 8;

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

    let report = run(crawl(start, limit, Rc::new(parsers)));
    println!("broken links:");
    for (url, (why, on)) in &report.broken {
        println!("  {:<10} {url}  (on {on})", why.to_string());
    }
    let broken = report.broken.len();
    println!(
        "checked {} links on {} pages: {} ok, {broken} broken",
        report.checked,
        report.pages.len(),
        report.checked - broken
    );
    let pool = ProcessPool::new(workers).unwrap_or_else(|error| fail(&error));
    analyse_pages(&pool, report.pages);
}

fn fail(error: &dyn std::fmt::Display) -> ! {
    eprintln!("linkcheck_report: {error}");
    std::process::exit(2)
}

async fn crawl(start: Url, limit: Duration, parsers: Rc<ThreadPool>) -> Report {
    // Links handed to the fetchers: bounded, so this task waits when they are all busy.
    let work = Rc::new(Queue::<Job>::new(QUEUE));
    // What the fetchers found: unbounded, so a fetcher never waits to report.
    let found = Rc::new(Queue::<Found>::new(0));
    let tasks: Vec<_> = (0..FETCHERS)
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
            Ok(page) if (&job.url.host, job.url.port) != (&site.host, site.port) => drop(page),
            Ok((text, links)) => {
                report.pages.push((job.url.clone(), text));
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
                let text = String::from_utf8_lossy(&page.body).into_owned();
                let parsed = parsers.submit(move || {
                    let links = links_on(&base, &text);
                    (text, links)
                });
                Ok(parsed.await.expect("finding links does not panic"))
            }
            Err(why) => Err(why),
        };
        found
            .put((job, result))
            .await
            .expect("`found` is never closed");
    }
}

/// The links on the page at `base` whose HTML is `html`, as URLs.
fn links_on(base: &Url, html: &str) -> Vec<Url> {
    let links = extract_links(html);
    links.iter().filter_map(|l| resolve(base, l)).collect()
}

/// How many words `html` has outside its tags (a word: a run of letters, so numbers and
/// link paths count only by their letters), and a fingerprint of those words in order.
/// Runs in a worker process; a page holding a NUL byte makes it abort, as a native
/// library might on input it was never meant to see.
fn analyse(html: String) -> (usize, u64) {
    if html.contains('\0') {
        std::process::abort();
    }
    let mut in_tag = false;
    let visible: String = html
        .chars()
        .map(|c| match c {
            '<' | '>' => {
                in_tag = c == '<';
                ' '
            }
            c if in_tag || !c.is_ascii_alphabetic() => ' ',
            c => c.to_ascii_lowercase(),
        })
        .collect();
    // FNV-1a over the words, a space between them.
    let mut fingerprint: u64 = 0xcbf2_9ce4_8422_2325;
    let mut words = 0;
    for word in visible.split_whitespace() {
        words += 1;
        for byte in word.bytes().chain([b' ']) {
            fingerprint = (fingerprint ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (words, fingerprint)
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
