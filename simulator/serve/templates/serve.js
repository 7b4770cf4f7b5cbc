// qsim serve: submit a replay, poll its job, show it. Everything the service returns is
// written with textContent (never as markup), so no text of a tenant, a query or an engine
// can inject anything.
"use strict";
(function () {
  const body = document.body;
  const tenant = body.dataset.tenant;
  if (!tenant) return;
  const $ = (id) => document.getElementById(id);
  const POLL_MS = 100;
  const VERDICT_CLASS = /^[a-z_]+$/;
  let clickedAt = 0;

  async function post(path, payload) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", "X-Qsim-Request": "1" },
      body: JSON.stringify(payload),
      credentials: "same-origin",
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: "HTTP " + response.status }; }
    if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
    return data;
  }

  async function watchWarm() {
    const badge = $("warm-state");
    try { await post("/api/warm", { tenant: tenant }); } catch (e) { badge.textContent = e.message; return; }
    for (;;) {
      const response = await fetch("/api/status?tenant=" + encodeURIComponent(tenant), { credentials: "same-origin" });
      const data = await response.json();
      if (data.warm) { badge.textContent = "engine workers warm"; badge.classList.add("warm"); return; }
      if (data.error) { badge.textContent = "engine workers did not start: " + data.error; return; }
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  function text(value, unit) {
    if (value === null || value === undefined || value === "") return "—";
    if (typeof value === "number") return (Math.round(value * 100) / 100).toString() + (unit || "");
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  }

  const ROWS = [
    ["engine", (e) => e.engine],
    ["version", (e) => e.execution.engine_version],
    ["status", (e) => e.status],
    ["wall", (e) => text(e.execution.wall_ms, " ms")],
    ["CPU", (e) => text(e.execution.cpu_ms, " ms")],
    ["peak memory", (e) => text(e.execution.peak_rss_mb, " MB")],
    ["rows returned", (e) => text(e.execution.rows_returned)],
    ["rows affected", (e) => text(e.execution.rows_affected)],
    ["checksum", (e) => text(e.execution.checksum)],
    ["ordered checksum", (e) => text(e.execution.ordered_checksum)],
    ["tables written", (e) => (e.execution.writes && Object.keys(e.execution.writes).length ? e.execution.writes : "")],
    ["error", (e) => (e.execution.error_class || e.execution.error_message ? (e.execution.error_class || "") + ": " + (e.execution.error_message || "") : "")],
    ["reruns: median", (e) => text(e.rerun_median_ms, " ms")],
    ["reruns: each", (e) => (e.rerun_ms.length ? e.rerun_ms.map((v) => text(v)).join(", ") + " ms" : "")],
  ];

  function show(job) {
    $("result").hidden = false;
    $("job-id").textContent = job.job || "";
    $("job-state").textContent = job.state || "";
    const target = job.query_id ? "query " + job.query_id + " · pattern " + job.pattern_id + " · " + job.kind : "";
    $("job-target").textContent = target;
    const err = $("job-error");
    err.hidden = !job.error;
    err.textContent = job.error || "";
    const engines = job.engines || [];
    const tbody = $("sides").tBodies[0];
    tbody.textContent = "";
    for (const [label, cell] of ROWS) {
      const tr = tbody.insertRow();
      const th = document.createElement("th");
      th.textContent = label;
      tr.appendChild(th);
      for (const e of engines) tr.insertCell().textContent = text(cell(e));
    }
    engines.forEach((e, i) => {
      $(i === 0 ? "head-baseline" : "head-candidate").textContent = e.role + ": " + e.engine;
      $(i === 0 ? "sql-baseline" : "sql-candidate").textContent = e.sql || "";
    });
    for (const note of document.querySelectorAll(".sql-note")) {
      note.textContent = job.sql_masked ? "(literals masked)" : "";
    }
    const box = $("verdict-box");
    if (job.verdict) {
      const v = String(job.verdict.verdict);
      box.hidden = false;
      box.className = "verdict-line " + (v === "match" ? "ship" : "noship");
      const verdict = $("verdict");
      verdict.textContent = v;
      verdict.className = "decision" + (VERDICT_CLASS.test(v) ? " v-" + v : "");
      $("verdict-reason").textContent = job.verdict.reason || "";
      $("evidence").textContent = JSON.stringify(job.verdict.evidence, null, 2);
    } else {
      box.hidden = true;
      $("evidence").textContent = "";
    }
  }

  function verdictShown(job) {
    const elapsed = performance.now() - clickedAt;
    const walls = (job.engines || []).map((e) => e.engine + " " + text(e.execution.wall_ms, " ms"));
    $("verdict-time").textContent = "verdict " + Math.round(elapsed) + " ms after the click (engines: " + walls.join(", ") + ")";
    body.dataset.clickToVerdictMs = String(elapsed);
  }

  async function follow(job) {
    let verdictSeen = false;
    for (;;) {
      show(job);
      if (job.verdict && !verdictSeen) { verdictSeen = true; verdictShown(job); }
      if (job.state === "done" || job.state === "error") break;
      await new Promise((r) => setTimeout(r, POLL_MS));
      const response = await fetch("/api/jobs/" + encodeURIComponent(job.job), { credentials: "same-origin" });
      job = await response.json();
      if (!response.ok) { job = { state: "error", error: job.error || "HTTP " + response.status }; }
    }
    body.dataset.lastState = job.state;
  }

  async function run(payload) {
    clickedAt = performance.now();
    delete body.dataset.lastState;
    delete body.dataset.clickToVerdictMs;
    payload.tenant = tenant;
    payload.baseline = $("baseline").value;
    payload.candidate = $("candidate").value;
    payload.reruns = parseInt($("reruns").value || "0", 10);
    try {
      await follow(await post("/api/replay", payload));
    } catch (e) {
      show({ state: "error", error: e.message, engines: [] });
      body.dataset.lastState = "error";
    }
  }

  for (const button of document.querySelectorAll("button.run-query")) {
    button.addEventListener("click", () => run({ query_id: button.dataset.queryId }));
  }
  $("run-pasted").addEventListener("click", () => run({ sql: $("pasted").value }));
  $("reset").addEventListener("click", async () => {
    const badge = $("warm-state");
    badge.classList.remove("warm");
    badge.textContent = "resetting workspace…";
    try { await post("/api/reset", { tenant: tenant }); } catch (e) { badge.textContent = e.message; return; }
    await watchWarm();
  });
  watchWarm();
})();
