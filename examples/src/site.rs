//! A small web site inside the process, for the link checker of the tutorial
//! (`linkcheck_*`): pages that link to each other, and links broken on purpose.
//!
//! The home page `/` links to pages 0 to 4 and to three broken links: `/about`, which is
//! not found (404), `/slow`, which does not answer for a minute, and a port where nothing
//! listens (the connection is refused). Page N links to page N+1 (so every page can be
//! reached), to one more page, and back home. Three more links are broken: page 29 links
//! to the missing page 30, page 12 to `/old/12`, and page 21 to the refused port.
//!
//! Pages 9, 19 and 29 carry the same text, and page 13 holds a NUL byte, which the analysis
//! of the last stage cannot take.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use braid::executor::sleep;

use crate::http::{Response, Url};
use crate::page_server::PageServer;

/// How many numbered pages the site has: `/page/0` to `/page/29`.
pub const PAGES: u64 = 30;

/// How long `/slow` takes to answer: longer than any link checker waits.
pub const SLOW: Duration = Duration::from_secs(60);

/// The running site; dropping it stops the server.
///
/// # Examples
///
/// ```
/// use examples::{http, links, site::Site};
///
/// let site = Site::start()?;
/// let home = http::get_blocking(&site.home())?;
/// let html = String::from_utf8(home.body).unwrap();
/// assert!(links::extract_links(&html).contains(&"/page/0".to_string()));
/// assert_eq!(http::get_blocking(&site.url("/about"))?.status, 404);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Site {
    server: PageServer,
    refused: SocketAddr,
}

impl Site {
    /// Starts the site on a free port of 127.0.0.1.
    ///
    /// # Errors
    ///
    /// If a port cannot be bound or the server's thread cannot be started.
    pub fn start() -> std::io::Result<Site> {
        // A port that was free a moment ago: nothing listens there, so connecting to it is
        // refused.
        let refused = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let server = PageServer::serve(move |request| async move {
            if request.path == "/slow" {
                sleep(SLOW).await;
            }
            page(&request.path, refused)
        })?;
        Ok(Site { server, refused })
    }

    /// Where a link checker starts, given its URL argument: the home page of a site started
    /// here if it is `site` (the site is returned too, to keep it running), else the URL.
    ///
    /// # Errors
    ///
    /// What is wrong with the URL, or why the site could not be started.
    pub fn or_url(argument: &str) -> Result<(Option<Site>, Url), String> {
        if argument == "site" {
            let site = Site::start().map_err(|error| format!("cannot start the site: {error}"))?;
            let home = site.home();
            Ok((Some(site), home))
        } else {
            let url = argument.parse().map_err(|error| format!("{error}"))?;
            Ok((None, url))
        }
    }

    /// The URL of the home page, where a crawl starts.
    pub fn home(&self) -> Url {
        self.server.url("/")
    }

    /// The URL of `path` on the site.
    pub fn url(&self, path: &str) -> Url {
        self.server.url(path)
    }

    /// The address where connections are refused, which the site links to.
    pub fn refused(&self) -> SocketAddr {
        self.refused
    }
}

/// The page at `path`: HTML for `/` and `/page/N` (N below [`PAGES`]), 404 for the rest.
fn page(path: &str, refused: SocketAddr) -> Response {
    let mut links = Vec::new();
    let (title, text) = if path == "/" {
        links.extend((0..5).map(|n| format!("/page/{n}")));
        links.extend([
            "/about".into(),
            "/slow".into(),
            format!("http://{refused}/"),
        ]);
        ("Home".to_string(), words(100))
    } else {
        let number = path.strip_prefix("/page/").and_then(|n| n.parse().ok());
        let Some(n) = number.filter(|&n: &u64| n < PAGES) else {
            return Response {
                status: 404,
                body: b"no such page\n".to_vec(),
            };
        };
        links.push(format!("/page/{}", n + 1)); // page 29 links to the missing page 30
        links.push(format!("/page/{}", (n * 7 + 3) % PAGES));
        links.push("/".into());
        match n {
            12 => links.push("/old/12".into()),
            21 => links.push(format!("http://{refused}/app")),
            _ => {}
        }
        // Pages 9, 19 and 29 are copies of one text; page 13 holds a NUL byte.
        let mut text = words(if n % 10 == 9 { 9 } else { n });
        if n == 13 {
            text.push('\0');
        }
        (format!("Page {n}"), text)
    };
    let mut html = format!(
        "<html><head><title>{title}</title></head><body>\n<h1>{title}</h1>\n<p>{text}</p>\n<ul>\n"
    );
    for link in &links {
        // `write!` to a String cannot fail.
        let _ = writeln!(html, "<li><a href=\"{link}\">{link}</a></li>");
    }
    html.push_str("</ul>\n</body></html>\n");
    Response {
        status: 200,
        body: html.into_bytes(),
    }
}

/// A few dozen words chosen by `seed`: the same seed, the same text.
fn words(seed: u64) -> String {
    const VOCABULARY: [&str; 16] = [
        "loop", "task", "thread", "process", "queue", "lock", "socket", "timer", "future", "pool",
        "worker", "event", "poll", "wake", "yield", "spawn",
    ];
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let count = 40 + seed % 20;
    (0..count)
        .map(|_| {
            // xorshift: a small, fixed sequence of pseudo-random numbers per seed.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            VOCABULARY[(state % 16) as usize]
        })
        .collect::<Vec<_>>()
        .join(" ")
}
