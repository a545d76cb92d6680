//! Copies the tutorial's chapters into `OUT_DIR` with their pictures inlined, for rustdoc.
//!
//! mdBook serves `tutorial/img/` beside the chapters, but rustdoc copies no files next to the
//! pages it writes (and docs.rs shows only those pages), so a chapter's `![alt](img/x.svg)`
//! would be a broken image there. In the copy that `src/tutorial.rs` includes, each such link
//! becomes `![alt](data:image/svg+xml;base64,...)`. Nothing else in a chapter changes, so its
//! examples are tested exactly as they are written.

use std::ffi::OsStr;
use std::path::Path;
use std::{env, fs};

fn main() {
    let tutorial = Path::new("tutorial");
    println!("cargo:rerun-if-changed=tutorial");
    let out_dir = env::var_os("OUT_DIR").expect("cargo sets OUT_DIR for a build script");
    let entries = fs::read_dir(tutorial)
        .unwrap_or_else(|error| panic!("cannot list {}: {error}", tutorial.display()));
    for entry in entries {
        let path = entry.expect("a directory entry of the tutorial").path();
        if path.extension() != Some(OsStr::new("md")) {
            continue;
        }
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()));
        let copy = Path::new(&out_dir).join(path.file_name().expect("a file has a name"));
        fs::write(&copy, inline_images(&text, &path))
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", copy.display()));
    }
}

/// Replaces the target of every link into `img/` with the picture itself, as a data URI.
fn inline_images(text: &str, chapter: &Path) -> String {
    const LINK: &str = "](img/";
    let dir = chapter
        .parent()
        .expect("a chapter is in the tutorial directory");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(LINK) {
        let start = at + "](".len();
        let end = start
            + rest[start..].find(')').unwrap_or_else(|| {
                panic!("{}: a link into img/ has no closing `)`", chapter.display())
            });
        let file = &rest[start..end];
        let media_type = match Path::new(file).extension().and_then(|e| e.to_str()) {
            Some("svg") => "image/svg+xml",
            Some("png") => "image/png",
            _ => panic!("{}: {file} is neither SVG nor PNG", chapter.display()),
        };
        let bytes = fs::read(dir.join(file))
            .unwrap_or_else(|error| panic!("{}: cannot read {file}: {error}", chapter.display()));
        out.push_str(&rest[..start]);
        out.push_str("data:");
        out.push_str(media_type);
        out.push_str(";base64,");
        out.push_str(&base64(&bytes));
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// Standard base64 with padding (RFC 4648, section 4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        // Up to three bytes, high byte first, as one 24-bit number read in 6-bit digits.
        let group = chunk.iter().enumerate().fold(0u32, |group, (i, &byte)| {
            group | u32::from(byte) << (16 - 8 * i)
        });
        for digit in 0..4 {
            if digit <= chunk.len() {
                let index = (group >> (18 - 6 * digit)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}
