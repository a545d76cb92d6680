//! The link checker, stage 1 (tutorial chapter 3): fetch one page on braid's event loop,
//! then spawn a task for each link on it, and print what each link gave.
//!
//! ```text
//! cargo run --example linkcheck_fetch                       # a small site inside the program
//! cargo run --example linkcheck_fetch -- http://127.0.0.1:8080/ 500   # URL TIMEOUT_MS
//! ```
//!
//! Without a URL (or with `site`) the program serves its own site on 127.0.0.1, with some
//! links broken on purpose: one not found, one that never answers, one refused. Each fetch
//! gives up after TIMEOUT_MS, so the one that never answers is reported instead of holding
//! the program up; chapter 4 is about time-outs. Exits with status 1 if the first page
//! cannot be fetched, 2 if the arguments are wrong or the site cannot be started.

use std::time::Duration;

use braid::executor::{run, spawn};
use examples::cli::Args;
use examples::links::{check, links_on, print_checked, Broken};
use examples::site::Site;

fn main() {
    let mut args = Args::from_env(
        "linkcheck_fetch [URL|site] [TIMEOUT_MS]   (defaults: a site inside the program, 2000)",
    );
    let start: String = args.next_or("URL", "site".to_string());
    let limit = Duration::from_millis(args.next_or("TIMEOUT_MS", 2000));
    // The site's server runs its own event loop on a thread of its own; dropping it stops it.
    let (_site, start) = Site::or_url(&start).unwrap_or_else(|error| args.fail(&error));
    args.finish();

    let checked = run(async {
        // One page first: this task pauses here until it comes, or the time-out passes.
        let page = check(&start, limit).await?;
        let urls = links_on(&start, &String::from_utf8_lossy(&page.body));
        // Then a task for each link: all of them are queued at once, and while one waits
        // for the network, the loop runs the others.
        let tasks: Vec<_> = urls
            .iter()
            .map(|url| {
                let url = url.clone(); // a task owns what it uses
                spawn(async move { check(&url, limit).await })
            })
            .collect();
        let mut checked = Vec::new();
        for (url, task) in urls.into_iter().zip(tasks) {
            checked.push((url, task.await.expect("a check does not panic")));
        }
        Ok::<_, Broken>(checked)
    });
    let checked = checked.unwrap_or_else(|broken| {
        eprintln!("linkcheck_fetch: {start}: {broken}");
        std::process::exit(1)
    });

    print_checked(&start, &checked);
}
