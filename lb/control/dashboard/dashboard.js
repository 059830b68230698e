// lb dashboard: polls GET /api/v1/dashboard once a second and draws it.
// With the admin API's token_file, the API answers 401 until the page
// sends the token: the page then shows only a form asking for it, keeps
// it in sessionStorage (this tab only) and sends it as a Bearer header,
// never in a URL. Everything is built with DOM calls and textContent:
// names and reasons from the config or the API are never parsed as HTML.
"use strict";

(() => {
  const API = "/api/v1/dashboard";
  const TOKEN_KEY = "lb.dashboard.token";
  const POLL_MS = 1000;
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  let pollTimer = null;
  let generation = 0;  // of polls: an answer to a poll from before a login is dropped

  // ------------------------------------------------------------ small helpers

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("data-")) node.dataset[key.slice(5)] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function rate(value) {
    if (value === null || value === undefined) return "–";
    return value >= 100 ? value.toFixed(0) : value.toFixed(1);
  }

  function latency(us) {
    if (us === null || us === undefined) return "–";
    if (us < 1000) return `${Math.round(us)} µs`;
    if (us < 1e6) return `${(us / 1000).toFixed(us < 1e4 ? 2 : 1)} ms`;
    return `${(us / 1e6).toFixed(2)} s`;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const d = Math.floor(seconds / 86400), h = Math.floor(seconds / 3600) % 24;
    const m = Math.floor(seconds / 60) % 60, s = seconds % 60;
    if (d) return `${d}d ${h}h ${m}m`;
    if (h) return `${h}h ${m}m ${s}s`;
    if (m) return `${m}m ${s}s`;
    return `${s}s`;
  }

  function clock(unixMs) {
    return new Date(unixMs).toLocaleTimeString([], { hour12: false });
  }

  function setStatus(text, bad) {
    $("status").textContent = text;
    $("status").classList.toggle("bad", Boolean(bad));
  }

  // ------------------------------------------------------------ charts

  // A line over the last `points` seconds, as inline SVG. Gaps (null: no
  // request finished in that second) break the line.
  // The x axis spans what lb has kept, at least a minute: a young lb's
  // lines fill the chart as they grow instead of hugging its right edge.
  function chart(title, kind, series, values, format, points, intervalMs, nowMs) {
    const width = 300, height = 60;
    const present = values.filter((v) => v !== null);
    const top = Math.max(1e-9, ...present) * 1.1;
    const span = Math.min(points, Math.max(60, series.t.length)) * intervalMs;
    const start = nowMs - span;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("preserveAspectRatio", "none");
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", title);
    let run = [];
    const flush = () => {
      if (run.length) {
        const line = document.createElementNS(SVG, "polyline");
        line.setAttribute("points", run.join(" "));
        line.setAttribute("vector-effect", "non-scaling-stroke");
        svg.append(line);
      }
      run = [];
    };
    values.forEach((value, i) => {
      if (value === null) { flush(); return; }
      const x = Math.max(0, ((series.t[i] - start) / span) * width);
      const y = height - (value / top) * (height - 4) - 2;
      run.push(`${x.toFixed(1)},${y.toFixed(1)}`);
    });
    flush();
    const last = values.length ? values[values.length - 1] : null;
    return el("div", { class: `chart ${kind}` },
      el("div", { class: "head" }, el("span", {}, title),
        el("span", {}, "now ", el("span", { class: "now" }, format(last)),
          present.length ? ` · max ${format(Math.max(...present))}` : "")),
      svg);
  }

  function charts(series, data) {
    const args = [data.points, data.interval_ms, data.now_unix_ms];
    return [
      chart("Requests/s", "requests", series, series.requests_per_s, rate, ...args),
      chart("5xx/s", "errors", series, series.errors_per_s, rate, ...args),
      chart("p99 latency", "latency", series, series.p99_us, latency, ...args),
    ];
  }

  // ------------------------------------------------------------ sections

  function card(label, value, extraClass) {
    return el("div", { class: `card ${extraClass || ""}` },
      el("div", { class: "label" }, label), el("div", { class: "value" }, value));
  }

  function renderInstance(data) {
    const i = data.instance;
    $("version").textContent = i.version;
    const cards = [
      card("Uptime", duration(i.uptime_s)),
      card("Zone", i.zone || "–"),
      card("Workers", i.workers),
      card("Config generation", i.generation),
      card("Connections open", i.connections_open),
      card("Requests/s", rate(data.lb.requests_per_s)),
      card("5xx/s", rate(data.lb.errors_per_s)),
      card("p50 / p99", `${latency(data.lb.p50_us)} / ${latency(data.lb.p99_us)}`),
    ];
    const reload = i.last_reload;
    if (!reload) {
      cards.push(card("Last reload", "none since start", "wide"));
    } else {
      const text = `${reload.result} at ${clock(reload.unix_ms)}` + (reload.error ? `: ${reload.error}` : "");
      const node = card("Last reload", text, `wide ${reload.result}`);
      node.dataset.reload = reload.result;
      cards.push(node);
    }
    $("instance").replaceChildren(...cards);
    $("lb-charts").replaceChildren(...charts(data.lb.series, data));
  }

  function renderListeners(data) {
    const rows = data.listeners.map((l) => el("tr", { "data-listener": l.name },
      el("td", {}, l.name), el("td", {}, l.protocol), el("td", {}, l.listen),
      el("td", { class: "num" }, l.connections_open),
      el("td", { class: "num requests" }, rate(l.requests_per_s)),
      el("td", { class: "num" }, l.protocol === "https" ? rate(l.tls_handshakes_per_s) : "–")));
    $("listeners").tBodies[0].replaceChildren(...rows);
  }

  function source(target) {
    return target.source === "dns" && target.discovered_by ? `dns: ${target.discovered_by}` : target.source;
  }

  function targetRow(target) {
    const draining = target.drain_remaining_ms !== undefined
      ? `${Math.ceil(target.drain_remaining_ms / 1000)} s` : "–";
    const slow = target.slow_start_share !== undefined ? `${Math.round(target.slow_start_share * 100)} %` : "–";
    return el("tr", { "data-target": target.id, "data-state": target.state },
      el("td", {}, target.id, target.backup ? " (backup)" : ""),
      el("td", { class: "state" }, el("span", { class: `badge state-${target.state}` }, target.state)),
      el("td", { class: "reason" }, target.reason || ""),
      el("td", { class: "num" }, target.weight),
      el("td", {}, target.zone || "–"),
      el("td", {}, source(target)),
      el("td", { class: "num" }, slow),
      el("td", { class: "num" }, draining),
      el("td", { class: "num" }, target.active_connections),
      el("td", { class: "num" }, target.in_flight),
      el("td", { class: "num requests" }, rate(target.requests_per_s)),
      el("td", { class: "num" }, rate(target.errors_per_s)),
      el("td", { class: "num" }, latency(target.p50_us)),
      el("td", { class: "num" }, latency(target.p99_us)));
  }

  const TARGET_COLUMNS = ["Target", "State", "Reason", "Weight", "Zone", "Source", "Slow start", "Draining",
    "Conns", "In flight", "Req/s", "5xx/s", "p50", "p99"];
  const NUMERIC = new Set(["Weight", "Slow start", "Draining", "Conns", "In flight", "Req/s", "5xx/s", "p50", "p99"]);

  function renderGroup(group, data) {
    const counts = Object.entries(group.target_counts).filter(([state, n]) => state !== "total" && n > 0)
      .map(([state, n]) => el("span", { class: `badge state-${state}` }, `${n} ${state}`));
    const check = group.health_check
      ? `checked: ${group.health_check.protocol}${group.health_check.path ? " " + group.health_check.path : ""}`
      : "no health check";
    const head = el("div", { class: "group-head" },
      el("h2", {}, group.name),
      el("span", { class: "muted" }, `${group.protocol} · ${group.algorithm} · ${check}`),
      el("span", { class: "counts" }, ...counts),
      el("span", { class: "muted" },
        `${rate(group.requests_per_s)} req/s · ${rate(group.errors_per_s)} 5xx/s · p99 ${latency(group.p99_us)}`));
    const table = el("table", { class: "targets" },
      el("thead", {}, el("tr", {}, ...TARGET_COLUMNS.map((c) => el("th", { class: NUMERIC.has(c) ? "num" : "" }, c)))),
      el("tbody", {}, ...group.targets.map(targetRow)));
    return el("section", { class: "panel group", "data-group": group.name },
      head, el("div", { class: "charts" }, ...charts(group.series, data)),
      el("div", { class: "table-wrap" }, table));
  }

  function render(data) {
    renderInstance(data);
    renderListeners(data);
    $("groups").replaceChildren(...data.target_groups.map((g) => renderGroup(g, data)));
    setStatus(`generation ${data.instance.generation} · updated ${clock(data.now_unix_ms)}`);
  }

  // ------------------------------------------------------------ token and polling

  function showLogin(message) {
    clearTimeout(pollTimer);
    // Nothing of what an earlier token showed stays on the page.
    $("dashboard").hidden = true;
    $("instance").replaceChildren();
    $("lb-charts").replaceChildren();
    $("listeners").tBodies[0].replaceChildren();
    $("groups").replaceChildren();
    $("version").textContent = "";
    $("forget").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message || "";
    $("login-error").hidden = !message;
    setStatus("token needed");
    $("token").focus();
  }

  function schedule() {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, POLL_MS);
  }

  async function poll() {
    const mine = generation;
    const token = sessionStorage.getItem(TOKEN_KEY);
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    let response, data;
    try {
      response = await fetch(API, { headers, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
      if (response.ok) data = await response.json();
    } catch (error) {
      if (mine !== generation) return;
      setStatus(`lb not reachable (${error.message}); retrying`, true);
      schedule();
      return;
    }
    if (mine !== generation) return;
    if (response.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin(token ? "lb refused that token." : "");
      return;
    }
    if (!response.ok) {
      setStatus(`lb answered HTTP ${response.status}; retrying`, true);
      schedule();
      return;
    }
    $("login").hidden = true;
    $("dashboard").hidden = false;
    $("forget").hidden = !token;
    render(data);
    schedule();
  }

  function start() {
    $("login-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const token = $("token").value.trim();
      if (!token) return;
      sessionStorage.setItem(TOKEN_KEY, token);
      $("token").value = "";
      $("login").hidden = true;
      setStatus("connecting…");
      generation += 1;
      poll();
    });
    $("forget").addEventListener("click", () => {
      sessionStorage.removeItem(TOKEN_KEY);
      generation += 1;
      showLogin("");
    });
    poll();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
