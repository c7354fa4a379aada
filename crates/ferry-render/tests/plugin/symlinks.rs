//! Symbolic links in the checkout a plugin works on (issue 20, item 4): a link out of the
//! checkout is never followed; it fails the run only where the plugin reads, and the message
//! shows the link and its target as written.

use std::fs;
use std::os::unix::fs::symlink;

use ferry_render::{PluginError, PluginRequest, RenderError};

use crate::support::*;

/// A plugin that reports what it sees of the rest of the repository.
fn looking_plugin(fx: &Fixture) -> ferry_render::PluginSpec {
    fx.plugin(
        "look.yaml",
        &plugin_yaml(
            "look",
            "",
            None,
            "if [ -e ../other/token ] || [ -L ../other/token ]; then seen=yes; else seen=no; fi\ncat <<EOF\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: look\ndata:\n  token-seen: \"$seen\"\n  shared: \"$(cat ../shared/values.txt)\"\nEOF\n",
        ),
    )
}

#[test]
fn symlink_outside_app_path_does_not_break_plugin_app() {
    let fx = Fixture::new(&[
        ("app/x.txt", ""),
        ("shared/values.txt", "shared-values"),
        ("other/readme.txt", ""),
    ]);
    let outside = fx.report("secret.txt");
    fs::write(&outside, "token").expect("write");
    symlink(&outside, fx.repo.path().join("other/token")).expect("symlink");
    let spec = looking_plugin(&fx);

    // The link lies outside what the application's path reads: the plugin runs, and the link
    // is not in its copy (so nothing can follow it).
    let rendered = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect("renders despite the link elsewhere in the repository");
    let data = &rendered.objects()[0].object["data"];
    assert_eq!(data["token-seen"], "no");
    assert_eq!(data["shared"], "shared-values");

    // An application whose path holds the link is refused, naming it.
    let err = fx
        .run(&spec, "other", &PluginRequest::default())
        .expect_err("the link is in what this application reads");
    assert!(
        matches!(&err, PluginError::Source { source: RenderError::SymlinkEscapes { link, .. } } if link == "other/token"),
        "{err:?}"
    );

    // So is one whose path reaches the link through a link to its directory.
    symlink("../other", fx.repo.path().join("app/other")).expect("symlink");
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("the link is reachable from the application's path");
    assert!(
        matches!(&err, PluginError::Source { source: RenderError::SymlinkEscapes { link, .. } } if link == "other/token"),
        "{err:?}"
    );
}

#[test]
fn symlink_error_shows_link_as_written() {
    let fx = Fixture::new(&[("app/x.txt", "")]);
    // Resolved, this is `/proc/<pid>/environ` of the process that resolves it.
    symlink("/proc/self/environ", fx.repo.path().join("app/env")).expect("symlink");
    let spec = fx.plugin("p.yaml", &plugin_yaml("p", "", None, &print_cm("p")));
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("refused");
    let message = err.to_string();
    assert_eq!(
        message,
        "symlink \"app/env\" points outside the repository (to \"/proc/self/environ\"); refused"
    );
    assert!(
        !message.contains(&format!("/proc/{}", std::process::id())),
        "{message}"
    );

    // A relative link that climbs out is shown as written too.
    fs::remove_file(fx.repo.path().join("app/env")).expect("rm");
    symlink("../../..", fx.repo.path().join("app/up")).expect("symlink");
    let err = fx
        .run(&spec, "app", &PluginRequest::default())
        .expect_err("refused");
    assert!(err.to_string().contains("(to \"../../..\")"), "{err}");
}
