//! The link checker, stage 2 (tutorial chapter 4): fetch one page on braid's event loop,
//! then every link on it at once with `gather`, each with a time-out, and print what each
//! link gave, in the order of the links on the page. Stage 1, `linkcheck_fetch`, spawned a
//! task per link; `gather` drives every fetch inside the checker's one task instead.
//!
//! ```text
//! cargo run --example linkcheck_gather                       # a small site inside the program
//! cargo run --example linkcheck_gather -- http://127.0.0.1:8080/ 500   # URL TIMEOUT_MS
//! ```
//!
//! Without a URL (or with `site`) the program serves its own site on 127.0.0.1, with some
//! links broken on purpose: one not found, one that never answers, one refused. Exits with
//! status 1 if the first page cannot be fetched, 2 if the arguments are wrong or the site
//! cannot be started.

use std::time::Duration;

use braid::executor::{gather, run};
use examples::cli::Args;
use examples::links::{check, links_on, print_checked, Broken};
use examples::site::Site;

fn main() {
    let mut args = Args::from_env(
        "linkcheck_gather [URL|site] [TIMEOUT_MS]   (defaults: a site inside the program, 2000)",
    );
    let start: String = args.next_or("URL", "site".to_string());
    let limit = Duration::from_millis(args.next_or("TIMEOUT_MS", 2000));
    // The site's server runs its own event loop on a thread of its own; dropping it stops it.
    let (_site, start) = Site::or_url(&start).unwrap_or_else(|error| args.fail(&error));
    args.finish();

    let checked = run(async {
        // One page first: the task pauses here until it comes, or the time-out passes.
        let page = check(&start, limit).await?;
        let urls = links_on(&start, &String::from_utf8_lossy(&page.body));
        // Then all its links at once: one future, driving every fetch in this task, each
        // under its own time-out (inside `check`), with the results in the order of the
        // links on the page.
        let results = gather(urls.iter().map(|url| check(url, limit))).await;
        Ok::<_, Broken>(urls.into_iter().zip(results).collect::<Vec<_>>())
    });
    let checked = checked.unwrap_or_else(|broken| {
        eprintln!("linkcheck_gather: {start}: {broken}");
        std::process::exit(1)
    });

    print_checked(&start, &checked);
}
