//! Code shared by braid's examples: a command-line reader, a small HTTP/1.1 server and
//! client, an in-process page server, a CPU-bound prime counter, the parallel quicksort, and the link checker's
//! site, crawl and tools.
//!
//! The examples themselves live next to this crate, one file each; see `README.md`.
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod cli;
pub mod crawl;
pub mod http;
pub mod links;
pub mod page_server;
pub mod primes;
pub mod quicksort;
pub mod site;
