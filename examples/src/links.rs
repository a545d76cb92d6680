//! The link checker's tools (`linkcheck_*`, tutorial chapters 3 to 9): finding the links in
//! a page, turning them into URLs, and fetching a URL with a time-out.

use std::fmt;
use std::io;
use std::time::Duration;

use braid::executor::timeout;

use crate::http::{self, Page, Url};

/// The `href="..."` targets of `html`, in order, as written.
///
/// A deliberately small scanner, not an HTML parser: it knows double-quoted `href`s only.
///
/// # Examples
///
/// ```
/// let html = r#"<a href="/a">A</a> <a class="x" href="http://h:1/b">B</a> <a name="c">"#;
/// assert_eq!(examples::links::extract_links(html), ["/a", "http://h:1/b"]);
/// ```
pub fn extract_links(html: &str) -> Vec<String> {
    let mut links = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find("href=\"") {
        rest = &rest[at + "href=\"".len()..];
        let end = rest.find('"').unwrap_or(rest.len());
        links.push(rest[..end].to_string());
        rest = &rest[end..];
    }
    links
}

/// The URL a link on the page at `base` leads to: an `http://` URL as it is, a path
/// (`/a/b`) on `base`'s server; `None` for anything else (relative paths, `https://`,
/// `mailto:`), which the link checker leaves alone. A `#fragment` is dropped.
///
/// # Examples
///
/// ```
/// use examples::{http::Url, links::resolve};
///
/// let base: Url = "http://127.0.0.1:8080/page/1".parse().unwrap();
/// assert_eq!(resolve(&base, "/page/2#top").unwrap().to_string(), "http://127.0.0.1:8080/page/2");
/// assert_eq!(resolve(&base, "http://10.0.0.1/").unwrap().port, 80);
/// assert_eq!(resolve(&base, "mailto:someone@example.com"), None);
/// ```
pub fn resolve(base: &Url, link: &str) -> Option<Url> {
    let link = link.split('#').next().unwrap_or_default();
    if link.starts_with("http://") {
        link.parse().ok()
    } else if link.starts_with('/') {
        Some(Url {
            path: link.to_string(),
            ..base.clone()
        })
    } else {
        None
    }
}

/// The links of `html`, the page at `base`, that [`resolve`] turns into URLs.
///
/// # Examples
///
/// ```
/// let base: examples::http::Url = "http://127.0.0.1:8080/".parse().unwrap();
/// let urls = examples::links::links_on(&base, r#"<a href="/a">A</a> <a href="b.html">B</a>"#);
/// assert_eq!(urls, [examples::links::resolve(&base, "/a").unwrap()]);
/// ```
pub fn links_on(base: &Url, html: &str) -> Vec<Url> {
    let links = extract_links(html);
    links
        .iter()
        .filter_map(|link| resolve(base, link))
        .collect()
}

/// The words of `html` outside its tags, lower-cased, in order. A word is a run of ASCII
/// letters, so numbers and link paths count only by their letters.
///
/// # Examples
///
/// ```
/// let html = r#"<p class="x">Page 12, <a href="/page/3">see page three</a>.</p>"#;
/// assert_eq!(examples::links::words_of(html), ["page", "see", "page", "three"]);
/// ```
pub fn words_of(html: &str) -> Vec<String> {
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
    visible.split_whitespace().map(String::from).collect()
}

/// Why a link is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Broken {
    /// The server answered with this status, not 200.
    Status(u16),
    /// No answer came within the time-out.
    TimedOut,
    /// Nothing listens at the link's address.
    Refused,
    /// Any other failure, as the system or the HTTP parser described it.
    Failed(String),
}

impl fmt::Display for Broken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Broken::Status(status) => write!(f, "{status}"),
            Broken::TimedOut => f.write_str("timed out"),
            Broken::Refused => f.write_str("refused"),
            Broken::Failed(why) => f.write_str(why),
        }
    }
}

impl From<io::Error> for Broken {
    fn from(error: io::Error) -> Broken {
        match error.kind() {
            io::ErrorKind::ConnectionRefused => Broken::Refused,
            io::ErrorKind::TimedOut => Broken::TimedOut,
            _ => Broken::Failed(error.to_string()),
        }
    }
}

/// Fetches `url` on braid's event loop, giving up after `limit`: the page if the server
/// answered 200, else why the link is broken.
///
/// # Errors
///
/// A status other than 200, a time-out, a refused connection, or any other failure to fetch
/// the page, as a [`Broken`].
///
/// # Panics
///
/// Outside a running braid event loop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use examples::links::{check, Broken};
/// use examples::site::Site;
///
/// let site = Site::start()?;
/// let (about, slow) = braid::executor::run(async {
///     let about = check(&site.url("/about"), Duration::from_secs(10)).await;
///     // `/slow` answers after a minute.
///     (about, check(&site.url("/slow"), Duration::from_millis(100)).await)
/// });
/// assert_eq!(about.unwrap_err(), Broken::Status(404));
/// assert_eq!(slow.unwrap_err(), Broken::TimedOut);
/// # Ok::<(), std::io::Error>(())
/// ```
pub async fn check(url: &Url, limit: Duration) -> Result<Page, Broken> {
    // `flatten` folds the time-out into the fetch's io::Result, as an error of kind
    // TimedOut; `?` turns any io::Error into a `Broken`.
    let page = timeout(limit, http::get(url)).flatten().await?;
    match page.status {
        200 => Ok(page),
        status => Err(Broken::Status(status)),
    }
}

/// Prints the links of the page at `start` with how each one fared, then the totals: the
/// report of `linkcheck_fetch` and `linkcheck_gather`.
pub fn print_checked(start: &Url, checked: &[(Url, Result<Page, Broken>)]) {
    println!("{start}: {} links", checked.len());
    let mut broken = 0;
    for (url, result) in checked {
        match result {
            Ok(page) => println!("  ok         {url}  ({} bytes)", page.body.len()),
            Err(why) => {
                broken += 1;
                println!("  {:<10} {url}", why.to_string());
            }
        }
    }
    println!(
        "{} links: {} ok, {broken} broken",
        checked.len(),
        checked.len() - broken
    );
}
