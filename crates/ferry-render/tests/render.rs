//! Rendering directory sources made in temporary directories: what a user writes in a
//! repository, and what Ferry makes of it.

use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

use ferry_render::{
    DirectoryOptions, Limits, RenderCache, RenderError, RenderKey, Rendered, render_directory,
};
use serde_json::json;
use tempfile::TempDir;

// === fixtures ===

/// A checkout with the given files (parent directories created).
fn repo(files: &[(&str, &str)]) -> TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    for (path, content) in files {
        let full = dir.path().join(path);
        fs::create_dir_all(full.parent().expect("files live in a directory")).expect("mkdir");
        fs::write(full, content).expect("write fixture");
    }
    dir
}

fn cm(name: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n")
}

fn render(root: &Path, path: &str, opts: &DirectoryOptions) -> Result<Rendered, RenderError> {
    render_directory(root, path, opts, &Limits::default())
}

fn names(rendered: &Rendered) -> Vec<String> {
    rendered
        .objects()
        .iter()
        .map(|o| {
            o.object["metadata"]["name"]
                .as_str()
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

fn recurse() -> DirectoryOptions {
    DirectoryOptions {
        recurse: true,
        ..DirectoryOptions::default()
    }
}

// === documents and files ===

#[test]
fn multi_document_files_skip_empty_and_null_documents() {
    let text = format!(
        "---\n{}---\n# nothing here\n---\nnull\n---\n{}...\n",
        cm("a"),
        cm("b")
    );
    let dir = repo(&[("app/all.yaml", &text)]);
    let rendered = render(dir.path(), "app", &DirectoryOptions::default()).expect("renders");
    assert_eq!(names(&rendered), ["a", "b"]);
    let second = &rendered.objects()[1];
    assert_eq!(
        (second.file.as_str(), second.document, second.item),
        ("app/all.yaml", 4, None)
    );
}

#[test]
fn files_come_in_go_filepath_walk_order_and_only_manifests() {
    let dir = repo(&[
        ("b.yml", &cm("b")),
        ("a.yaml", &cm("a-file")),
        ("a/x.yaml", &cm("a-dir")),
        (
            "c.json",
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}"#,
        ),
        ("README.md", "# not a manifest"),
        ("notes.txt", "kind: nope"),
        (".git/config.yaml", "garbage: ["),
        (".hidden/x.yaml", &cm("hidden")),
    ]);
    let rendered = render(dir.path(), ".", &recurse()).expect("renders");
    assert_eq!(names(&rendered), ["a-dir", "a-file", "b", "c"]);
    assert_eq!(rendered.objects()[3].file, "c.json");
}

#[test]
fn recurse_off_reads_only_the_top_directory() {
    let dir = repo(&[
        ("app/top.yaml", &cm("top")),
        ("app/sub/deep.yaml", &cm("deep")),
    ]);
    let flat = render(dir.path(), "app", &DirectoryOptions::default()).expect("renders");
    assert_eq!(names(&flat), ["top"]);
    let deep = render(dir.path(), "./app/", &recurse()).expect("renders");
    assert_eq!(names(&deep), ["deep", "top"]);
    assert_eq!(deep.objects()[0].file, "app/sub/deep.yaml");
}

#[test]
fn include_and_exclude_match_the_path_relative_to_the_source() {
    let dir = repo(&[
        ("app/deploy.yaml", &cm("deploy")),
        ("app/service.yaml", &cm("service")),
        ("app/extra/job.yaml", &cm("job")),
        ("app/extra/secret.yaml", &cm("secret")),
    ]);
    let opts = |include: Option<&str>, exclude: Option<&str>| DirectoryOptions {
        recurse: true,
        include: include.map(str::to_string),
        exclude: exclude.map(str::to_string),
    };
    let only = |o: DirectoryOptions| names(&render(dir.path(), "app", &o).expect("renders"));
    assert_eq!(
        only(opts(Some("{deploy.yaml,extra/job.yaml}"), None)),
        ["deploy", "job"]
    );
    assert_eq!(only(opts(Some("extra/*"), None)), ["job", "secret"]);
    // `*` crosses directories, as in Argo CD.
    assert_eq!(
        only(opts(None, Some("*secret*"))),
        ["deploy", "job", "service"]
    );
    // Exclude wins over include; an empty pattern means none.
    assert_eq!(
        only(opts(Some("*.yaml"), Some("{service.yaml,extra/*}"))),
        ["deploy"]
    );
    assert_eq!(only(opts(Some(""), Some(""))).len(), 4);
    match render(dir.path(), "app", &opts(Some("{a,b"), None)) {
        Err(RenderError::InvalidPattern {
            option: "include", ..
        }) => {}
        other => panic!("expected InvalidPattern, got {other:?}"),
    }
}

#[test]
fn lists_expand_into_their_items() {
    let list = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: one}\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: two}\n---\napiVersion: v1\nkind: ServiceList\nitems: null\n";
    let dir = repo(&[("list.yaml", list)]);
    let rendered = render(dir.path(), "", &DirectoryOptions::default()).expect("renders");
    assert_eq!(names(&rendered), ["one", "two"]);
    assert_eq!(rendered.objects()[1].item, Some(1));
    assert_eq!(rendered.objects()[1].object["kind"], "Secret");
}

#[test]
fn json_files_hold_one_object_or_list() {
    let dir = repo(&[
        (
            "a.json",
            r#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"data":{"ratio":"1.0","n":1.0}}"#,
        ),
        ("null.json", "null"),
    ]);
    let rendered = render(dir.path(), ".", &DirectoryOptions::default()).expect("renders");
    assert_eq!(rendered.len(), 1);
    assert_eq!(
        rendered.objects()[0].object["data"],
        json!({"ratio": "1.0", "n": 1.0})
    );

    let two = repo(&[("two.json", r#"{"a":1} {"b":2}"#)]);
    assert!(matches!(
        render(two.path(), ".", &DirectoryOptions::default()),
        Err(RenderError::Parse { .. })
    ));
    let array = repo(&[("arr.json", "[1]")]);
    assert!(matches!(
        render(array.path(), ".", &DirectoryOptions::default()),
        Err(RenderError::NotAnObject {
            found: "a sequence",
            ..
        })
    ));
}

// === YAML as Kubernetes tools read it ===

#[test]
fn yaml_11_booleans_octal_and_numbers_match_go_yaml_v2() {
    let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  hostNetwork: yes\n  enableServiceLinks: Off\n  automount: n\n  notBool: yEs\n  quoted: \"on\"\n  volumes:\n  - secret:\n      defaultMode: 0644\n      decimal: 0o17\n      hex: 0x1F\n      float: 1e3\n      half: .5\n      big: 18446744073709551615\n      date: 2024-01-02\n";
    let dir = repo(&[("pod.yaml", text)]);
    let rendered = render(dir.path(), ".", &DirectoryOptions::default()).expect("renders");
    let spec = &rendered.objects()[0].object["spec"];
    assert_eq!(spec["hostNetwork"], json!(true));
    assert_eq!(spec["enableServiceLinks"], json!(false));
    assert_eq!(spec["automount"], json!(false));
    assert_eq!(spec["notBool"], json!("yEs"));
    assert_eq!(spec["quoted"], json!("on"));
    assert_eq!(
        spec["volumes"][0]["secret"],
        json!({"defaultMode": 420, "decimal": 15, "hex": 31, "float": 1000, "half": 0.5,
               "big": 1.8446744073709552e19, "date": "2024-01-02"})
    );
}

#[test]
fn duplicate_keys_are_refused_naming_file_document_and_line() {
    let text = format!(
        "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: 1\n  a: 2\n",
        cm("ok")
    );
    let dir = repo(&[("dup.yaml", &text)]);
    match render(dir.path(), ".", &DirectoryOptions::default()) {
        Err(RenderError::Parse {
            file,
            document,
            line,
            column,
            message,
        }) => {
            assert_eq!(
                (file.as_str(), document, line, column),
                ("dup.yaml", 2, 12, 3)
            );
            assert!(message.contains("duplicate key \"a\""), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
}

#[test]
fn billion_laughs_fails_fast_with_a_clear_error() {
    let mut bomb = String::from(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\nl0: &l0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "l{i}: &l{i} [*l{p},*l{p},*l{p},*l{p},*l{p},*l{p},*l{p},*l{p},*l{p},*l{p}]\n"
        ));
    }
    let dir = repo(&[("bomb.yaml", &bomb)]);
    let started = Instant::now();
    let result = render(dir.path(), ".", &DirectoryOptions::default());
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    match result {
        Err(RenderError::Parse { file, message, .. }) => {
            assert_eq!(file, "bomb.yaml");
            assert!(message.contains("excessive aliasing"), "{message}");
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    // The render-wide budget stops many small expansions too.
    let limits = Limits {
        max_alias_nodes: 5,
        ..Limits::default()
    };
    let anchors = format!(
        "{}data: &d {{a: x, b: y}}\nextra:\n  one: *d\n  two: *d\n",
        cm("a")
    );
    let small = repo(&[("a.yaml", &anchors)]);
    assert!(
        render_directory(
            small.path(),
            ".",
            &DirectoryOptions::default(),
            &Limits::default()
        )
        .is_ok()
    );
    let err = render_directory(small.path(), ".", &DirectoryOptions::default(), &limits)
        .expect_err("over budget");
    assert!(err.to_string().contains("limit of 5 nodes"), "{err}");
}

#[test]
fn garbage_and_objects_without_names_are_errors() {
    let garbage = repo(&[("junk.yaml", "key: [unclosed\n  - {{{\n")]);
    match render(garbage.path(), ".", &DirectoryOptions::default()) {
        Err(RenderError::Parse {
            file,
            document: 1,
            line,
            ..
        }) => {
            assert_eq!(file, "junk.yaml");
            assert!(line >= 1);
        }
        other => panic!("expected a parse error, got {other:?}"),
    }
    let binary = repo(&[("bin.yaml", "\u{0}\u{1}")]);
    assert!(render(binary.path(), ".", &DirectoryOptions::default()).is_err());
    let invalid = tempfile::tempdir().expect("temp dir");
    fs::write(invalid.path().join("latin1.yaml"), b"name: caf\xe9\n").expect("write");
    match render(invalid.path(), ".", &DirectoryOptions::default()) {
        Err(RenderError::Parse {
            message,
            line: 1,
            column: 10,
            ..
        }) => assert!(message.contains("UTF-8")),
        other => panic!("expected a UTF-8 error, got {other:?}"),
    }
    let nameless = repo(&[(
        "x.yaml",
        &format!(
            "{}---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{}}\n",
            cm("ok")
        ),
    )]);
    match render(nameless.path(), ".", &DirectoryOptions::default()) {
        Err(err @ RenderError::MissingField { .. }) => {
            assert_eq!(
                err.to_string(),
                "x.yaml: document 2: object has no metadata.name (apiVersion, kind and metadata.name are required)"
            );
        }
        other => panic!("expected MissingField, got {other:?}"),
    }
    let scalar = repo(&[("s.yaml", "just a string\n")]);
    assert!(matches!(
        render(scalar.path(), ".", &DirectoryOptions::default()),
        Err(RenderError::NotAnObject {
            found: "a string",
            ..
        })
    ));
}

#[test]
fn empty_directory_renders_to_nothing() {
    let dir = repo(&[
        ("app/README.md", "docs only"),
        ("app/empty.yaml", "---\n# nothing\n"),
    ]);
    fs::create_dir_all(dir.path().join("void")).expect("mkdir");
    for path in ["app", "void"] {
        let rendered = render(dir.path(), path, &recurse()).expect("renders");
        assert!(rendered.is_empty());
    }
    match render(dir.path(), "missing", &recurse()) {
        Err(RenderError::NotFound { path }) => assert_eq!(path, "missing"),
        other => panic!("expected NotFound, got {other:?}"),
    }
}

// === limits ===

#[test]
fn size_and_document_limits() {
    let dir = repo(&[
        ("a.yaml", &cm("a")),
        ("b.yaml", &format!("{}---\n{}", cm("b"), cm("c"))),
    ]);
    let limits = |file: u64, total: u64, docs: usize| Limits {
        max_file_bytes: file,
        max_total_bytes: total,
        max_documents: docs,
        ..Limits::default()
    };
    let run = |l: Limits| render_directory(dir.path(), ".", &DirectoryOptions::default(), &l);
    assert!(run(limits(1000, 1000, 3)).is_ok());
    assert!(
        matches!(run(limits(60, 1000, 3)), Err(RenderError::TooLarge { file, limit: 60 }) if file == "b.yaml")
    );
    assert!(
        matches!(run(limits(1000, 100, 3)), Err(RenderError::TotalTooLarge { file, .. }) if file == "b.yaml")
    );
    assert!(
        matches!(run(limits(1000, 1000, 2)), Err(RenderError::TooManyDocuments { file, limit: 2 }) if file == "b.yaml")
    );
}

// === security ===

#[test]
fn source_paths_may_not_escape_the_repository() {
    let dir = repo(&[("app/a.yaml", &cm("a"))]);
    for path in ["..", "../app", "app/../../etc", "/etc", "/"] {
        match render(dir.path(), path, &DirectoryOptions::default()) {
            Err(RenderError::PathEscapes { path: p }) => assert_eq!(p, path),
            other => panic!("{path}: expected PathEscapes, got {other:?}"),
        }
    }
    // Climbing and coming back down inside the repository is fine.
    assert_eq!(
        names(&render(dir.path(), "app/../app", &DirectoryOptions::default()).expect("renders")),
        ["a"]
    );
}

#[cfg(unix)]
#[test]
fn symlinks_inside_are_followed_and_outside_refused() {
    use std::os::unix::fs::symlink;

    let outside = repo(&[("secret.yaml", &cm("stolen"))]);
    let dir = repo(&[
        ("shared/base.yaml", &cm("base")),
        ("app/own.yaml", &cm("own")),
    ]);
    symlink("../shared/base.yaml", dir.path().join("app/linked.yaml")).expect("symlink");
    symlink("../shared", dir.path().join("app/sharedDir")).expect("symlink");
    let rendered = render(dir.path(), "app", &recurse()).expect("renders");
    assert_eq!(names(&rendered), ["base", "own", "base"]);
    assert_eq!(rendered.objects()[0].file, "app/linked.yaml");
    assert_eq!(rendered.objects()[2].file, "app/sharedDir/base.yaml");

    symlink(
        outside.path().join("secret.yaml"),
        dir.path().join("app/evil.yaml"),
    )
    .expect("symlink");
    match render(dir.path(), "app", &DirectoryOptions::default()) {
        Err(err @ RenderError::SymlinkEscapes { .. }) => {
            let RenderError::SymlinkEscapes { link, .. } = &err else {
                unreachable!()
            };
            assert_eq!(link, "app/evil.yaml");
            assert!(err.to_string().contains("app/evil.yaml"));
        }
        other => panic!("expected SymlinkEscapes, got {other:?}"),
    }
    fs::remove_file(dir.path().join("app/evil.yaml")).expect("rm");

    // A directory link out of the repository, as a source path or inside the walk.
    symlink(outside.path(), dir.path().join("elsewhere")).expect("symlink");
    assert!(
        matches!(render(dir.path(), "elsewhere", &DirectoryOptions::default()),
        Err(RenderError::SymlinkEscapes { link, .. }) if link == "elsewhere")
    );
    symlink(outside.path(), dir.path().join("app/out")).expect("symlink");
    assert!(matches!(render(dir.path(), "app", &recurse()),
        Err(RenderError::SymlinkEscapes { link, .. }) if link == "app/out"));
    fs::remove_file(dir.path().join("app/out")).expect("rm");

    // Dangling links: outside refused, inside skipped; loops refused.
    symlink("/nonexistent/x.yaml", dir.path().join("app/gone.yaml")).expect("symlink");
    assert!(matches!(
        render(dir.path(), "app", &recurse()),
        Err(RenderError::SymlinkEscapes { .. })
    ));
    fs::remove_file(dir.path().join("app/gone.yaml")).expect("rm");
    symlink("missing.yaml", dir.path().join("app/gone.yaml")).expect("symlink");
    assert_eq!(
        render(dir.path(), "app", &recurse())
            .expect("renders")
            .len(),
        3
    );
    symlink(".", dir.path().join("app/loop")).expect("symlink");
    assert!(
        matches!(render(dir.path(), "app", &recurse()), Err(RenderError::SymlinkLoop { link }) if link == "app/loop")
    );
}

// === hash and cache ===

#[test]
fn content_hash_changes_only_with_the_objects() {
    let a = repo(&[(
        "x.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v, j: w}\n",
    )]);
    let b = repo(&[(
        "renamed.yml",
        "# reformatted\nkind: ConfigMap\napiVersion: v1\nmetadata:\n  name: a\ndata:\n  j: w\n  k: v\n",
    )]);
    let c = repo(&[(
        "x.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v, j: changed}\n",
    )]);
    let hash = |d: &TempDir| {
        render(d.path(), ".", &DirectoryOptions::default())
            .expect("renders")
            .content_hash()
            .to_string()
    };
    assert_eq!(hash(&a), hash(&b));
    assert_ne!(hash(&a), hash(&c));
    assert!(hash(&a).starts_with("sha256:") && hash(&a).len() == 7 + 64);
}

#[test]
fn cache_renders_once_per_key() {
    let dir = repo(&[("app/a.yaml", &cm("a"))]);
    let cache = RenderCache::new(8);
    let key = |commit: &str, recurse: bool| {
        RenderKey::new(
            "https://git.example/r.git",
            commit,
            "app",
            DirectoryOptions {
                recurse,
                ..Default::default()
            },
        )
    };
    let renders = std::cell::Cell::new(0);
    let get = |k: RenderKey| {
        let opts = k.options.clone();
        cache
            .get_or_render(k, || {
                renders.set(renders.get() + 1);
                render(dir.path(), "app", &opts)
            })
            .expect("renders")
    };
    let first = get(key("c1", false));
    let again = get(key("c1", false));
    assert!(std::sync::Arc::ptr_eq(&first, &again));
    get(key("c1", true));
    get(key("c2", false));
    get(key("c2", false));
    assert_eq!(renders.get(), 3);
    let stats = cache.stats();
    assert_eq!((stats.hits, stats.misses, stats.entries), (2, 3, 3));
}

#[test]
fn symlink_error_shows_link_as_written() {
    let dir = repo(&[("app/own.yaml", &cm("own"))]);
    // Resolved, this is `/proc/<pid>/environ` of the process that resolves it.
    std::os::unix::fs::symlink("/proc/self/environ", dir.path().join("app/env.yaml"))
        .expect("symlink");
    let err = render(dir.path(), "app", &DirectoryOptions::default()).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "symlink \"app/env.yaml\" points outside the repository (to \"/proc/self/environ\"); refused"
    );
}
