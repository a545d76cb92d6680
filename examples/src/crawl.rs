//! The link checker's crawl (`linkcheck_queue`, `linkcheck_parse`, `linkcheck_report`;
//! tutorial chapter 6): a fixed number of fetcher tasks fed through a bounded queue by one
//! task that owns the set of links already seen.
//!
//! Why one task hands out the work: if the fetchers put the links they find straight into
//! the bounded queue, all of them could wait in `put` for room only a fetcher could make.
//! Here the fetchers report through a second queue, `found`, and the crawl never has more
//! than `queue + fetchers` links out at once (handed out and not yet reported). Each report
//! in `found` is one of those links, so `found`, bounded at that many, is never full and a
//! fetcher never waits to report: someone is always free to take work.

use std::cell::Cell;
use std::collections::{BTreeMap, HashSet, VecDeque};
use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use braid::executor::spawn;
use braid::executor::sync::Queue;

use crate::http::{Page, Url};
use crate::links::{check, Broken};

/// How a crawl goes: how many fetchers, how many links may wait for one, how long a fetch
/// may take.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The number of fetcher tasks, which caps the connections open at once.
    pub fetchers: usize,
    /// The capacity of the queue of links waiting for a fetcher.
    pub queue: usize,
    /// The time-out of each fetch.
    pub limit: Duration,
}

/// What a crawl found.
#[derive(Debug)]
pub struct Crawl<T> {
    /// How many links were checked, each once.
    pub checked: usize,
    /// The broken links, by URL: why each is broken, and the page it was found on.
    pub broken: BTreeMap<String, (Broken, Url)>,
    /// Each page of the crawled server that answered, with what the crawl's `read` made
    /// of it.
    pub pages: Vec<(Url, T)>,
    /// The most reports that waited in [`crawl`]'s `found` queue at once, measured by the
    /// fetchers as they report: never more than `queue + fetchers`. A crawl without such a
    /// queue (`linkcheck_crawl`'s, in waves) leaves it at 0.
    pub most_found: usize,
}

impl<T> Crawl<T> {
    /// Prints the broken links, sorted, and a line of totals ending in `how` (such as
    /// " with 4 fetchers").
    pub fn print(&self, how: &str) {
        println!("broken links:");
        for (url, (why, on)) in &self.broken {
            println!("  {:<10} {url}  (on {on})", why.to_string());
        }
        println!(
            "checked {} links on {} pages{how}: {} ok, {} broken",
            self.checked,
            self.pages.len(),
            self.checked - self.broken.len(),
            self.broken.len()
        );
    }
}

/// A link to check, and the page it was found on.
struct Job {
    url: Url,
    on: Url,
}

/// What a fetcher found: what `read` made of the page and its links (`None` for a page of
/// another server), or why the link is broken.
type Found<T> = (Job, Result<Option<(T, Vec<Url>)>, Broken>);

/// Checks every link reachable from `start` on its server, each once; a link to another
/// server is checked, not crawled. `read` turns each page that answered into a value of
/// the caller's and the page's links.
///
/// # Panics
///
/// Outside a running braid event loop, or if `settings` asks for no fetchers or a queue of
/// no room.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use examples::crawl::{crawl, Settings};
/// use examples::{links, site::Site};
///
/// let site = Site::start()?;
/// // Long enough for any page but `/slow`, which answers after a minute.
/// let settings = Settings { fetchers: 4, queue: 8, limit: Duration::from_secs(10) };
/// let found = braid::executor::run(crawl(site.home(), settings, |url, page| async move {
///     let html = String::from_utf8_lossy(&page.body).into_owned();
///     ((), links::links_on(&url, &html))
/// }));
/// assert_eq!((found.checked, found.pages.len(), found.broken.len()), (37, 31, 6));
/// assert!(found.most_found <= 4 + 8);
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn crawl<T, R, F>(start: Url, settings: Settings, read: R) -> Crawl<T>
where
    T: 'static,
    R: Fn(Url, Page) -> F + Clone + 'static,
    F: Future<Output = (T, Vec<Url>)> + 'static,
{
    assert!(settings.fetchers > 0 && settings.queue > 0, "{settings:?}");
    // The most links out at once: handed to the fetchers and not yet reported back.
    let most_out = settings.queue + settings.fetchers;
    // Links handed to the fetchers: at most `queue` wait here for a free fetcher.
    let work = Rc::new(Queue::<Job>::new(settings.queue));
    // What the fetchers found. Every report here is a link out, so it never holds more than
    // `most_out`, and a fetcher never waits to report.
    let found = Rc::new(Queue::<Found<T>>::new(most_out));
    let most_found = Rc::new(Cell::new(0));
    let fetchers: Vec<_> = (0..settings.fetchers)
        .map(|_| {
            let (work, found, site) = (work.clone(), found.clone(), start.clone());
            let most_found = most_found.clone();
            let read = read.clone();
            spawn(fetcher(work, found, most_found, site, settings.limit, read))
        })
        .collect();

    let mut seen = HashSet::from([start.to_string()]);
    let mut waiting = VecDeque::from([Job {
        url: start.clone(),
        on: start,
    }]);
    let mut in_flight = 0;
    let mut crawl = Crawl {
        checked: 0,
        broken: BTreeMap::new(),
        pages: Vec::new(),
        most_found: 0,
    };
    loop {
        // Hands out work only while fewer than `most_out` links are out. Then a full
        // `work` means some fetcher is busy with a link; it reports without waiting and
        // takes the next, so `put` waits at most one fetch. With `most_out` out, the crawl
        // reads `found` instead: if it kept handing out work, an unbounded `found` would
        // grow with the site, and a bounded one would fill and stop the fetchers while the
        // crawl waited in `put` for them.
        if in_flight < most_out {
            if let Some(job) = waiting.pop_front() {
                work.put(job).await.expect("only this task closes `work`");
                in_flight += 1;
                continue;
            }
        }
        if in_flight == 0 {
            break; // nothing waiting, nothing being fetched: the crawl is done
        }
        let (job, result) = found.get().await.expect("`found` is never closed");
        in_flight -= 1;
        crawl.checked += 1;
        match result {
            Ok(None) => {} // a page of another server: checked, not crawled
            Ok(Some((value, links))) => {
                for url in links {
                    if seen.insert(url.to_string()) {
                        let on = job.url.clone();
                        waiting.push_back(Job { url, on });
                    }
                }
                crawl.pages.push((job.url, value));
            }
            Err(why) => {
                crawl.broken.insert(job.url.to_string(), (why, job.on));
            }
        }
    }
    work.close(); // each fetcher's `get` now fails, and it ends
    for fetcher in fetchers {
        fetcher.await.expect("a fetcher does not panic");
    }
    crawl.most_found = most_found.get();
    crawl
}

/// Takes links from `work` until it is closed, checks each, has `read` read each page of
/// `site`'s server that answered, and reports to `found`.
async fn fetcher<T, R, F>(
    work: Rc<Queue<Job>>,
    found: Rc<Queue<Found<T>>>,
    most_found: Rc<Cell<usize>>,
    site: Url,
    limit: Duration,
    read: R,
) where
    R: Fn(Url, Page) -> F,
    F: Future<Output = (T, Vec<Url>)>,
{
    while let Ok(job) = work.get().await {
        let result = match check(&job.url, limit).await {
            Ok(_) if (&job.url.host, job.url.port) != (&site.host, site.port) => Ok(None),
            Ok(page) => Ok(Some(read(job.url.clone(), page).await)),
            Err(why) => Err(why),
        };
        found
            .put((job, result))
            .await
            .expect("`found` is never closed");
        most_found.set(most_found.get().max(found.len()));
    }
}
