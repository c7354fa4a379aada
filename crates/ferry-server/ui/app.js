// Ferry's web UI: one ES module, no build step, no dependencies. It talks only to the
// server's JSON API (relative URLs, so that any --root-path works) and follows its event
// stream: nothing here polls, and nothing reloads the page.

// ---------------------------------------------------------------------------------------
// DOM helpers

/** `h("a", {href: "#/x", class: "c", onclick: f}, "text", child, [more])`. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === null || v === false) continue;
      if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
      else if (k === "class") el.className = v;
      else if (k === "value") el.value = v;
      else if (k === "checked") el.checked = Boolean(v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces `el`'s children (arrays flattened, nulls skipped). */
function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const main = () => document.getElementById("main");

function shortRev(rev) {
  return rev ? String(rev).slice(0, 7) : "";
}

function fmtTime(ts) {
  if (!ts) return "";
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return ts;
  return d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

function ago(ts) {
  if (!ts) return "";
  const s = Math.round((Date.now() - new Date(ts).getTime()) / 1000);
  if (Number.isNaN(s)) return "";
  if (s < 5) return "just now";
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

function timeEl(ts) {
  if (!ts) return h("span", { class: "muted" }, "—");
  return h("time", { datetime: ts, title: fmtTime(ts) }, ago(ts) || fmtTime(ts));
}

function repoName(url) {
  if (!url) return "";
  const tail = String(url).replace(/\/+$/, "").split("/").pop() || url;
  return tail;
}

function plural(n, one, many = `${one}s`) {
  return `${n.toLocaleString()} ${n === 1 ? one : many}`;
}

function resKey(r) {
  return `${r.group || ""}/${r.kind}/${r.namespace || ""}/${r.name}`;
}

function kindLabel(r) {
  return r.group ? `${r.kind}.${r.group}` : r.kind;
}

// ---------------------------------------------------------------------------------------
// Status badges: a glyph and a word (never colour alone).

const TONES = {
  Synced: ["ok", "✓"],
  OutOfSync: ["warn", "↻"],
  Healthy: ["ok", "♥"],
  Progressing: ["info", "◔"],
  Degraded: ["bad", "✕"],
  Missing: ["warn", "?"],
  Suspended: ["hold", "⏸"],
  Unknown: ["neutral", "?"],
  Running: ["info", "◌"],
  Terminating: ["warn", "■"],
  Succeeded: ["ok", "✓"],
  Failed: ["bad", "✕"],
  Error: ["bad", "!"],
  SyncFailed: ["bad", "✕"],
  Pruned: ["neutral", "−"],
  PruneSkipped: ["neutral", "−"],
  create: ["ok", "+"],
  update: ["info", "~"],
  delete: ["bad", "−"],
  unchanged: ["neutral", "="],
  pending: ["neutral", "…"],
  Reachable: ["ok", "●"],
  Unreachable: ["bad", "●"],
};

function badge(status, { label, title } = {}) {
  const s = status || "Unknown";
  const [tone, glyph] = TONES[s] || ["neutral", "•"];
  const running = s === "Running" || s === "Terminating";
  return h(
    "span",
    { class: `badge tone-${tone}${running ? " running" : ""}`, "data-status": s, title },
    h("span", { class: "glyph", "aria-hidden": "true" }, glyph),
    label || s,
  );
}

// ---------------------------------------------------------------------------------------
// API

class ApiError extends Error {
  constructor(status, code, message, body) {
    super(message);
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

async function api(path, { method = "GET", body, contentType } = {}) {
  const headers = { Accept: "application/json" };
  if (method !== "GET" && method !== "HEAD") headers["X-Ferry-Request"] = "1";
  let payload = body;
  if (body !== undefined && typeof body !== "string") {
    payload = JSON.stringify(body);
    headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    headers["Content-Type"] = contentType || "application/json";
  }
  let res;
  try {
    res = await fetch(`api/v1/${path}`, { method, headers, body: payload, credentials: "same-origin" });
  } catch (e) {
    throw new ApiError(0, "network", `Ferry's server did not answer (${e.message}).`);
  }
  const text = await res.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (res.status === 401 && path !== "session") {
    needSignIn();
  }
  if (!res.ok) {
    const message = data?.error?.message || text || `${res.status} ${res.statusText}`;
    throw new ApiError(res.status, data?.error?.code || String(res.status), message, data);
  }
  return data;
}

const enc = encodeURIComponent;

// ---------------------------------------------------------------------------------------
// Toasts (announced by the polite live region they live in)

function toast(message, { bad = false } = {}) {
  const box = document.getElementById("toasts");
  const t = h("div", { class: `toast${bad ? " bad" : ""}`, role: bad ? "alert" : null }, message);
  box.append(t);
  setTimeout(() => t.remove(), bad ? 9000 : 4500);
}

/** Runs `fn` with `button` busy; a failure becomes a toast. */
async function act(button, fn) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    const r = await fn();
    if (r?.message) toast(r.message);
    return r;
  } catch (e) {
    if (e.status !== 401) toast(e.message, { bad: true });
    return null;
  } finally {
    button.removeAttribute("aria-busy");
    button.disabled = false;
    current?.refreshControls?.();
  }
}

// ---------------------------------------------------------------------------------------
// Live updates: one EventSource; the page shown re-reads what changed.

const conn = { es: null, opened: 0, state: "idle" };

function setConn(state, text) {
  conn.state = state;
  const el = document.getElementById("conn");
  el.dataset.state = state;
  el.querySelector(".conn-text").textContent = text;
}

function startStream() {
  if (conn.es) conn.es.close();
  setConn("reconnecting", "Connecting…");
  const es = new EventSource("api/v1/stream");
  conn.es = es;
  es.addEventListener("open", () => {
    setConn("live", "Live");
    // Whatever happened while the stream was not open is read again.
    if (conn.opened++ > 0 || current?.loadedBeforeStream) current?.reload?.();
  });
  es.addEventListener("change", (e) => {
    let ev;
    try {
      ev = JSON.parse(e.data);
    } catch {
      return;
    }
    current?.changed?.(ev);
  });
  es.addEventListener("error", async () => {
    if (es.readyState === EventSource.CLOSED) {
      setConn("offline", "Disconnected");
      // Closed for good (e.g. 401): find out whether the session ended.
      try {
        await api("session");
        setTimeout(() => conn.es === es && startStream(), 2000);
      } catch (e) {
        if (e.status === 401) needSignIn();
        else setTimeout(() => conn.es === es && startStream(), 5000);
      }
    } else {
      setConn("reconnecting", "Reconnecting…");
    }
  });
}

/** Calls `fn(keys)` once per burst of `push(key)` calls, `ms` after the first. */
function coalesce(fn, ms = 150) {
  let keys = new Set();
  let timer = null;
  return (key) => {
    keys.add(key);
    if (timer) return;
    timer = setTimeout(() => {
      timer = null;
      const k = keys;
      keys = new Set();
      fn(k);
    }, ms);
  };
}

/** Calls `fn` at most every `ms`, the last call of a burst always made. */
function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return () => {
    const wait = last + ms - Date.now();
    if (timer) return;
    if (wait <= 0) {
      last = Date.now();
      fn();
    } else {
      timer = setTimeout(() => {
        timer = null;
        last = Date.now();
        fn();
      }, wait);
    }
  };
}

// ---------------------------------------------------------------------------------------
// Sign-in

let signedIn = false;
let signInShown = false;

async function signIn(token) {
  await api("session", { method: "POST", body: { token } });
  signedIn = true;
}

/** Who is signed in (shown in the top bar; the UI offers only what RBAC allows). */
let me = null;

function needSignIn(message) {
  signedIn = false;
  me = null;
  if (signInShown) return;
  signInShown = true;
  if (conn.es) conn.es.close();
  conn.es = null;
  setConn("offline", "Signed out");
  current?.dispose?.();
  current = null;
  document.getElementById("signout").hidden = true;
  document.getElementById("whoami").hidden = true;
  const error = h("p", { class: "notice bad", id: "signin-error", role: "alert", hidden: !message }, message || "");
  const done = () => {
    signInShown = false;
    start();
  };
  const fail = (text) => {
    error.className = "notice bad";
    error.textContent = text;
    error.hidden = false;
  };

  // The local admin's password.
  const user = h("input", { id: "signin-username", name: "username", autocomplete: "username", required: true, value: "admin" });
  const password = h("input", { id: "signin-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const passwordBtn = h("button", { class: "btn btn-primary", type: "submit", id: "signin-password-submit" }, "Sign in");
  const passwordForm = h(
    "form",
    {
      id: "signin-password-form",
      hidden: true,
      onsubmit: async (e) => {
        e.preventDefault();
        passwordBtn.disabled = true;
        error.hidden = true;
        try {
          await api("session", { method: "POST", body: { username: user.value.trim(), password: password.value } });
          signedIn = true;
          done();
        } catch (err) {
          fail(err.status === 401 ? err.message.replace(/^./, (c) => c.toUpperCase()) + "." : err.message);
          password.select();
        } finally {
          passwordBtn.disabled = false;
        }
      },
    },
    h("div", { class: "field" }, h("label", { for: "signin-username" }, "Username"), user),
    h("div", { class: "field" }, h("label", { for: "signin-password" }, "Password"), password),
    h(
      "p",
      { class: "hint" },
      "The first password of admin is in a Secret: ",
      h("code", null, "kubectl -n ferry get secret ferry-initial-admin-secret -o jsonpath='{.data.password}' | base64 -d"),
    ),
    h("div", null, passwordBtn),
  );

  // A token (the admin token, a session or a project role's API token).
  const input = h("input", { id: "signin-token", name: "token", type: "password", autocomplete: "off", required: true, "aria-describedby": "signin-hint" });
  const tokenBtn = h("button", { class: "btn", type: "submit", id: "signin-token-submit" }, "Sign in with the token");
  const tokenForm = h(
    "form",
    {
      onsubmit: async (e) => {
        e.preventDefault();
        tokenBtn.disabled = true;
        error.hidden = true;
        try {
          await signIn(input.value);
          done();
        } catch (err) {
          fail(err.status === 401 ? "That token was not accepted. Check it and try again." : err.message);
          input.select();
        } finally {
          tokenBtn.disabled = false;
        }
      },
    },
    h("div", { class: "field" }, h("label", { for: "signin-token" }, "Token"), input),
    h(
      "p",
      { class: "hint", id: "signin-hint" },
      "An API token, or the admin token: ",
      h("code", null, "kubectl -n ferry get secret ferry-admin-token -o jsonpath='{.data.token}' | base64 -d"),
    ),
    h("div", null, tokenBtn),
  );
  const tokenDetails = h("details", { id: "signin-token-details", class: "signin-token" }, h("summary", null, "Sign in with a token"), tokenForm);

  // Single sign-on: one button per provider.
  const providers = h("div", { class: "signin-providers", id: "signin-providers" });
  const back = `${location.pathname}${location.hash || ""}`;

  document.title = "Sign in · Ferry";
  fill(
    main(),
    h(
      "section",
      { class: "card signin", "aria-labelledby": "signin-title" },
      h("h1", { id: "signin-title" }, "Sign in to Ferry"),
      error,
      providers,
      passwordForm,
      tokenDetails,
    ),
  );
  api("settings")
    .then((s) => {
      for (const p of s.providers || []) {
        const a = h(
          "a",
          { class: "btn btn-primary btn-provider", id: `signin-with-${p.id}`, "data-kind": p.kind, href: `auth/login?provider=${enc(p.id)}&return=${enc(back)}` },
          `Sign in with ${p.name}`,
        );
        providers.append(a);
      }
      if (s.adminEnabled) {
        passwordForm.hidden = false;
        if (s.providers?.length) passwordForm.before(h("p", { class: "signin-or", "aria-hidden": "true" }, "or"));
        password.focus();
      } else if (!s.providers?.length) {
        tokenDetails.open = true;
        input.focus();
      } else {
        providers.querySelector("a")?.focus();
      }
    })
    .catch((e) => fail(e.message));
}

// ---------------------------------------------------------------------------------------
// Routing (the hash: #/apps, #/apps/NAME, #/appsets, #/appsets/NAME, #/clusters, #/migration)

let current = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, "");
  const [path, query = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params: new URLSearchParams(query) };
}

/** Replaces the hash's query (the filters of a page) without a navigation. */
function setHashParams(params) {
  const { parts } = parseHash();
  const q = params.toString();
  const hash = `#/${parts.map(enc).join("/")}${q ? `?${q}` : ""}`;
  if (hash !== location.hash) history.replaceState(null, "", hash);
}

function route({ focus = true } = {}) {
  if (!signedIn) return;
  const { parts, params } = parseHash();
  const [section, name] = parts;
  current?.dispose?.();
  let page;
  switch (section) {
    case "apps":
      page = name ? appPage(name) : fleetPage(params);
      break;
    case "appsets":
      page = name ? appSetPage(name) : appSetsPage();
      break;
    case "clusters":
      page = clustersPage();
      break;
    case "migration":
      page = migrationPage(params);
      break;
    default:
      history.replaceState(null, "", "#/apps");
      page = fleetPage(new URLSearchParams());
  }
  current = page;
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === (section || "apps")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  fill(main(), page.el);
  document.title = `${page.title} · Ferry`;
  page.loadedBeforeStream = conn.state !== "live";
  page.reload();
  if (focus) {
    const h1 = page.el.querySelector("h1");
    if (h1) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
}

function errorNotice(e, what) {
  return h("div", { class: "notice bad", role: "alert" }, h("strong", null, what), h("p", null, e.message));
}

// ---------------------------------------------------------------------------------------
// The fleet: every application, filterable; a list or a workloads × clusters grid.

const SYNCS = ["Synced", "OutOfSync", "Unknown"];
const HEALTHS = ["Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"];

function workloadOf(a) {
  return a.labels?.["ferry.dev/workload"] || `${repoName(a.repoURL)} ${a.path || "."} → ${a.namespace || ""}`;
}

function labelMatcher(text) {
  const terms = text
    .split(",")
    .map((t) => t.trim())
    .filter(Boolean)
    .map((t) => {
      const ne = t.indexOf("!=");
      if (ne > 0) return { k: t.slice(0, ne).trim(), v: t.slice(ne + 2).trim(), neg: true };
      const eq = t.indexOf("=");
      if (eq > 0) return { k: t.slice(0, eq).trim(), v: t.slice(eq + 1).trim().replace(/^=/, "") };
      return { k: t, v: null };
    });
  return (labels) =>
    terms.every(({ k, v, neg }) => {
      const has = Object.prototype.hasOwnProperty.call(labels || {}, k);
      if (neg) return !has || labels[k] !== v;
      return has && (v === null || labels[k] === v);
    });
}

function fleetPage(initial) {
  const rows = new Map(); // name -> {app, tr, search}
  const filt = {
    q: initial.get("q") || "",
    project: initial.get("project") || "",
    cluster: initial.get("cluster") || "",
    sync: initial.get("sync") || "",
    health: initial.get("health") || "",
    label: initial.get("label") || "",
  };
  let view = initial.get("view") === "grid" ? "grid" : "list";

  const q = h("input", { type: "search", id: "f-q", value: filt.q, placeholder: "Filter by name", autocomplete: "off" });
  const project = h("select", { id: "f-project" });
  const cluster = h("select", { id: "f-cluster" });
  const sync = h("select", { id: "f-sync" }, h("option", { value: "" }, "Any"), SYNCS.map((s) => h("option", { value: s }, s)));
  const health = h("select", { id: "f-health" }, h("option", { value: "" }, "Any"), HEALTHS.map((s) => h("option", { value: s }, s)));
  const labelList = h("datalist", { id: "f-label-list" });
  const label = h("input", { type: "text", id: "f-label", value: filt.label, placeholder: "team=web", list: "f-label-list", autocomplete: "off", spellcheck: "false" });
  sync.value = filt.sync;
  health.value = filt.health;
  const count = h("p", { class: "count", id: "fleet-count", "aria-live": "polite" });
  const clear = h("button", { type: "button", class: "btn btn-quiet", id: "f-clear" }, "Clear filters");
  const overview = h("ul", { class: "overview", "aria-label": "Status overview" });

  const listBtn = h("button", { type: "button", "aria-pressed": String(view === "list") }, "List");
  const gridBtn = h("button", { type: "button", "aria-pressed": String(view === "grid") }, "Grid by cluster");

  const tbody = h("tbody");
  const table = h(
    "table",
    { class: "fleet-table", id: "fleet-table" },
    h("caption", { class: "visually-hidden" }, "Applications"),
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        ["Application", "Project", "Cluster", "Namespace", "Sync", "Health", "Last operation", "Revision"].map((c) => h("th", { scope: "col" }, c)),
      ),
    ),
    tbody,
  );
  const listWrap = h("div", { class: "table-wrap", hidden: view !== "list" }, table);
  const gridWrap = h("div", { class: "table-wrap", id: "fleet-grid", hidden: view !== "grid" });
  const empty = h("p", { class: "empty", hidden: true });
  const problem = h("div");

  const el = h(
    "div",
    { class: "page fleet" },
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Applications"),
      h("div", { class: "segmented", role: "group", "aria-label": "View" }, listBtn, gridBtn),
      h("p", { class: "sub" }, "Every application Ferry delivers, on every cluster. Updates arrive live."),
    ),
    problem,
    h(
      "section",
      { class: "card", "aria-label": "Filters" },
      h(
        "form",
        { class: "filters", role: "search", "aria-label": "Filter applications", onsubmit: (e) => e.preventDefault() },
        h("div", { class: "field" }, h("label", { for: "f-q" }, "Name"), q),
        h("div", { class: "field" }, h("label", { for: "f-project" }, "Project"), project),
        h("div", { class: "field" }, h("label", { for: "f-cluster" }, "Cluster"), cluster),
        h("div", { class: "field" }, h("label", { for: "f-sync" }, "Sync"), sync),
        h("div", { class: "field" }, h("label", { for: "f-health" }, "Health"), health),
        h("div", { class: "field" }, h("label", { for: "f-label" }, "Labels"), label, labelList),
        clear,
        count,
      ),
      overview,
    ),
    h("section", { class: "card", "aria-label": "Applications" }, listWrap, gridWrap, empty),
  );

  function rowFor(a) {
    const tr = h(
      "tr",
      { "data-app": a.name, "data-sync": a.sync?.status || "Unknown", "data-health": a.health?.status || "Unknown" },
      h(
        "td",
        null,
        h("a", { href: `#/apps/${enc(a.name)}` }, a.name),
        a.conditions?.length
          ? h("div", { class: "conds", title: a.conditions.map((c) => `${c.type}: ${c.message}`).join("\n") }, a.conditions.map((c) => c.type).join(", "))
          : null,
      ),
      h("td", null, a.project),
      h("td", null, a.cluster || h("span", { class: "mono small" }, a.server)),
      h("td", null, a.namespace || h("span", { class: "muted" }, "—")),
      h("td", null, badge(a.sync?.status)),
      h("td", null, badge(a.health?.status, { title: a.health?.message || undefined })),
      h(
        "td",
        null,
        a.operation
          ? [badge(a.operation.phase), " ", h("span", { class: "muted small" }, timeEl(a.operation.finishedAt || a.operation.startedAt))]
          : h("span", { class: "muted" }, "—"),
      ),
      h("td", { class: "mono small", title: a.sync?.revision || "" }, shortRev(a.sync?.revision)),
    );
    return tr;
  }

  function searchText(a) {
    return a.name.toLowerCase();
  }

  function matches(a) {
    if (filt.q && !a.name.toLowerCase().includes(filt.q.toLowerCase())) return false;
    if (filt.project && a.project !== filt.project) return false;
    if (filt.cluster && a.cluster !== filt.cluster && a.server !== filt.cluster) return false;
    if (filt.sync && (a.sync?.status || "Unknown") !== filt.sync) return false;
    if (filt.health && (a.health?.status || "Unknown") !== filt.health) return false;
    if (filt.label && !labelMatcher(filt.label)(a.labels)) return false;
    return true;
  }

  function applyFilter() {
    let shown = 0;
    const lm = filt.label ? labelMatcher(filt.label) : null;
    const ql = filt.q.toLowerCase();
    for (const r of rows.values()) {
      const a = r.app;
      const ok =
        (!ql || r.search.includes(ql)) &&
        (!filt.project || a.project === filt.project) &&
        (!filt.cluster || a.cluster === filt.cluster || a.server === filt.cluster) &&
        (!filt.sync || (a.sync?.status || "Unknown") === filt.sync) &&
        (!filt.health || (a.health?.status || "Unknown") === filt.health) &&
        (!lm || lm(a.labels));
      if (r.tr.hidden === ok) r.tr.hidden = !ok;
      if (ok) shown++;
    }
    const total = rows.size;
    count.textContent = shown === total ? plural(total, "application") : `${shown.toLocaleString()} of ${plural(total, "application")}`;
    empty.hidden = shown > 0 || total === 0;
    empty.textContent = total === 0 ? "" : "No application matches these filters.";
    clear.disabled = !Object.values(filt).some(Boolean);
    if (view === "grid") renderGrid();
    for (const b of overview.querySelectorAll("button")) {
      b.setAttribute("aria-pressed", String(filt[b.dataset.field] === b.dataset.value));
    }
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(filt)) if (v) params.set(k, v);
    if (view === "grid") params.set("view", "grid");
    setHashParams(params);
  }

  function options(select, values, anyLabel) {
    const v = select.value || filt[select.id.slice(2)];
    fill(select, h("option", { value: "" }, anyLabel), [...values].sort().map((x) => h("option", { value: x }, x)));
    if (v && !values.has(v)) select.append(h("option", { value: v }, v));
    select.value = v;
  }

  function refreshChoices() {
    const projects = new Set();
    const clusters = new Set();
    const labels = new Set();
    const syncs = new Map();
    const healths = new Map();
    for (const { app: a } of rows.values()) {
      projects.add(a.project);
      clusters.add(a.cluster || a.server);
      for (const [k, v] of Object.entries(a.labels || {})) labels.add(`${k}=${v}`);
      const s = a.sync?.status || "Unknown";
      const hs = a.health?.status || "Unknown";
      syncs.set(s, (syncs.get(s) || 0) + 1);
      healths.set(hs, (healths.get(hs) || 0) + 1);
    }
    options(project, projects, "All projects");
    options(cluster, clusters, "All clusters");
    fill(labelList, [...labels].sort().map((l) => h("option", { value: l })));
    const items = [];
    for (const s of SYNCS) if (syncs.get(s)) items.push(["sync", s, syncs.get(s)]);
    for (const s of HEALTHS) if (healths.get(s)) items.push(["health", s, healths.get(s)]);
    fill(overview, 
      items.map(([field, value, n]) =>
        h(
          "li",
          null,
          h(
            "button",
            {
              type: "button",
              "data-field": field,
              "data-value": value,
              "aria-pressed": String(filt[field] === value),
              onclick: () => {
                filt[field] = filt[field] === value ? "" : value;
                (field === "sync" ? sync : health).value = filt[field];
                applyFilter();
              },
            },
            badge(value),
            h("span", { class: "n" }, n.toLocaleString()),
          ),
        ),
      ),
    );
  }

  function upsert(a) {
    const old = rows.get(a.name);
    const tr = rowFor(a);
    if (old) {
      old.tr.replaceWith(tr);
      old.tr = tr;
      old.app = a;
      old.search = searchText(a);
    } else {
      rows.set(a.name, { app: a, tr, search: searchText(a) });
      // Keep the table in name order.
      let before = null;
      for (const [n, r] of rows) if (n > a.name && (!before || n < before.app.name)) before = r;
      tbody.insertBefore(tr, before ? before.tr : null);
    }
  }

  function remove(name) {
    const r = rows.get(name);
    if (!r) return;
    r.tr.remove();
    rows.delete(name);
  }

  function renderGrid() {
    const clusters = [...new Set([...rows.values()].map((r) => r.app.cluster || r.app.server))].sort();
    const workloads = new Map();
    for (const r of rows.values()) {
      if (!matches(r.app)) continue;
      const w = workloadOf(r.app);
      if (!workloads.has(w)) workloads.set(w, new Map());
      const byCluster = workloads.get(w);
      const c = r.app.cluster || r.app.server;
      if (!byCluster.has(c)) byCluster.set(c, []);
      byCluster.get(c).push(r.app);
    }
    const body = h("tbody");
    const frag = document.createDocumentFragment();
    for (const w of [...workloads.keys()].sort()) {
      const byCluster = workloads.get(w);
      frag.append(
        h(
          "tr",
          { "data-workload": w },
          h("th", { scope: "row" }, w),
          clusters.map((c) =>
            h(
              "td",
              { "data-cluster": c },
              (byCluster.get(c) || []).map((a) =>
                h(
                  "div",
                  { class: "cell-app" },
                  h("a", { href: `#/apps/${enc(a.name)}` }, a.name),
                  h("span", { class: "badges" }, badge(a.sync?.status), badge(a.health?.status)),
                ),
              ),
              byCluster.has(c) ? null : h("span", { class: "absent", "aria-label": "not deployed" }, "—"),
            ),
          ),
        ),
      );
    }
    body.append(frag);
    fill(gridWrap, 
      h(
        "table",
        { class: "matrix" },
        h("caption", { class: "visually-hidden" }, "Workloads by cluster"),
        h("thead", null, h("tr", null, h("th", { scope: "col" }, "Workload"), clusters.map((c) => h("th", { scope: "col" }, c)))),
        body,
      ),
    );
  }

  function setView(v) {
    view = v;
    listBtn.setAttribute("aria-pressed", String(v === "list"));
    gridBtn.setAttribute("aria-pressed", String(v === "grid"));
    listWrap.hidden = v !== "list";
    gridWrap.hidden = v !== "grid";
    applyFilter();
  }
  listBtn.addEventListener("click", () => setView("list"));
  gridBtn.addEventListener("click", () => setView("grid"));

  let qTimer = null;
  q.addEventListener("input", () => {
    clearTimeout(qTimer);
    qTimer = setTimeout(() => {
      filt.q = q.value.trim();
      applyFilter();
    }, 60);
  });
  for (const [sel, key] of [
    [project, "project"],
    [cluster, "cluster"],
    [sync, "sync"],
    [health, "health"],
  ]) {
    sel.addEventListener("change", () => {
      filt[key] = sel.value;
      applyFilter();
    });
  }
  label.addEventListener("input", () => {
    filt.label = label.value.trim();
    applyFilter();
  });
  clear.addEventListener("click", () => {
    for (const k of Object.keys(filt)) filt[k] = "";
    q.value = "";
    label.value = "";
    for (const s of [project, cluster, sync, health]) s.value = "";
    applyFilter();
    q.focus();
  });

  let loaded = false;
  async function reload() {
    try {
      const data = await api("applications");
      const seen = new Set();
      const frag = document.createDocumentFragment();
      const fresh = !loaded || rows.size === 0;
      if (fresh) {
        rows.clear();
        fill(tbody);
        for (const a of [...data.items].sort((x, y) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0))) {
          const tr = rowFor(a);
          rows.set(a.name, { app: a, tr, search: searchText(a) });
          frag.append(tr);
          seen.add(a.name);
        }
        tbody.append(frag);
      } else {
        for (const a of data.items) {
          upsert(a);
          seen.add(a.name);
        }
        for (const n of [...rows.keys()]) if (!seen.has(n)) remove(n);
      }
      loaded = true;
      fill(problem);
      if (rows.size === 0) {
        empty.hidden = false;
        empty.textContent = "No applications yet. Create an Application or an ApplicationSet in Ferry's namespace and it appears here.";
      }
      refreshChoices();
      applyFilter();
    } catch (e) {
      if (e.status !== 401) fill(problem, errorNotice(e, "The applications could not be read."));
    }
  }

  const refreshSome = coalesce(async (names) => {
    // A large burst (a set generating many applications): one list is cheaper.
    if (names.size > 40) return reload();
    await Promise.all(
      [...names].map(async (n) => {
        try {
          const d = await api(`applications/${enc(n)}`);
          upsert(d.summary);
        } catch (e) {
          if (e.status === 404) remove(n);
        }
      }),
    );
    refreshChoices();
    applyFilter();
  }, 120);

  return {
    el,
    title: "Applications",
    reload,
    changed(ev) {
      if (ev.kind !== "Application") return;
      if (ev.type === "deleted") {
        remove(ev.name);
        refreshChoices();
        applyFilter();
      } else refreshSome(ev.name);
    },
  };
}

// ---------------------------------------------------------------------------------------
// One application

const PHASES = ["PreSync", "Sync", "PostSync", "SyncFail"];

function isRunning(op) {
  return op && (op.phase === "Running" || op.phase === "Terminating");
}

/** The operation's resources as ordered steps: phase, then wave. */
function opSteps(opState) {
  const results = opState?.syncResult?.resources || [];
  const groups = new Map();
  for (const r of results) {
    const phase = r.syncPhase || r.hookType || "Sync";
    const wave = r.syncWave || 0;
    const key = `${PHASES.indexOf(phase)}:${wave}`;
    if (!groups.has(key)) groups.set(key, { phase, wave, items: [] });
    groups.get(key).items.push(r);
  }
  const steps = [...groups.values()].sort((a, b) => PHASES.indexOf(a.phase) - PHASES.indexOf(b.phase) || a.wave - b.wave);
  let runningSeen = false;
  for (const s of steps) {
    const failed = s.items.some((r) => r.status === "SyncFailed" || r.hookPhase === "Failed" || r.hookPhase === "Error");
    const done = s.items.every((r) => r.status && (!r.hookPhase || r.hookPhase === "Succeeded"));
    if (failed) s.state = "failed";
    else if (done) s.state = "done";
    else if (isRunning(opState) && !runningSeen) {
      s.state = "running";
      runningSeen = true;
    } else s.state = "pending";
  }
  return steps;
}

function appPage(name) {
  let detail = null;
  let gone = false;
  const selected = new Set();

  const title = h("h1", null, name);
  const headBadges = h("span", { class: "toolbar", id: "app-badges" });
  const facts = h("dl", { class: "facts", id: "app-facts" });
  const problem = h("div");
  const conditions = h("div", { id: "app-conditions" });

  const prune = h("input", { type: "checkbox", id: "sync-prune" });
  const syncBtn = h("button", { type: "button", class: "btn btn-primary", id: "btn-sync" }, "Sync");
  const refreshBtn = h("button", { type: "button", class: "btn", id: "btn-refresh" }, "Refresh");
  const hardBtn = h("button", { type: "button", class: "btn", id: "btn-hard-refresh" }, "Hard refresh");
  const rollbackBtn = h("button", { type: "button", class: "btn", id: "btn-rollback", "aria-haspopup": "dialog" }, "Rollback…");
  const terminateBtn = h("button", { type: "button", class: "btn btn-danger", id: "btn-terminate" }, "Terminate");

  const opBody = h("div", { id: "operation", "data-phase": "", "data-started": "" });
  const tree = h("div", { id: "resources" });
  const diffBody = h("div", { id: "diff" });
  const historyBody = h("div", { id: "history" });
  const eventsBody = h("div", { id: "events" });
  const dialog = h("dialog", { id: "rollback-dialog", "aria-labelledby": "rollback-title" });

  const el = h(
    "div",
    { class: "page app" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("ol", null, h("li", null, h("a", { href: "#/apps" }, "Applications")), h("li", null, h("span", { "aria-current": "page" }, name)))),
    h("div", { class: "page-head" }, title, headBadges),
    problem,
    h(
      "section",
      { class: "card", "aria-label": "Summary and actions" },
      facts,
      h("hr", { class: "rule" }),
      h(
        "div",
        { class: "toolbar", role: "group", "aria-label": "Actions" },
        syncBtn,
        h("label", { class: "check", for: "sync-prune" }, prune, "Prune"),
        h("span", { class: "sep", "aria-hidden": "true" }),
        refreshBtn,
        hardBtn,
        rollbackBtn,
        terminateBtn,
      ),
    ),
    conditions,
    h(
      "div",
      { class: "grid-2" },
      h(
        "div",
        null,
        h("section", { class: "card", "aria-labelledby": "h-res" }, h("header", null, h("h2", { id: "h-res" }, "Resources"), h("span", { class: "hint" }, "Select some to sync only those.")), tree),
        h("section", { class: "card", "aria-labelledby": "h-diff" }, h("header", null, h("h2", { id: "h-diff" }, "Diff"), h("span", { class: "hint" }, "Live against Git, as the controller compares them.")), diffBody),
      ),
      h(
        "div",
        null,
        h("section", { class: "card", "aria-labelledby": "h-op", "aria-live": "polite" }, h("h2", { id: "h-op" }, "Operation"), opBody),
        h("section", { class: "card", "aria-labelledby": "h-hist" }, h("h2", { id: "h-hist" }, "History"), historyBody),
        h("section", { class: "card", "aria-labelledby": "h-ev" }, h("h2", { id: "h-ev" }, "Events"), eventsBody),
      ),
    ),
    dialog,
  );

  function refreshControls() {
    const running = isRunning(detail?.status?.operationState);
    syncBtn.disabled = gone || running || !detail;
    syncBtn.title = running ? "An operation is running" : "";
    syncBtn.textContent = selected.size ? `Sync ${selected.size} selected` : "Sync";
    terminateBtn.disabled = gone || !running;
    // Only what RBAC allows is offered (the server checks again).
    const may = detail?.summary?.can;
    for (const b of [syncBtn, rollbackBtn, terminateBtn, prune.parentElement]) b.hidden = may ? !may.sync : false;
    refreshBtn.disabled = gone || !detail;
    hardBtn.disabled = gone || !detail;
    rollbackBtn.disabled = gone || running || !detail?.status?.history?.length;
  }

  syncBtn.addEventListener("click", () =>
    act(syncBtn, () => {
      const body = { prune: prune.checked };
      if (selected.size) {
        body.resources = (detail.status.resources || [])
          .filter((r) => selected.has(resKey(r)))
          .map((r) => ({ group: r.group || "", kind: r.kind, namespace: r.namespace || "", name: r.name }));
      }
      return api(`applications/${enc(name)}/sync`, { method: "POST", body });
    }),
  );
  refreshBtn.addEventListener("click", () => act(refreshBtn, () => api(`applications/${enc(name)}/refresh`, { method: "POST", body: { hard: false } })));
  hardBtn.addEventListener("click", () => act(hardBtn, () => api(`applications/${enc(name)}/refresh`, { method: "POST", body: { hard: true } })));
  terminateBtn.addEventListener("click", () => act(terminateBtn, () => api(`applications/${enc(name)}/terminate`, { method: "POST" })));
  rollbackBtn.addEventListener("click", () => openRollback());

  function openRollback(preselect) {
    const history = [...(detail?.status?.history || [])].sort((a, b) => b.id - a.id);
    const automated = detail?.summary?.automated;
    const confirm = h("button", { type: "submit", class: "btn btn-primary", id: "rollback-confirm" }, "Roll back");
    const rbPrune = h("input", { type: "checkbox", id: "rollback-prune" });
    const err = h("p", { class: "notice bad", role: "alert", hidden: true });
    const form = h(
      "form",
      {
        method: "dialog",
        onsubmit: async (e) => {
          e.preventDefault();
          const picked = form.querySelector("input[name=rollback-id]:checked");
          if (!picked) return;
          confirm.disabled = true;
          try {
            const r = await api(`applications/${enc(name)}/rollback`, { method: "POST", body: { id: Number(picked.value), prune: rbPrune.checked } });
            dialog.close();
            toast(r?.message || "Rollback requested.");
          } catch (e2) {
            err.textContent = e2.message;
            err.hidden = false;
          } finally {
            confirm.disabled = false;
          }
        },
      },
      h("h2", { id: "rollback-title" }, `Roll ${name} back`),
      automated
        ? h("p", { class: "notice warn" }, "Automated sync is on for this application: it would sync Git's revision again right after. Turn automated sync off in its spec first.")
        : null,
      h(
        "fieldset",
        null,
        h("legend", null, "Deploy again the revision of:"),
        history.map((e, i) =>
          h(
            "label",
            { class: "choice" },
            h("input", { type: "radio", name: "rollback-id", value: e.id, checked: preselect ? preselect === e.id : i === 1 || history.length === 1 }),
            h("span", null, h("strong", null, `#${e.id}`), " ", h("code", null, shortRev(e.revision)), " ", h("span", { class: "muted" }, fmtTime(e.deployedAt)), " ", h("span", { class: "muted small" }, e.source?.path || "")),
          ),
        ),
      ),
      h("p", null, h("label", { class: "check", for: "rollback-prune" }, rbPrune, "Prune what that revision does not have")),
      err,
      h("div", { class: "actions" }, h("button", { type: "button", class: "btn", onclick: () => dialog.close() }, "Cancel"), confirm),
    );
    fill(dialog, form);
    dialog.showModal();
    (form.querySelector("input[name=rollback-id]:checked") || confirm).focus();
  }

  function renderHead() {
    const s = detail.summary;
    const st = detail.status || {};
    fill(headBadges, badge(st.sync?.status || s.sync?.status), badge(st.health?.status || s.health?.status, { title: st.health?.message || s.health?.message || undefined }));
    const rev = st.sync?.revision || s.sync?.revision || "";
    facts.dataset.revision = rev;
    const fact = (k, ...v) => h("div", null, h("dt", null, k), h("dd", null, ...v));
    fill(facts, 
      fact("Project", s.project),
      fact("Cluster", h("a", { href: "#/clusters" }, s.cluster || s.server), s.cluster ? h("div", { class: "muted small mono" }, s.server) : null),
      fact("Namespace", s.namespace || "—"),
      fact("Source", h("span", { class: "mono small" }, s.repoURL), h("div", { class: "small" }, `path ${s.path || "."} @ ${s.targetRevision || "HEAD"}`)),
      fact("Synced revision", h("code", { id: "app-revision", title: rev }, shortRev(rev) || "—")),
      fact("Automated sync", s.automated ? "on" : "off"),
      s.applicationSet ? fact("ApplicationSet", h("a", { href: `#/appsets/${enc(s.applicationSet)}` }, s.applicationSet)) : null,
      Object.keys(s.labels || {}).length ? fact("Labels", h("span", { class: "chips" }, Object.entries(s.labels).map(([k, v]) => h("span", { class: "chip" }, `${k}=${v}`)))) : null,
    );
    const conds = st.conditions || s.conditions || [];
    fill(conditions, 
      ...conds.map((c) =>
        h(
          "div",
          { class: `notice ${/Error$/.test(c.type) ? "bad" : "warn"}`, role: /Error$/.test(c.type) ? "alert" : null },
          h("strong", null, c.type),
          h("p", null, c.message),
        ),
      ),
    );
  }

  function renderOperation() {
    const op = detail.status?.operationState;
    opBody.dataset.phase = op?.phase || "";
    opBody.dataset.started = op?.startedAt || "";
    if (!op) {
      fill(opBody, h("p", { class: "empty" }, "No operation has run yet."));
      return;
    }
    const steps = opSteps(op);
    const what = op.operation?.sync?.source ? "Rollback" : "Sync";
    const rev = op.syncResult?.revision || op.operation?.sync?.revision;
    fill(opBody, 
      h(
        "div",
        { class: "op-head" },
        badge(op.phase, { label: `${what} ${op.phase.toLowerCase()}` }),
        rev ? h("code", { title: rev }, shortRev(rev)) : null,
        h("span", { class: "muted small" }, "started ", timeEl(op.startedAt)),
        op.finishedAt ? h("span", { class: "muted small" }, "finished ", timeEl(op.finishedAt)) : null,
        op.retryCount ? h("span", { class: "muted small" }, `retry ${op.retryCount}`) : null,
        op.operation?.initiatedBy?.automated ? h("span", { class: "chip" }, "automated") : op.operation?.initiatedBy?.username ? h("span", { class: "chip" }, op.operation.initiatedBy.username) : null,
      ),
      op.message ? h("p", { class: "op-message", id: "op-message" }, op.message) : null,
      steps.length
        ? h(
            "ol",
            { class: "steps", "aria-label": "Progress by phase and wave" },
            steps.map((s) =>
              h(
                "li",
                { "data-state": s.state, "data-phase": s.phase, "data-wave": s.wave },
                h(
                  "div",
                  { class: "step-title" },
                  `${s.phase} · wave ${s.wave}`,
                  badge({ done: "Succeeded", failed: "Failed", running: "Running", pending: "pending" }[s.state], {
                    label: { done: "done", failed: "failed", running: "in progress", pending: "waiting" }[s.state],
                  }),
                ),
                h(
                  "ul",
                  { class: "step-items" },
                  s.items.map((r) =>
                    h(
                      "li",
                      null,
                      h("span", { class: "kind muted" }, kindLabel(r)),
                      h("span", { class: "mono" }, r.namespace ? `${r.namespace}/${r.name}` : r.name),
                      r.hookPhase ? badge(r.hookPhase, { label: `hook ${r.hookPhase}` }) : null,
                      r.status ? badge(r.status) : badge("pending", { label: "pending" }),
                      r.message ? h("span", { class: "msg" }, r.message) : null,
                    ),
                  ),
                ),
              ),
            ),
          )
        : null,
    );
  }

  function renderTree() {
    const res = detail.status?.resources || [];
    for (const k of [...selected]) if (!res.some((r) => resKey(r) === k)) selected.delete(k);
    if (!res.length) {
      fill(tree, h("p", { class: "empty" }, "No resources (yet)."));
      return;
    }
    const byNs = new Map();
    for (const r of res) {
      const ns = r.namespace || "";
      if (!byNs.has(ns)) byNs.set(ns, []);
      byNs.get(ns).push(r);
    }
    const nsNames = [...byNs.keys()].sort((a, b) => (a === "" ? -1 : b === "" ? 1 : a.localeCompare(b)));
    const leaf = (r) => {
      const key = resKey(r);
      const id = `sel-${key.replace(/[^A-Za-z0-9_-]/g, "_")}`;
      return h(
        "li",
        { "data-resource": key, "data-kind": r.kind, "data-name": r.name, "data-sync": r.status || "Unknown", "data-health": r.health?.status || "" },
        h(
          "div",
          { class: "node" },
          h(
            "label",
            { class: "check", for: id, title: `Select ${r.kind} ${r.name} for a selective sync` },
            h("input", {
              type: "checkbox",
              id,
              checked: selected.has(key),
              onchange: (e) => {
                if (e.target.checked) selected.add(key);
                else selected.delete(key);
                refreshControls();
              },
            }),
            h("span", { class: "visually-hidden" }, `Select ${r.kind} ${r.name}`),
          ),
          h("span", { class: "kind" }, kindLabel(r)),
          h("span", { class: "res-name" }, r.name),
          badge(r.status),
          r.health?.status ? badge(r.health.status, { title: r.health.message || undefined }) : null,
          r.requiresPruning ? h("span", { class: "chip" }, "not in Git: prune") : null,
          r.hook ? h("span", { class: "chip" }, "hook") : null,
          r.syncWave ? h("span", { class: "wave" }, `wave ${r.syncWave}`) : null,
        ),
      );
    };
    const sortRes = (a, b) => a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name);
    fill(tree, 
      h(
        "ul",
        { class: "tree", "aria-label": `Resources of ${name}` },
        h(
          "li",
          null,
          h("div", { class: "node" }, h("span", { class: "node-title" }, name), h("span", { class: "muted small" }, `${plural(res.length, "resource")} on ${detail.summary.cluster || detail.summary.server}`)),
          h(
            "ul",
            null,
            nsNames.map((ns) =>
              ns === ""
                ? byNs.get(ns).sort(sortRes).map(leaf)
                : h(
                    "li",
                    { "data-namespace": ns },
                    h("div", { class: "node" }, h("span", { class: "kind" }, "Namespace"), h("span", { class: "res-name" }, ns)),
                    h("ul", null, byNs.get(ns).sort(sortRes).map(leaf)),
                  ),
            ),
          ),
        ),
      ),
    );
  }

  function renderHistory() {
    const hist = [...(detail.status?.history || [])].sort((a, b) => b.id - a.id);
    if (!hist.length) {
      fill(historyBody, h("p", { class: "empty" }, "Nothing deployed yet."));
      return;
    }
    const running = isRunning(detail.status?.operationState);
    fill(historyBody, 
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          null,
          h("thead", null, h("tr", null, h("th", { scope: "col" }, "#"), h("th", { scope: "col" }, "Revision"), h("th", { scope: "col" }, "Deployed"), h("th", { scope: "col" }, h("span", { class: "visually-hidden" }, "Actions")))),
          h(
            "tbody",
            null,
            hist.map((e, i) =>
              h(
                "tr",
                { "data-history": e.id, "data-revision": e.revision },
                h("td", { class: "num" }, e.id),
                h("td", null, h("code", { title: e.revision }, shortRev(e.revision)), i === 0 ? h("span", { class: "chip gap-left" }, "current") : null),
                h("td", null, timeEl(e.deployedAt), e.initiatedBy?.automated ? h("span", { class: "muted small" }, " · auto") : null),
                h(
                  "td",
                  null,
                  i === 0
                    ? null
                    : h("button", { type: "button", class: "btn btn-small", disabled: running, "aria-label": `Roll back to #${e.id} (${shortRev(e.revision)})`, onclick: () => openRollback(e.id) }, "Roll back"),
                ),
              ),
            ),
          ),
        ),
      ),
    );
  }

  function renderDiffLines(text) {
    const pre = h("pre");
    for (const line of String(text).split("\n")) {
      const cls = line.startsWith("+++") || line.startsWith("---") ? "meta" : line.startsWith("@@") ? "hunk" : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : "";
      pre.append(h("span", { class: `ln ${cls}` }, line || " "));
    }
    return pre;
  }

  async function loadDiff() {
    try {
      const d = await api(`applications/${enc(name)}/diff`);
      const items = (d.items || []).filter((i) => i.diff || i.status !== "Synced");
      if (!items.length) {
        fill(diffBody, h("p", { class: "empty" }, "No differences: the cluster matches Git", d.revision ? [" at ", h("code", null, shortRev(d.revision))] : null, "."));
        return;
      }
      fill(diffBody, 
        ...items.map((i) =>
          h(
            "details",
            { class: "diff", open: items.length <= 4 },
            h("summary", null, badge(i.status), h("span", { class: "muted small" }, kindLabel(i)), h("span", { class: "mono" }, i.namespace ? `${i.namespace}/${i.name}` : i.name)),
            i.diff ? renderDiffLines(i.diff) : h("p", { class: "muted small pad-x" }, i.message || "No textual difference."),
          ),
        ),
      );
    } catch (e) {
      if (e.status !== 401) fill(diffBody, errorNotice(e, "The diff could not be computed."));
    }
  }

  async function loadEvents() {
    try {
      const d = await api(`applications/${enc(name)}/events`);
      const items = d.items || [];
      if (!items.length) {
        fill(eventsBody, h("p", { class: "empty" }, "No events."));
        return;
      }
      fill(eventsBody, 
        h(
          "ul",
          { class: "step-items flush" },
          items.slice(0, 50).map((ev) =>
            h(
              "li",
              null,
              badge(ev.type === "Warning" ? "Degraded" : "Synced", { label: ev.type || "Normal" }),
              h("strong", null, ev.reason),
              ev.count > 1 ? h("span", { class: "muted small" }, `×${ev.count}`) : null,
              h("span", { class: "muted small" }, timeEl(ev.lastTimestamp)),
              h("span", { class: "msg" }, ev.message),
            ),
          ),
        ),
      );
    } catch (e) {
      if (e.status !== 401) fill(eventsBody, errorNotice(e, "The events could not be read."));
    }
  }

  async function loadDetail() {
    try {
      detail = await api(`applications/${enc(name)}`);
      gone = false;
      fill(problem);
      renderHead();
      renderOperation();
      renderTree();
      renderHistory();
      refreshControls();
    } catch (e) {
      if (e.status === 404) {
        gone = true;
        fill(problem, h("div", { class: "notice warn", role: "alert" }, h("strong", null, "Not found"), h("p", null, e.message)));
        refreshControls();
      } else if (e.status !== 401) fill(problem, errorNotice(e, "The application could not be read."));
    }
  }

  // The diff renders and dry-runs on the server, and events are a read of the management
  // cluster: at most one of each every 3 s while the application changes.
  const diffSoon = throttle(loadDiff, 3000);
  const eventsSoon = throttle(loadEvents, 3000);
  const detailSoon = coalesce(() => loadDetail(), 80);
  refreshControls();

  return {
    el,
    title: name,
    refreshControls,
    reload() {
      loadDetail();
      loadDiff();
      loadEvents();
    },
    changed(ev) {
      if (ev.kind !== "Application" || ev.name !== name) return;
      if (ev.type === "deleted") {
        gone = true;
        fill(problem, h("div", { class: "notice warn", role: "alert" }, h("strong", null, "Deleted"), h("p", null, `The application ${name} was deleted.`)));
        refreshControls();
        return;
      }
      detailSoon(name);
      diffSoon();
      eventsSoon();
    },
    dispose() {
      if (dialog.open) dialog.close();
    },
  };
}

// ---------------------------------------------------------------------------------------
// ApplicationSets

const POLICY_WORDS = {
  sync: "creates, updates and deletes its Applications",
  "create-only": "creates Applications, never updates or deletes them",
  "create-update": "creates and updates Applications, never deletes them",
  "create-delete": "creates and deletes Applications, never updates them",
};

function appSetsPage() {
  const body = h("div", null, h("p", { class: "loading" }, "Loading…"));
  const el = h(
    "div",
    { class: "page appsets" },
    h("div", { class: "page-head" }, h("h1", null, "Application sets"), h("p", { class: "sub" }, "Each set generates Applications, usually one per cluster.")),
    h("section", { class: "card", "aria-label": "Application sets" }, body),
  );
  async function reload() {
    try {
      const d = await api("applicationsets");
      const items = [...(d.items || [])].sort((a, b) => a.name.localeCompare(b.name));
      if (!items.length) {
        fill(body, h("p", { class: "empty" }, "No ApplicationSets."));
        return;
      }
      fill(body, 
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            null,
            h("thead", null, h("tr", null, ["Set", "Generators", "Policy", "Applications", "Conditions"].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              null,
              items.map((s) =>
                h(
                  "tr",
                  { "data-appset": s.name },
                  h("td", null, h("a", { href: `#/appsets/${enc(s.name)}` }, h("strong", null, s.name))),
                  h("td", null, h("span", { class: "chips" }, (s.generators || []).map((g) => h("span", { class: "chip" }, g)))),
                  h("td", null, s.policy),
                  h("td", { class: "num" }, (s.applications || []).length),
                  h("td", null, conditionBadges(s.conditions)),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (e) {
      if (e.status !== 401) fill(body, errorNotice(e, "The ApplicationSets could not be read."));
    }
  }
  const soon = coalesce(reload, 200);
  return {
    el,
    title: "Application sets",
    reload,
    changed(ev) {
      if (ev.kind === "ApplicationSet") soon(ev.name);
    },
  };
}

function conditionBadges(conds) {
  const list = conds || [];
  const err = list.find((c) => c.type === "ErrorOccurred" && c.status === "True");
  if (err) return h("span", { title: err.message }, badge("Degraded", { label: "Error" }), " ", h("span", { class: "small" }, err.message));
  const bad = list.filter((c) => c.status === "False" && c.type !== "ErrorOccurred");
  if (bad.length) return h("span", null, bad.map((c) => badge("Missing", { label: c.type, title: c.message })));
  return list.length ? badge("Healthy", { label: "OK" }) : h("span", { class: "muted" }, "—");
}

/** JSON as YAML (block style; strings quoted when YAML would read them otherwise). */
function toYaml(value, indent = 0) {
  const pad = " ".repeat(indent);
  const scalar = (v) => {
    if (v === null || v === undefined) return "null";
    if (typeof v === "number" || typeof v === "boolean") return String(v);
    const s = String(v);
    if (s === "" || /^[\s]|[\s]$/.test(s) || /[:#]\s|[:]$|^[-?:,[\]{}#&*!|>'"%@`]|[\n\t]/.test(s) || /^(true|false|yes|no|on|off|null|~|y|n)$/i.test(s) || /^[-+.]?\d/.test(s)) {
      return JSON.stringify(s);
    }
    return s;
  };
  if (Array.isArray(value)) {
    if (!value.length) return "[]";
    return value
      .map((v) => {
        if (v && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length) {
          const inner = toYaml(v, indent + 2);
          return `${pad}- ${inner.slice(indent + 2)}`;
        }
        if (Array.isArray(v) && v.length) return `${pad}-\n${toYaml(v, indent + 2)}`;
        return `${pad}- ${v && typeof v === "object" ? (Array.isArray(v) ? "[]" : "{}") : scalar(v)}`;
      })
      .join("\n");
  }
  if (value && typeof value === "object") {
    const keys = Object.keys(value);
    if (!keys.length) return "{}";
    return keys
      .map((k) => {
        const v = value[k];
        const key = scalar(k);
        if (v && typeof v === "object" && (Array.isArray(v) ? v.length : Object.keys(v).length)) {
          return `${pad}${key}:\n${toYaml(v, Array.isArray(v) ? indent : indent + 2)}`;
        }
        if (v && typeof v === "object") return `${pad}${key}: ${Array.isArray(v) ? "[]" : "{}"}`;
        return `${pad}${key}: ${scalar(v)}`;
      })
      .join("\n");
  }
  return pad + scalar(value);
}

function appSetPage(name) {
  let set = null;
  const title = h("h1", null, name);
  const facts = h("dl", { class: "facts", id: "appset-facts" });
  const problem = h("div");
  const conds = h("div");
  const appsBody = h("div", { id: "appset-apps" });

  const gutter = h("pre", { class: "gutter", "aria-hidden": "true" }, "1");
  const textarea = h("textarea", {
    id: "preview-yaml",
    spellcheck: "false",
    autocomplete: "off",
    autocapitalize: "off",
    rows: "18",
    "aria-describedby": "preview-help",
  });
  const previewBtn = h("button", { type: "submit", class: "btn btn-primary", id: "btn-preview" }, "Preview changes");
  const resetBtn = h("button", { type: "button", class: "btn", id: "btn-preview-reset" }, "Reset to the current set");
  const result = h("div", { id: "preview-result", "aria-live": "polite" });
  let errorLine = 0;

  function renderGutter() {
    const n = textarea.value.split("\n").length;
    fill(gutter);
    for (let i = 1; i <= n; i++) {
      gutter.append(i === errorLine ? h("span", { class: "err" }, String(i)) : String(i), i < n ? "\n" : "");
    }
    gutter.scrollTop = textarea.scrollTop;
  }
  textarea.addEventListener("input", () => {
    errorLine = 0;
    renderGutter();
  });
  textarea.addEventListener("scroll", () => {
    gutter.scrollTop = textarea.scrollTop;
  });
  textarea.addEventListener("keydown", (e) => {
    // Tab indents (two spaces) unless Escape was pressed just before: keyboard users can
    // always leave with Escape then Tab.
    if (e.key === "Escape") {
      textarea.dataset.escaped = "1";
      return;
    }
    if (e.key === "Tab" && !e.shiftKey && !textarea.dataset.escaped) {
      e.preventDefault();
      textarea.setRangeText("  ", textarea.selectionStart, textarea.selectionEnd, "end");
      renderGutter();
    }
    delete textarea.dataset.escaped;
  });

  function currentYaml() {
    if (!set) return "";
    const obj = { apiVersion: "ferry.dev/v1alpha1", kind: "ApplicationSet", metadata: { name: set.name }, spec: set.spec || {} };
    return `${toYaml(obj)}\n`;
  }
  resetBtn.addEventListener("click", () => {
    textarea.value = currentYaml();
    errorLine = 0;
    renderGutter();
    fill(result);
  });

  function goToLine(line, column) {
    const lines = textarea.value.split("\n");
    let pos = 0;
    for (let i = 0; i < line - 1 && i < lines.length; i++) pos += lines[i].length + 1;
    const end = pos + (lines[line - 1] || "").length;
    textarea.focus();
    textarea.setSelectionRange(column ? Math.min(pos + column - 1, end) : pos, end);
    const lh = parseFloat(getComputedStyle(textarea).lineHeight) || 20;
    textarea.scrollTop = Math.max(0, (line - 4) * lh);
  }

  async function preview() {
    previewBtn.disabled = true;
    previewBtn.setAttribute("aria-busy", "true");
    fill(result, h("p", { class: "loading" }, "Computing what would change…"));
    try {
      const p = await api("applicationsets/preview", { method: "POST", body: textarea.value, contentType: "application/yaml" });
      errorLine = 0;
      renderGutter();
      fill(result, renderPreview(p));
    } catch (e) {
      if (e.status === 401) return;
      const m = /line (\d+)(?:,? column (\d+))?/i.exec(e.message);
      errorLine = m ? Number(m[1]) : 0;
      renderGutter();
      const heading = { 400: "The YAML could not be read", 413: "Too large", 422: "A generator failed: nothing would change" }[e.status] || "The preview failed";
      fill(result, 
        h(
          "div",
          { class: "notice bad", role: "alert", id: "preview-error", "data-line": errorLine || "" },
          h("strong", null, heading, errorLine ? ` (line ${errorLine}${m[2] ? `, column ${m[2]}` : ""})` : ""),
          h("p", null, e.message),
          errorLine ? h("p", null, h("button", { type: "button", class: "btn btn-small gap-top", onclick: () => goToLine(errorLine, m[2] ? Number(m[2]) : 0) }, `Go to line ${errorLine}`)) : null,
        ),
      );
    } finally {
      previewBtn.disabled = false;
      previewBtn.removeAttribute("aria-busy");
    }
  }

  function renderPreview(p) {
    const clusters = p.clusters || [];
    let counts = { create: 0, update: 0, delete: 0 };
    for (const c of clusters) for (const a of c.applications || []) for (const r of a.resources || []) if (counts[r.action] !== undefined) counts[r.action]++;
    const changedApps = clusters.reduce((n, c) => n + (c.applications || []).filter((a) => a.action !== "unchanged").length, 0);
    return h(
      "div",
      { "data-preview": p.name },
      h(
        "p",
        { class: `notice ${counts.delete ? "warn" : changedApps || counts.create || counts.update ? "" : "ok"}`, id: "preview-summary" },
        changedApps || counts.create || counts.update || counts.delete
          ? `Under the policy ${p.policy}: ${plural(changedApps, "application")} would change; resources: ${counts.create} created, ${counts.update} updated, ${counts.delete} deleted.`
          : `Nothing would change (policy ${p.policy}).`,
      ),
      (p.refused || []).length
        ? h("div", { class: "notice warn" }, h("strong", null, "Refused"), (p.refused || []).map((r) => h("p", null, `${r.name}: ${r.message}`)))
        : null,
      (p.invalid || []).length ? h("div", { class: "notice bad" }, h("strong", null, "Invalid"), (p.invalid || []).map((r) => h("p", null, `${r.name}: ${r.message}`))) : null,
      clusters.map((c) => {
        const leaving = (c.applications || []).flatMap((a) => (a.resources || []).filter((r) => r.action === "delete"));
        return h(
          "section",
          { class: "preview-cluster", "data-cluster": c.cluster, "aria-label": `Cluster ${c.cluster}` },
          h(
            "h3",
            null,
            "Cluster ",
            c.cluster,
            leaving.length ? h("span", { class: "muted small h-note" }, `${plural(leaving.length, "resource")} would leave this cluster`) : null,
          ),
          (c.applications || []).map((a) =>
            h(
              "div",
              { class: "preview-app", "data-app": a.name, "data-action": a.action },
              h("div", null, badge(a.action, { label: `${a.action}` }), h("strong", null, a.name), (a.changed || []).length ? h("span", { class: "muted small" }, `changes ${a.changed.join(", ")}`) : null),
              (a.resources || []).length
                ? h(
                    "table",
                    { class: "small" },
                    h("thead", null, h("tr", null, ["Kind", "Namespace", "Name", "Action"].map((x) => h("th", { scope: "col" }, x)))),
                    h(
                      "tbody",
                      null,
                      a.resources.map((r) =>
                        h(
                          "tr",
                          { "data-action": r.action, "data-resource": resKey(r) },
                          h("td", null, kindLabel(r)),
                          h("td", null, r.namespace || "—"),
                          h("td", { class: "mono" }, r.name),
                          h("td", null, badge(r.action)),
                        ),
                      ),
                    ),
                  )
                : h("p", { class: "muted small" }, "No resources."),
            ),
          ),
        );
      }),
    );
  }

  const el = h(
    "div",
    { class: "page appset" },
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" }, h("ol", null, h("li", null, h("a", { href: "#/appsets" }, "Application sets")), h("li", null, h("span", { "aria-current": "page" }, name)))),
    h("div", { class: "page-head" }, title),
    problem,
    h("section", { class: "card", "aria-label": "Summary" }, facts),
    conds,
    h("section", { class: "card", "aria-labelledby": "h-gen" }, h("h2", { id: "h-gen" }, "Generated applications"), appsBody),
    h(
      "section",
      { class: "card", "aria-labelledby": "h-prev" },
      h("header", null, h("h2", { id: "h-prev" }, "Preview a change")),
      h(
        "form",
        {
          onsubmit: (e) => {
            e.preventDefault();
            preview();
          },
        },
        h(
          "p",
          { id: "preview-help", class: "muted small flush-top" },
          "Paste a new or changed ApplicationSet (YAML or JSON). The preview shows, per cluster, the Applications and resources that would be created, updated or deleted; nothing is changed.",
        ),
        h("label", { for: "preview-yaml", class: "visually-hidden" }, "ApplicationSet YAML"),
        h("div", { class: "editor" }, gutter, textarea),
        h("div", { class: "toolbar gap-top" }, previewBtn, resetBtn),
      ),
      h("div", { class: "gap-top" }, result),
    ),
  );

  async function loadApps() {
    try {
      const d = await api("applications");
      const mine = (d.items || []).filter((a) => a.applicationSet === name || (set?.applications || []).includes(a.name)).sort((a, b) => a.name.localeCompare(b.name));
      if (!mine.length) {
        fill(appsBody, h("p", { class: "empty" }, "This set has generated no Application."));
        return;
      }
      fill(appsBody, 
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            null,
            h("thead", null, h("tr", null, ["Application", "Cluster", "Namespace", "Sync", "Health"].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              null,
              mine.map((a) =>
                h(
                  "tr",
                  { "data-app": a.name },
                  h("td", null, h("a", { href: `#/apps/${enc(a.name)}` }, a.name)),
                  h("td", null, a.cluster || a.server),
                  h("td", null, a.namespace),
                  h("td", null, badge(a.sync?.status)),
                  h("td", null, badge(a.health?.status)),
                ),
              ),
            ),
          ),
        ),
      );
    } catch (e) {
      if (e.status !== 401) fill(appsBody, errorNotice(e, "The applications could not be read."));
    }
  }

  async function loadSet() {
    try {
      const first = !set;
      const d = await api(`applicationsets/${enc(name)}`);
      // {summary, spec, status}, or the summary's fields beside spec and status.
      set = d.summary ? { ...d.summary, spec: d.spec, status: d.status } : d;
      fill(problem);
      const fact = (k, ...v) => h("div", null, h("dt", null, k), h("dd", null, ...v));
      fill(facts, 
        fact("Policy in force", h("strong", { id: "appset-policy" }, set.policy), h("div", { class: "small muted" }, POLICY_WORDS[set.policy] || "")),
        fact("Generators", h("span", { class: "chips" }, (set.generators || []).map((g) => h("span", { class: "chip" }, g)))),
        fact("Applications", String((set.applications || []).length)),
        fact("Status", conditionBadges(set.conditions)),
      );
      fill(conds, 
        ...(set.conditions || [])
          .filter((c) => (c.type === "ErrorOccurred" && c.status === "True") || (c.type !== "ErrorOccurred" && c.status === "False"))
          .map((c) => h("div", { class: "notice bad" }, h("strong", null, c.type), h("p", null, c.message))),
      );
      if (first && !textarea.value) {
        textarea.value = currentYaml();
        renderGutter();
      }
    } catch (e) {
      if (e.status === 404) fill(problem, h("div", { class: "notice warn", role: "alert" }, h("strong", null, "Not found"), h("p", null, e.message)));
      else if (e.status !== 401) fill(problem, errorNotice(e, "The ApplicationSet could not be read."));
    }
  }

  const setSoon = coalesce(() => loadSet().then(loadApps), 150);
  const appsSoon = coalesce(loadApps, 250);
  return {
    el,
    title: name,
    reload() {
      loadSet().then(loadApps);
    },
    changed(ev) {
      if (ev.kind === "ApplicationSet" && ev.name === name) setSoon(ev.name);
      else if (ev.kind === "Application" && (set?.applications || []).includes(ev.name)) appsSoon(ev.name);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Clusters

function clustersPage() {
  const body = h("div", null, h("p", { class: "loading" }, "Loading…"));
  const el = h(
    "div",
    { class: "page clusters" },
    h("div", { class: "page-head" }, h("h1", null, "Clusters"), h("p", { class: "sub" }, "Registered from cluster Secrets in Ferry's namespace. Credentials are never shown.")),
    h("section", { class: "card", "aria-label": "Clusters" }, body),
  );
  async function reload() {
    try {
      const d = await api("clusters");
      const items = [...(d.items || [])].sort((a, b) => (a.name || "").localeCompare(b.name || ""));
      if (!items.length) {
        fill(body, h("p", { class: "empty" }, "No cluster is registered."));
        return;
      }
      fill(body, 
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            null,
            h("thead", null, h("tr", null, ["Cluster", "Reachable", "Version", "Labels", "Applications", "Access", "Last error"].map((c) => h("th", { scope: "col" }, c)))),
            h(
              "tbody",
              null,
              items.map((c) => {
                const eks = c.eks;
                return h(
                  "tr",
                  { "data-cluster": c.name, "data-reachable": String(Boolean(c.reachable)) },
                  h("td", null, h("strong", null, c.name), h("div", { class: "mono small muted" }, c.server)),
                  h("td", null, c.registered === false ? badge("Unknown", { label: "Not registered" }) : badge(c.reachable ? "Reachable" : "Unreachable")),
                  h("td", { class: "mono" }, c.version || h("span", { class: "muted" }, "—")),
                  h(
                    "td",
                    null,
                    h(
                      "span",
                      { class: "chips" },
                      Object.entries(c.labels || {})
                        .filter(([k]) => k !== "argocd.argoproj.io/secret-type")
                        .map(([k, v]) => h("span", { class: "chip" }, `${k}=${v}`)),
                    ),
                  ),
                  h("td", { class: "num" }, h("a", { href: `#/apps?cluster=${enc(c.name)}` }, String(c.applications ?? 0))),
                  h(
                    "td",
                    { class: "small" },
                    eks
                      ? [
                          h("div", null, h("strong", null, "EKS "), eks.clusterName || ""),
                          eks.account ? h("div", null, "account ", h("span", { class: "mono" }, eks.account)) : null,
                          eks.identity ? h("div", { class: "mono muted wrap-any" }, eks.identity) : null,
                          eks.tokenExpiresAt ? h("div", { class: "muted" }, "token renews before ", fmtTime(eks.tokenExpiresAt)) : null,
                        ]
                      : c.auth || "token",
                  ),
                  h("td", { class: "small" }, c.lastError ? h("span", { class: "error-text" }, c.lastError) : h("span", { class: "muted" }, "—")),
                );
              }),
            ),
          ),
        ),
      );
    } catch (e) {
      if (e.status !== 401) fill(body, errorNotice(e, "The clusters could not be read."));
    }
  }
  const soon = coalesce(reload, 300);
  return {
    el,
    title: "Clusters",
    reload,
    changed(ev) {
      if (ev.kind === "Cluster" || ev.kind === "Application") soon(ev.name);
    },
  };
}

// ---------------------------------------------------------------------------------------
// Migration: workloads across the generations named by a cluster label

function migrationPage(initial) {
  const params = { label: initial.get("label") || "", from: initial.get("from") || "", to: initial.get("to") || "" };
  const labelSel = h("select", { id: "m-label" });
  const fromSel = h("select", { id: "m-from" });
  const toSel = h("select", { id: "m-to" });
  const onlyOpen = h("input", { type: "checkbox", id: "m-open" });
  const summary = h("div", { class: "mig-summary", id: "mig-summary" });
  const body = h("div", { id: "migration" });
  const safe = h("div", { id: "mig-safe" });
  const problem = h("div");

  const el = h(
    "div",
    { class: "page migration" },
    h(
      "div",
      { class: "page-head" },
      h("h1", null, "Migration"),
      h("p", { class: "sub" }, "Pick the cluster label that names your generations (such as generation: blue/green or eks-version). Each workload shows where it runs, what has not moved yet, and which old copies can go."),
    ),
    problem,
    h(
      "section",
      { class: "card", "aria-label": "Generations" },
      h(
        "form",
        { class: "filters", onsubmit: (e) => e.preventDefault() },
        h("div", { class: "field" }, h("label", { for: "m-label" }, "Cluster label"), labelSel),
        h("div", { class: "field" }, h("label", { for: "m-from" }, "From"), fromSel),
        h("div", { class: "field" }, h("label", { for: "m-to" }, "To"), toSel),
        h("label", { class: "check center-self", for: "m-open" }, onlyOpen, "Only workloads not moved yet"),
      ),
    ),
    summary,
    h("section", { class: "card", "aria-labelledby": "h-wl" }, h("h2", { id: "h-wl" }, "Workloads"), body),
    h("section", { class: "card", "aria-labelledby": "h-safe" }, h("h2", { id: "h-safe" }, "Safe to remove"), safe),
  );

  let data = null;

  function sync() {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) if (v) p.set(k, v);
    setHashParams(p);
  }

  labelSel.addEventListener("change", () => {
    params.label = labelSel.value;
    params.from = "";
    params.to = "";
    sync();
    load();
  });
  fromSel.addEventListener("change", () => {
    params.from = fromSel.value;
    sync();
    load();
  });
  toSel.addEventListener("change", () => {
    params.to = toSel.value;
    sync();
    load();
  });
  onlyOpen.addEventListener("change", () => render());

  async function loadLabels() {
    const d = await api("clusters");
    const keys = new Map();
    for (const c of d.items || []) {
      for (const [k, v] of Object.entries(c.labels || {})) {
        if (k === "argocd.argoproj.io/secret-type") continue;
        if (!keys.has(k)) keys.set(k, new Set());
        keys.get(k).add(v);
      }
    }
    // Labels with more than one value name generations; list them first.
    const sorted = [...keys.entries()].sort((a, b) => b[1].size - a[1].size || a[0].localeCompare(b[0]));
    const chosen = params.label;
    fill(labelSel, 
      h("option", { value: "" }, sorted.length ? "Choose a label…" : "No cluster has labels"),
      sorted.map(([k, vals]) => h("option", { value: k }, `${k} (${[...vals].sort().join(", ")})`)),
    );
    if (chosen && !keys.has(chosen)) labelSel.append(h("option", { value: chosen }, chosen));
    labelSel.value = chosen;
  }

  async function load() {
    if (!params.label) {
      data = null;
      fill(fromSel, h("option", { value: "" }, "—"));
      fill(toSel, h("option", { value: "" }, "—"));
      fromSel.disabled = true;
      toSel.disabled = true;
      fill(summary);
      fill(safe);
      fill(body, h("p", { class: "empty" }, "Choose the cluster label that names your generations."));
      return;
    }
    try {
      const q = new URLSearchParams({ label: params.label });
      if (params.from) q.set("from", params.from);
      if (params.to) q.set("to", params.to);
      data = await api(`migration?${q}`);
      fill(problem);
      const gens = data.generations || [];
      fromSel.disabled = gens.length < 2;
      toSel.disabled = gens.length < 2;
      fill(fromSel, h("option", { value: "" }, "Every other generation"), gens.map((g) => h("option", { value: g }, g)));
      fromSel.value = params.from;
      fill(toSel, h("option", { value: "" }, `Newest (${gens[gens.length - 1] ?? "—"})`), gens.map((g) => h("option", { value: g }, g)));
      toSel.value = params.to;
      render();
    } catch (e) {
      if (e.status !== 401) fill(problem, errorNotice(e, "The migration view could not be computed."));
    }
  }

  function appChip(a) {
    return h(
      "div",
      { class: "cell-app", "data-app": a.name, "data-sync": a.sync, "data-health": a.health },
      h("a", { href: `#/apps/${enc(a.name)}` }, a.name),
      h("span", { class: "badges" }, a.cluster ? h("span", { class: "chip" }, a.cluster) : null, badge(a.sync), badge(a.health)),
    );
  }

  function render() {
    if (!data) return;
    const gens = data.generations || [];
    const from = data.from || [];
    const to = data.to;
    const cols = [...from, to].filter((g, i, all) => g !== undefined && g !== null && all.indexOf(g) === i);
    for (const g of gens) if (!cols.includes(g)) cols.push(g);
    const workloads = data.workloads || [];
    const moved = workloads.filter((w) => w.moved);
    const open = workloads.filter((w) => !w.moved);
    const removable = workloads.flatMap((w) => w.safeToRemove || []);
    const stat = (n, what, tone) => h("div", { class: "stat" }, h("span", { class: `n${tone ? ` text-${tone}` : ""}` }, n.toLocaleString()), h("span", { class: "what" }, what));
    fill(summary, 
      stat(workloads.length, "workloads"),
      stat(moved.length, `moved to ${to}`, "ok"),
      stat(open.length, "not moved yet", open.length ? "warn" : null),
      stat(removable.length, `copies safe to remove from ${from.join(", ") || "—"}`),
    );
    const shown = onlyOpen.checked ? open : workloads;
    if (!workloads.length) {
      fill(body, h("p", { class: "empty" }, `No application runs on a cluster labelled ${data.label}.`));
    } else {
      fill(body, 
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "matrix", id: "migration-table" },
            h("caption", { class: "visually-hidden" }, `Workloads across ${data.label} generations`),
            h(
              "thead",
              null,
              h(
                "tr",
                null,
                h("th", { scope: "col" }, "Workload"),
                cols.map((g) => h("th", { scope: "col" }, g, g === to ? h("span", { class: "muted no-caps" }, " (target)") : null)),
                h("th", { scope: "col" }, "Status"),
              ),
            ),
            h(
              "tbody",
              null,
              shown.map((w) => {
                const onTo = w.on?.[to] || [];
                const status = w.moved
                  ? badge("Healthy", { label: "Moved" })
                  : onTo.length
                    ? badge("Progressing", { label: `On ${to}, not Synced and Healthy yet` })
                    : badge("Missing", { label: "Not moved yet" });
                return h(
                  "tr",
                  { "data-workload": w.workload, "data-moved": String(Boolean(w.moved)), class: w.moved ? "" : "not-moved" },
                  h("th", { scope: "row" }, w.workload),
                  cols.map((g) => {
                    const apps = w.on?.[g] || [];
                    return h("td", { "data-generation": g }, apps.length ? apps.map(appChip) : h("span", { class: "absent" }, h("span", { "aria-hidden": "true" }, "—"), h("span", { class: "visually-hidden" }, `not on ${g}`)));
                  }),
                  h("td", { class: "mig-status" }, status, (w.safeToRemove || []).length ? h("div", { class: "small muted gap-top-s" }, `${plural(w.safeToRemove.length, "old copy", "old copies")} can go`) : null),
                );
              }),
            ),
          ),
        ),
      );
    }
    if (!removable.length) {
      fill(safe, h("p", { class: "empty" }, open.length ? "Nothing yet: a workload's old copies can go once it is Synced and Healthy on the target." : "Nothing to remove."));
    } else {
      fill(safe, 
        h("p", { class: "muted small flush-top" }, `These run on ${from.join(", ")} and their workload is Synced and Healthy on ${to}. Remove them from Git (or their cluster from the set's generator).`),
        h(
          "ul",
          { class: "safe-list", id: "safe-list" },
          removable.map((a) => {
            const item = typeof a === "string" ? { name: a } : a;
            return h("li", { "data-app": item.name }, h("a", { href: `#/apps/${enc(item.name)}` }, item.name), item.cluster ? h("span", { class: "muted" }, ` on ${item.cluster}`) : null);
          }),
        ),
      );
    }
  }

  const soon = coalesce(() => load(), 300);
  return {
    el,
    title: "Migration",
    async reload() {
      try {
        await loadLabels();
      } catch (e) {
        if (e.status !== 401) fill(problem, errorNotice(e, "The clusters could not be read."));
      }
      await load();
    },
    changed(ev) {
      if (ev.kind === "Application" || ev.kind === "Cluster") soon(ev.name);
      if (ev.kind === "Cluster") loadLabels().catch(() => {});
    },
  };
}

// ---------------------------------------------------------------------------------------
// Start

// Unexpected errors (a bug, or a policy violation) are said, and kept for the browser tests.
window.__ferryErrors = [];
function unexpected(what) {
  window.__ferryErrors.push(what);
  toast(`Something went wrong in the page: ${what}`, { bad: true });
}
window.addEventListener("error", (e) => unexpected(e.message || String(e.error)));
window.addEventListener("unhandledrejection", (e) => unexpected(e.reason?.message || String(e.reason)));
document.addEventListener("securitypolicyviolation", (e) => unexpected(`blocked by the content security policy: ${e.violatedDirective}`));

function start() {
  signedIn = true;
  document.getElementById("signout").hidden = false;
  api("session")
    .then((who) => {
      me = who;
      const el = document.getElementById("whoami");
      el.textContent = who.user;
      el.title = [who.via && `signed in with ${who.via}`, who.groups?.length ? `groups: ${who.groups.join(", ")}` : ""].filter(Boolean).join(" · ");
      el.hidden = false;
    })
    .catch(() => {});
  startStream();
  route();
}

async function boot() {
  document.getElementById("skip-link").addEventListener("click", (e) => {
    e.preventDefault();
    main().focus();
  });
  document.getElementById("signout").addEventListener("click", async () => {
    let logout = null;
    try {
      logout = (await api("session", { method: "DELETE" }))?.logoutURL;
    } catch {
      /* signed out either way */
    }
    if (logout) {
      // The identity provider's own sign-out too, as configured (oidc.config logoutURL).
      location.href = logout;
      return;
    }
    needSignIn("Signed out.");
    const err = document.getElementById("signin-error");
    if (err) err.className = "notice";
  });
  window.addEventListener("hashchange", () => {
    if (location.hash.startsWith("#token=")) signInFromHash();
    else route();
  });
  if (location.hash.startsWith("#token=")) {
    signInFromHash();
    return;
  }
  try {
    await api("session");
    start();
  } catch (e) {
    if (e.status === 401) needSignIn();
    else fill(main(), errorNotice(e, "Ferry's server could not be reached."));
  }
}

/** A link with #token=VALUE signs in; the token then leaves the URL (and the history). */
async function signInFromHash() {
  const token = decodeURIComponent(location.hash.slice("#token=".length).split("&")[0]);
  history.replaceState(null, "", `${location.pathname}${location.search}#/apps`);
  try {
    await signIn(token);
    signInShown = false;
    start();
  } catch (e) {
    signInShown = false;
    needSignIn(e.status === 401 ? "The token in the link was not accepted." : e.message);
  }
}

boot();
