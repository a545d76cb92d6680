//! The tutorial holds together: every relative link and picture in a chapter leads to a file
//! that exists, every `#anchor` to a heading of the chapter it names, every chapter is in the
//! book (`SUMMARY.md`) and in the API docs (`src/tutorial.rs`), whatever features are on,
//! every picture is used, every `cargo run --example NAME` in the tutorial and the two
//! READMEs names a program of `examples/Cargo.toml`, and each of chapters 3 to 9 runs a link
//! checker program of its own.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

fn tutorial_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tutorial")
}

/// Every Markdown file of the tutorial, by file name, with its text.
fn pages() -> BTreeMap<String, String> {
    let dir = tutorial_dir();
    let mut pages = BTreeMap::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|extension| extension == "md") {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            pages.insert(name, fs::read_to_string(&path).unwrap());
        }
    }
    pages
}

/// A chapter is a file named `NN-title.md`.
fn is_chapter(name: &str) -> bool {
    name.len() > 3 && name.as_bytes()[..2].iter().all(u8::is_ascii_digit) && &name[2..3] == "-"
}

/// The lines of `text` that are prose, with their line numbers: not inside a fenced code block.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut in_code = false;
    let mut prose = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code {
            prose.push((index + 1, line));
        }
    }
    prose
}

/// `line` without its inline code spans, where `](` means nothing.
fn without_code_spans(line: &str) -> String {
    line.split('`').step_by(2).collect::<Vec<_>>().join(" ")
}

/// Every link and image target on a prose line: the text between `](` and `)`.
fn link_targets(text: &str) -> Vec<(usize, String)> {
    let mut targets = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_code_spans(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            targets.push((number, after[..end].to_owned()));
            rest = &after[end..];
        }
    }
    targets
}

/// The anchor mdBook gives a heading: lower case, spaces to `-`, other punctuation than `-`
/// and `_` dropped. A heading met again gets `-1`, `-2`, ... after it.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut anchors = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let Some(title) = line.strip_prefix('#') else {
            continue;
        };
        let title = title.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue; // `#hashtag`, not a heading
        }
        let id: String = title
            .trim()
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
                c if c.is_whitespace() => Some('-'),
                _ => None,
            })
            .collect();
        let count = seen.entry(id.clone()).or_insert(0);
        anchors.insert(if *count == 0 {
            id.clone()
        } else {
            format!("{id}-{count}")
        });
        *count += 1;
    }
    anchors
}

#[test]
fn links_and_pictures_lead_somewhere() {
    let pages = pages();
    let dir = tutorial_dir();
    let mut broken = Vec::new();
    for (name, text) in &pages {
        for (line, target) in link_targets(text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue; // outside the book: not checked here
            }
            let (file, anchor) = match target.split_once('#') {
                Some((file, anchor)) => (file, Some(anchor)),
                None => (target.as_str(), None),
            };
            let file = if file.is_empty() { name.as_str() } else { file };
            if !dir.join(file).is_file() {
                broken.push(format!(
                    "{name}:{line}: `{target}`: there is no file {file}"
                ));
                continue;
            }
            if let Some(anchor) = anchor {
                match pages.get(file) {
                    Some(page) if anchors(page).contains(anchor) => {}
                    Some(_) => broken.push(format!(
                        "{name}:{line}: `{target}`: {file} has no heading whose anchor is #{anchor}"
                    )),
                    None => broken.push(format!(
                        "{name}:{line}: `{target}`: an anchor into {file}, which is not a chapter"
                    )),
                }
            }
        }
    }
    assert!(
        broken.is_empty(),
        "broken links in the tutorial:\n{}",
        broken.join("\n")
    );
}

#[test]
fn every_chapter_is_in_the_book_and_in_the_api_docs() {
    let pages = pages();
    let summary = &pages["SUMMARY.md"];
    let listed: BTreeSet<String> = link_targets(summary).into_iter().map(|(_, t)| t).collect();
    let tutorial_rs =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tutorial.rs")).unwrap();
    let mut missing = Vec::new();
    for name in pages.keys().filter(|name| name.as_str() != "SUMMARY.md") {
        if !listed.contains(name) {
            missing.push(format!("{name} is not listed in SUMMARY.md"));
        }
        if is_chapter(name) && !tutorial_rs.contains(&format!("\"/{name}\"")) {
            missing.push(format!("{name} is not included by src/tutorial.rs"));
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

/// A chapter module that a feature turned off would take its examples out of `cargo test`
/// without a word. An example that needs a feature outside the defaults gates itself instead,
/// with hidden `# #[cfg(feature = "...")]` lines, and the chapter stays.
#[test]
fn no_chapter_depends_on_a_feature() {
    let tutorial_rs =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/tutorial.rs")).unwrap();
    let gated: Vec<&str> = tutorial_rs
        .lines()
        .filter(|line| line.trim_start().starts_with("#[cfg"))
        .collect();
    assert!(
        gated.is_empty(),
        "src/tutorial.rs gates chapters on features: {gated:?}; a chapter module must always \
         exist, and an example that needs a feature puts `# #[cfg(feature = \"...\")]` lines \
         in its code block instead (as chapter 9 does)"
    );
}

#[test]
fn every_picture_is_used() {
    let pages = pages();
    let used: BTreeSet<String> = pages
        .values()
        .flat_map(|text| link_targets(text))
        .map(|(_, target)| target)
        .collect();
    let mut unused = Vec::new();
    for entry in fs::read_dir(tutorial_dir().join("img")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !used.contains(&format!("img/{name}")) {
            unused.push(name);
        }
    }
    assert!(unused.is_empty(), "pictures no chapter shows: {unused:?}");
}

#[test]
fn anchors_follow_mdbook() {
    let text = "# 4. Many things\n## `gather`: all of them, in order\n```rust\n# hidden\n```\n## Time-outs\n## Time-outs\n";
    let expected = [
        "4-many-things",
        "gather-all-of-them-in-order",
        "time-outs",
        "time-outs-1",
    ];
    assert_eq!(
        anchors(text),
        expected.iter().map(|s| s.to_string()).collect()
    );
}

/// The names of the programs in the workspace's `examples/Cargo.toml`.
fn example_names() -> BTreeSet<String> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/Cargo.toml");
    let text = fs::read_to_string(&manifest).unwrap_or_else(|error| {
        panic!(
            "cannot read {}: {error}; this test checks the example names the tutorial \
             mentions against it, so run it from braid's repository",
            manifest.display()
        )
    });
    let mut names = BTreeSet::new();
    let mut in_example = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_example = line == "[[example]]";
        } else if let (true, Some(value)) = (in_example, line.strip_prefix("name = ")) {
            names.insert(value.trim_matches('"').to_owned());
        }
    }
    names
}

/// Every `--example NAME` in `text`, with its line number.
fn examples_run(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let mut rest = line;
        while let Some(at) = rest.find("--example") {
            rest = &rest[at + "--example".len()..];
            let name: String = rest
                .trim_start_matches([' ', '='])
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
                .collect();
            found.push((index + 1, name));
        }
    }
    found
}

#[test]
fn every_example_the_docs_run_exists() {
    let names = example_names();
    assert!(names.contains("tour"), "no examples found: {names:?}");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut documents: Vec<(String, String)> = pages().into_iter().collect();
    for readme in ["README.md", "examples/README.md"] {
        let text = fs::read_to_string(root.join(readme)).unwrap();
        documents.push((readme.to_owned(), text));
    }
    let mut missing = Vec::new();
    for (name, text) in &documents {
        for (line, example) in examples_run(text) {
            if !names.contains(&example) {
                missing.push(format!("{name}:{line}: there is no example {example:?}"));
            }
        }
    }
    assert!(missing.is_empty(), "{}", missing.join("\n"));
}

#[test]
fn example_names_are_read_from_each_way_of_writing_them() {
    let text = "cargo run --example tour\ncargo run --release --example=primes -- 5\n\
                `cargo run --example a_b` then `cargo run --example c`";
    let found: Vec<String> = examples_run(text).into_iter().map(|(_, n)| n).collect();
    assert_eq!(found, ["tour", "primes", "a_b", "c"]);
}

/// The link checker's stage in `text`: the `linkcheck_*` programs its section
/// "The link checker, stage N" runs, in order.
fn link_checker_stage(text: &str) -> Vec<String> {
    let Some(at) = text.find("\n## The link checker, stage ") else {
        return Vec::new();
    };
    let section = &text[at + 1..];
    let end = section[3..]
        .find("\n## ")
        .map_or(section.len(), |end| end + 3);
    let mut names: Vec<String> = examples_run(&section[..end])
        .into_iter()
        .map(|(_, name)| name)
        .filter(|name| name.starts_with("linkcheck_"))
        .collect();
    names.dedup();
    names
}

#[test]
fn the_link_checker_grows_a_program_a_chapter_from_3_to_9() {
    let names = example_names();
    let pages = pages();
    let mut seen = BTreeSet::new();
    for chapter in 3..=9 {
        let prefix = format!("{chapter:02}-");
        let (file, text) = pages
            .iter()
            .find(|(name, _)| name.starts_with(&prefix))
            .unwrap_or_else(|| panic!("no chapter {chapter}"));
        let stage = link_checker_stage(text);
        assert_eq!(
            stage.len(),
            1,
            "{file}: its link checker section should run one program of its own: {stage:?}"
        );
        let program = &stage[0];
        assert!(names.contains(program), "{file}: no example {program}");
        assert!(
            seen.insert(program.clone()),
            "{file}: {program} is an earlier chapter's program"
        );
    }
}
