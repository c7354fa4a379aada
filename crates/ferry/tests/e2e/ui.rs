//! The web UI in a real browser (`browser.rs`: headless Chromium driven over W3C WebDriver by
//! chromedriver) against `ferry all` on the emulator. Every step waits on what the page shows
//! (the DOM polled until a deadline), never on a fixed sleep.
//!
//! With `FERRY_UI_SCREENSHOTS=1` the test also writes the screenshots of `docs/ui.md` into
//! `docs/ui/` (`scripts/ui-screenshots`).

use ferry_cluster::api_resource as ar;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;

use crate::browser::*;
use crate::world::*;

const ADMIN_TOKEN: &str = "ui-admin-token";

impl Browser {
    /// The applications the fleet table shows (rows not hidden by a filter), in order.
    async fn visible_apps(&self) -> String {
        self.js("return [...document.querySelectorAll('#fleet-table tbody tr')].filter(r => !r.hidden).map(r => r.dataset.app).join(',')")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// With `FERRY_UI_SCREENSHOTS=1`, the window as `docs/ui/<name>.png`.
    async fn screenshot(&self, name: &str) {
        if std::env::var("FERRY_UI_SCREENSHOTS").as_deref() != Ok("1") {
            return;
        }
        // Without the passing toasts; the content itself was waited for already.
        self.js("document.getElementById('toasts').replaceChildren(); return null")
            .await;
        let png = self.client.screenshot().await.expect("screenshot");
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ui");
        std::fs::create_dir_all(&dir).expect("docs/ui");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }
}

/// The quickstart's guestbook.
const DEPLOYMENT: &str = include_str!("../../quickstart-examples/guestbook/deployment.yaml");

const SERVICE: &str = include_str!("../../quickstart-examples/guestbook/service.yaml");

fn guestbook_cm(greeting: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: guestbook\ndata:\n  GREETING: {greeting}\n"
    )
}

/// The set of the quickstart: one guestbook per cluster matching `selector`, deleted with
/// its resources when the set no longer generates it.
fn guestbook_set_yaml(repo_url: &str, selector: &str) -> String {
    format!(
        "apiVersion: ferry.dev/v1alpha1
kind: ApplicationSet
metadata:
  name: guestbook
spec:
  generators:
    - clusters:
        selector:
          matchLabels:
            {selector}
  syncPolicy:
    preserveResourcesOnDeletion: false
  template:
    metadata:
      name: 'guestbook-{{{{name}}}}'
      labels:
        team: web
    spec:
      project: default
      source:
        repoURL: {repo_url}
        targetRevision: main
        path: guestbook
      destination:
        name: '{{{{name}}}}'
        namespace: guestbook
      syncPolicy:
        automated:
          prune: true
          selfHeal: true
        syncOptions:
          - CreateNamespace=true
"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fleet_in_a_browser_syncs_live_shows_the_migration_and_previews_a_set_change() {
    // Given the quickstart's world: two clusters of two generations (blue, green; both
    // env=prod), the guestbook (with a PostSync smoke test) generated on both by an
    // ApplicationSet, and billing, which runs on blue only: it has not moved to green.
    // Workloads take a moment to become ready, so that an operation can be watched.
    let files = [
        ("guestbook/deployment.yaml", DEPLOYMENT.to_owned()),
        ("guestbook/service.yaml", SERVICE.to_owned()),
        ("guestbook/configmap.yaml", guestbook_cm("hello from Git")),
        (
            "guestbook/smoke-test.yaml",
            job(
                "smoke-test",
                "busybox:1",
                "    argocd.argoproj.io/hook: PostSync\n    argocd.argoproj.io/hook-delete-policy: HookSucceeded\n",
            ),
        ),
        ("billing/settings.yaml", cm("billing", "v1")),
    ];
    let mut w = World::with_targets_stopped(
        &files,
        &[("blue", "v1.29.4"), ("green", "v1.30.2")],
        &["--ready-delay-ms", "1000", "--controller-delay-ms", "1200"],
    )
    .await;
    w.register_context_labelled(
        "blue",
        "blue",
        TOKEN,
        json!({"env": "prod", "generation": "blue"}),
    )
    .await;
    w.register_context_labelled(
        "green",
        "green",
        TOKEN,
        json!({"env": "prod", "generation": "green"}),
    )
    .await;
    // `ferry all`: the controllers and the server, under the root path /ferry/.
    let port = free_port();
    w.start_all(
        port,
        "/ferry/",
        &[
            "--admin-token".into(),
            ADMIN_TOKEN.into(),
            "--root-path".into(),
            "/ferry".into(),
        ],
    )
    .await;
    let set: Value = serde_saphyr::from_str(&guestbook_set_yaml(&w.repo_url, "env: prod"))
        .expect("the set parses");
    w.apply_mgmt(
        &ar("ferry.dev", "v1alpha1", "ApplicationSet", "applicationsets"),
        Some("ferry"),
        set,
    )
    .await;
    w.create_app_with(
        "billing",
        json!({"labels": {"team": "payments"}}),
        json!({"source": {"path": "billing"},
            "destination": {"name": "blue", "namespace": "billing"},
            "syncPolicy": {"automated": {"prune": true, "selfHeal": true}}}),
    )
    .await;

    let driver = start_driver().await;
    let b = open_browser(&driver, "light", &[]).await;
    let base = format!("http://127.0.0.1:{port}/ferry/");

    // When the UI is opened without a session, then it asks for the admin token; a wrong
    // one is refused in words, the right one signs in.
    b.goto(&base).await;
    b.until(
        30,
        "the sign-in form",
        "document.getElementById('signin-token')",
    )
    .await;
    b.until(
        10,
        "the admin password form offered",
        "!document.getElementById('signin-password-form').hidden",
    )
    .await;
    b.click("#signin-token-details summary").await;
    b.type_into("#signin-token", "not-the-token").await;
    b.click("#signin-token-submit").await;
    b.until(
        10,
        "the wrong token refused",
        "!document.getElementById('signin-error').hidden && document.getElementById('signin-error').innerText.includes('not accepted')",
    )
    .await;
    b.type_into("#signin-token", ADMIN_TOKEN).await;
    b.click("#signin-token-submit").await;
    b.until(
        10,
        "the fleet page",
        "document.getElementById('fleet-table')",
    )
    .await;

    // When the user signs out and opens a link carrying #token=..., then it signs in again
    // and the token leaves the URL.
    b.click("#signout").await;
    b.until(
        10,
        "the sign-in form again",
        "document.getElementById('signin-token')",
    )
    .await;
    b.goto(&format!("{base}#token={ADMIN_TOKEN}")).await;
    b.until(
        10,
        "the fleet page, the token gone from the URL",
        "document.getElementById('fleet-table') && !location.href.includes('token') && location.hash === '#/apps'",
    )
    .await;

    // Then both guestbooks and billing arrive, Synced and Healthy, without a reload (the
    // marker set now would not survive one).
    b.js("window.__ferryNoReload = 1; return null").await;
    b.until(
        120,
        "both guestbooks and billing Synced and Healthy",
        "['guestbook-blue', 'guestbook-green', 'billing'].every(n => { const r = document.querySelector(`#fleet-table tr[data-app='${n}']`); return r && r.dataset.sync === 'Synced' && r.dataset.health === 'Healthy'; })",
    )
    .await;
    assert_eq!(
        b.visible_apps().await,
        "billing,guestbook-blue,guestbook-green"
    );

    // When the fleet is filtered by name, cluster, label and health, then only what matches
    // shows; clearing shows all again.
    b.type_into("#f-q", "green").await;
    b.until(5, "only guestbook-green", "[...document.querySelectorAll('#fleet-table tbody tr')].filter(r => !r.hidden).map(r => r.dataset.app).join(',') === 'guestbook-green'").await;
    b.click("#f-clear").await;
    b.select("#f-cluster", "blue").await;
    b.until(5, "blue's applications", "[...document.querySelectorAll('#fleet-table tbody tr')].filter(r => !r.hidden).map(r => r.dataset.app).join(',') === 'billing,guestbook-blue'").await;
    b.type_into("#f-label", "team=web").await;
    b.until(5, "blue's web applications", "[...document.querySelectorAll('#fleet-table tbody tr')].filter(r => !r.hidden).map(r => r.dataset.app).join(',') === 'guestbook-blue'").await;
    b.select("#f-health", "Degraded").await;
    b.until(
        5,
        "no application and a word saying so",
        "document.getElementById('fleet-count').innerText.startsWith('0 of 3') && document.querySelector('.fleet .empty:not([hidden])')",
    )
    .await;
    b.click("#f-clear").await;
    b.until(5, "every application again", "[...document.querySelectorAll('#fleet-table tbody tr')].filter(r => !r.hidden).length === 3").await;
    b.screenshot("fleet").await;
    // The grid: workloads by cluster, the guestbook on both.
    b.click(".fleet .segmented button:nth-child(2)").await;
    let grid = b
        .until(
            5,
            "the guestbook on blue and green in the grid",
            "(() => { const cells = [...document.querySelectorAll('#fleet-grid td')].filter(td => td.querySelector(\"a[href='#/apps/guestbook-blue'], a[href='#/apps/guestbook-green']\")); return cells.length === 2 ? cells.map(c => c.dataset.cluster).sort().join(',') : null; })()",
        )
        .await;
    assert_eq!(grid, "blue,green");
    b.click(".fleet .segmented button:nth-child(1)").await;

    // When one guestbook is opened, then its resource tree shows each resource Synced, and
    // the Deployment and Service Healthy.
    b.click("#fleet-table a[href='#/apps/guestbook-blue']")
        .await;
    b.until(
        20,
        "the resource tree",
        "['Deployment', 'Service', 'ConfigMap'].every(k => { const li = document.querySelector(`#resources li[data-kind='${k}'][data-name='guestbook']`); return li && li.dataset.sync === 'Synced' && (k === 'ConfigMap' || li.dataset.health === 'Healthy'); }) && document.querySelector(\"#resources li[data-namespace='guestbook']\")",
    )
    .await;
    let before = b
        .until(
            30,
            "the automated sync's operation finished",
            "document.getElementById('operation').dataset.phase === 'Succeeded' && document.getElementById('operation').dataset.started",
        )
        .await;
    // Every phase the operation panel shows from now on.
    b.js("window.__phases = []; const op = document.getElementById('operation'); new MutationObserver(() => window.__phases.push(op.dataset.phase + ' ' + [...op.querySelectorAll('.steps > li')].map(li => li.dataset.phase + ':' + li.dataset.state).join(','))).observe(op, {attributes: true, childList: true}); return null").await;

    // When Sync is clicked, then the operation runs and finishes, watched live: Running with
    // its steps, the PostSync smoke test last, then Succeeded.
    b.click("#btn-sync").await;
    b.until(
        60,
        "a new operation Succeeded",
        &format!(
            "document.getElementById('operation').dataset.phase === 'Succeeded' && document.getElementById('operation').dataset.started !== {before}"
        ),
    )
    .await;
    let phases = b.js("return window.__phases").await;
    let seen: Vec<&str> = phases
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    assert!(
        seen.iter().any(|p| p.starts_with("Running")),
        "the operation was seen running: {seen:#?}"
    );
    let last = seen.last().copied().unwrap_or_default();
    assert!(
        last.starts_with("Succeeded")
            && last.contains("Sync:done")
            && last.ends_with("PostSync:done"),
        "the finished operation shows its steps done, PostSync last: {seen:#?}"
    );
    b.screenshot("application").await;

    // When Git changes, then the new revision arrives on the page by itself: synced, in the
    // history, and the page was not reloaded.
    w.commit(
        &[(
            "guestbook/configmap.yaml",
            Some(guestbook_cm("hello from the browser test")),
        )],
        "a new greeting",
    );
    let rev = String::from_utf8(
        Command::new("git")
            .args(["rev-parse", "HEAD"])
            .current_dir(&w.repo)
            .output()
            .expect("git rev-parse")
            .stdout,
    )
    .expect("utf-8")
    .trim()
    .to_owned();
    b.until(
        60,
        "the new revision synced",
        &format!(
            "document.getElementById('app-facts').dataset.revision === '{rev}' && document.querySelector(\"#history tr[data-revision='{rev}']\") && document.querySelector('#app-badges [data-status=Synced]')"
        ),
    )
    .await;
    assert_eq!(
        b.js("return window.__ferryNoReload ?? null").await,
        json!(1)
    );

    // When Rollback is asked for, then a history entry is picked in a dialog, and the
    // server's refusal (automated sync is on) is said there; Cancel closes it.
    b.click("#btn-rollback").await;
    b.until(
        5,
        "the rollback dialog with the history",
        "document.getElementById('rollback-dialog').open && document.querySelectorAll('#rollback-dialog input[name=rollback-id]').length >= 2 && document.querySelector('#rollback-dialog input[name=rollback-id]:checked')",
    )
    .await;
    b.click("#rollback-confirm").await;
    b.until(
        10,
        "the refusal in the dialog",
        "(() => { const n = document.querySelector('#rollback-dialog .notice.bad:not([hidden])'); return n && n.innerText.includes('automated sync is on'); })()",
    )
    .await;
    b.click("#rollback-dialog .actions button:not(.btn-primary)")
        .await;
    b.until(
        5,
        "the dialog closed",
        "!document.getElementById('rollback-dialog').open",
    )
    .await;
    // When Hard refresh is clicked, then the request is accepted and said in a notice.
    b.click("#btn-hard-refresh").await;
    b.until(
        10,
        "the hard refresh accepted",
        "[...document.querySelectorAll('.toast')].some(t => t.innerText.includes('refresh of guestbook-blue requested'))",
    )
    .await;

    // The clusters: both reachable, with their versions and generation labels.
    b.click("a[data-nav=clusters]").await;
    b.until(
        30,
        "blue and green reachable with their versions",
        "(() => { const row = n => document.querySelector(`tr[data-cluster='${n}']`); const ok = (n, v) => row(n) && row(n).dataset.reachable === 'true' && row(n).innerText.includes(v) && row(n).innerText.includes(`generation=${n}`); return ok('blue', 'v1.29.4') && ok('green', 'v1.30.2'); })()",
    )
    .await;
    b.screenshot("clusters").await;

    // When the migration view is opened on the label generation, then the guestbook has
    // moved to green (its blue copy safe to remove) and billing is flagged: not moved yet.
    b.click("a[data-nav=migration]").await;
    b.until(
        10,
        "the label choice",
        "document.querySelector(\"#m-label option[value='generation']\")",
    )
    .await;
    b.select("#m-label", "generation").await;
    b.until(
        30,
        "billing not moved, the guestbook moved, guestbook-blue safe to remove",
        "document.querySelector(\"tr[data-moved='false'] td[data-generation='blue'] [data-app='billing']\") && document.querySelector(\"tr[data-moved='false']\").innerText.includes('Not moved yet') && document.querySelector(\"tr[data-moved='true'] td[data-generation='green'] [data-app='guestbook-green']\") && document.querySelector(\"#safe-list [data-app='guestbook-blue']\") && !document.querySelector(\"#safe-list [data-app='billing']\")",
    )
    .await;
    assert!(
        b.js("return location.hash")
            .await
            .as_str()
            .is_some_and(|h| h.contains("label=generation")),
        "the chosen label is in the URL"
    );
    b.screenshot("migration").await;

    // When a changed ApplicationSet (green only) is pasted into the preview, then the
    // guestbook's resources would leave blue, and green's stay unchanged.
    b.click("a[data-nav=appsets]").await;
    b.click("tr[data-appset='guestbook'] a").await;
    b.until(
        20,
        "the set's policy, applications and its YAML in the editor",
        "document.getElementById('appset-policy')?.innerText === 'sync' && document.querySelector(\"#appset-apps tr[data-app='guestbook-blue']\") && document.getElementById('preview-yaml').value.includes('kind: ApplicationSet')",
    )
    .await;
    let changed = guestbook_set_yaml(&w.repo_url, "generation: green");
    b.client
        .execute(
            "const t = document.getElementById('preview-yaml'); t.focus(); t.value = arguments[0]; t.dispatchEvent(new Event('input', {bubbles: true})); return null",
            vec![json!(changed)],
        )
        .await
        .expect("paste");
    b.click("#btn-preview").await;
    b.until(
        30,
        "guestbook-blue's resources leaving blue",
        "(() => { const app = document.querySelector(\"#preview-result [data-cluster='blue'] [data-app='guestbook-blue']\"); if (!app || app.dataset.action !== 'delete') return null; const gone = [...app.querySelectorAll(\"tr[data-action='delete']\")].map(r => r.dataset.resource); return ['apps/Deployment/guestbook/guestbook', '/Service/guestbook/guestbook', '/ConfigMap/guestbook/guestbook'].every(k => gone.includes(k)); })()",
    )
    .await;
    b.until(
        5,
        "green's guestbook unchanged",
        "document.querySelector(\"#preview-result [data-cluster='green'] [data-app='guestbook-green']\")?.dataset.action === 'unchanged' && !document.querySelector(\"#preview-result [data-cluster='green'] tr[data-action='delete']\")",
    )
    .await;
    // The changed selector (line 10) at the editor's top, the result below it.
    b.js("const t = document.getElementById('preview-yaml'); t.scrollTop = 5 * parseFloat(getComputedStyle(t).lineHeight); document.getElementById('h-prev').scrollIntoView({block: 'start'}); window.scrollBy(0, -72); return null").await;
    b.screenshot("appset-preview").await;
    // Nothing was changed by the preview.
    assert!(
        w.mgmt_get(
            &ar("ferry.dev", "v1alpha1", "Application", "applications"),
            "guestbook-blue"
        )
        .await
        .is_some(),
        "the preview deleted nothing"
    );

    // When malformed YAML is previewed, then the error names its line, marked in the editor.
    b.client
        .execute(
            "const t = document.getElementById('preview-yaml'); t.value = arguments[0]; t.dispatchEvent(new Event('input', {bubbles: true})); return null",
            vec![json!(
                "apiVersion: ferry.dev/v1alpha1\nkind: ApplicationSet\nmetadata:\n  name: guestbook\nspec:\n  generators: [\n    {list: }\n  template: {\n"
            )],
        )
        .await
        .expect("paste");
    b.click("#btn-preview").await;
    let line = b
        .until(
            10,
            "the YAML error with its line",
            "document.getElementById('preview-error')?.dataset.line && document.querySelector('.gutter .err') && document.getElementById('preview-error').dataset.line",
        )
        .await;
    let line: usize = line.as_str().and_then(|l| l.parse().ok()).unwrap_or(0);
    assert!(
        (6..=9).contains(&line),
        "the error names a line of the broken part (6-9): {line}"
    );
    assert_eq!(
        b.js("return window.__ferryNoReload ?? null").await,
        json!(1)
    );
    // No script error and nothing the server's content security policy blocked.
    assert_eq!(b.js("return window.__ferryErrors").await, json!([]));

    // And in the dark: the same UI with the dark scheme, its background dark.
    let dark = open_browser(&driver, "dark", &["--force-dark-mode"]).await;
    dark.goto(&format!("{base}#token={ADMIN_TOKEN}")).await;
    dark.until(
        30,
        "the fleet, in the dark",
        "document.querySelector(\"#fleet-table tr[data-app='guestbook-green']\")",
    )
    .await;
    let luminance = dark
        .js("const m = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number); return (0.2126 * m[0] + 0.7152 * m[1] + 0.0722 * m[2]) / 255")
        .await;
    assert!(
        luminance.as_f64().is_some_and(|l| l < 0.2),
        "a dark background: {luminance}"
    );
    dark.screenshot("fleet-dark").await;
    assert_eq!(dark.js("return window.__ferryErrors").await, json!([]));
    dark.client.close().await.expect("close the dark browser");
    b.client.close().await.expect("close the browser");
}
