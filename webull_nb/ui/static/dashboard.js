// The teacher's class dashboard in the notebook (an anywidget ES module; no build step).
//
// The kernel polls the class server and publishes one dict, `state` (see
// webull_nb/ui/dashboard.py): the rows of the last /_class/status, the class's scenarios, the
// server's `now`, an error and a notice. It never holds the teacher token. This view draws the
// same table as the class server's own page (webull_nb/simulator/static/classroom.html), every
// value with textContent, and sends custom messages back: `hello`/`alive`/`bye` (so the kernel
// polls only while a view is open and visible), `scenario`, `refresh`, and `token` (a new
// teacher token after a 401, handed to the kernel and never kept here).

const STATUSES = ["NONE", "PENDING", "NORMAL", "EXPIRED", "INVALID"];
const COLUMNS = [
  ["student", "Student"],
  ["status", "Status"],
  ["checks", "Checks"],
  ["rate_limited", "Rate-limited"],
  ["signature_errors", "Signature errors"],
  ["last_error", "Last error"],
  ["last_seen", "Last seen"],
  ["exercises", "Exercises passed"],
  ["scenarios", "Scenarios"],
];
const MAX_CHANGES = 30;

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children); // strings become text nodes, never HTML
  return node;
}

const num = (value) => (typeof value === "number" && Number.isFinite(value) ? value : null);
const plural = (n, word) => `${n} ${word}${n === 1 ? "" : "s"}`;

// The same words as webull_nb/ui/dashboard.py ago() and the page.
function ago(seconds) {
  if (seconds === null) return "never";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 172800) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} days ago`;
}

function clockTime(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString([], { hour12: false });
}

// The same words as webull_nb/ui/dashboard.py describe_scenario().
function describe(name, params) {
  const p = params && typeof params === "object" ? params : {};
  switch (name) {
    case "slow":
      return `slow answers (${p.seconds ?? "?"} s)`;
    case "clock_offset": {
      const m = num(p.minutes);
      return `clock off by ${m === null ? "?" : `${m > 0 ? "+" : ""}${m}`} min`;
    }
    case "server_errors":
      return `server errors (next ${p.count ?? "?"} answer ${p.status ?? 503})`;
    case "no_device":
      return "no device";
    case "expire_tokens":
      return "expire tokens";
    default: {
      const extra = Object.entries(p).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`);
      return extra.length ? `${name} (${extra.join(", ")})` : String(name);
    }
  }
}

function render({ model, el: host }) {
  const view = Math.random().toString(36).slice(2) + Date.now().toString(36);
  const send = (content) => model.send({ ...content, view });
  let previous = null;

  // --- the skeleton ----------------------------------------------------------------------------
  const summary = el("span", { class: "wnb-dash-summary" });
  const where = el("small", { class: "wnb-dash-url" });
  const error = el("div", { class: "wnb-dash-error", role: "alert" });
  const notice = el("div", { class: "wnb-dash-notice", role: "status", "aria-live": "polite" });

  // After a 401: a new teacher token, sent to the kernel and cleared from the page at once.
  const tokenInput = el("input", { type: "password", class: "wnb-dash-token", autocomplete: "off", spellcheck: "false" });
  const tokenForm = el(
    "form",
    { class: "wnb-dash-token-form", "aria-label": "A new teacher token" },
    el("label", {}, el("span", { text: "Teacher token" }), tokenInput),
    el("button", { type: "submit", class: "wnb-dash-button wnb-dash-primary", text: "Use this token" }),
  );
  tokenForm.addEventListener("submit", (event) => {
    event.preventDefault();
    send({ action: "token", token: tokenInput.value });
    tokenInput.value = "";
  });

  const classChips = el("span", { class: "wnb-dash-chips" });
  const target = el("select", { class: "wnb-dash-target" }, el("option", { value: "", text: "Everyone" }));
  const inputs = {
    count: el("input", { type: "number", min: "1", max: "1000", step: "1", value: "5" }),
    status: el("select", {}, ...["500", "502", "503", "504"].map((s) => el("option", { value: s, text: s }))),
    seconds: el("input", { type: "number", min: "0.1", max: "60", step: "0.5", value: "2" }),
    minutes: el("input", { type: "number", min: "-1440", max: "1440", step: "1", value: "7" }),
  };
  inputs.status.value = "503";
  const param = (name, label) => el("label", {}, `${label} `, inputs[name]);
  const trigger = (name, student, off) => {
    const params = {};
    if (!off) {
      if (name === "server_errors") Object.assign(params, { count: Number(inputs.count.value), status: Number(inputs.status.value) });
      if (name === "slow") params.seconds = Number(inputs.seconds.value);
      if (name === "clock_offset") params.minutes = Number(inputs.minutes.value);
    }
    send({ action: "scenario", scenario: name, student: student || null, off, params });
  };
  const startButton = (name, label, title) => {
    const button = el("button", { type: "button", class: "wnb-dash-button", "data-scenario": name, title, text: label });
    button.addEventListener("click", () => trigger(name, target.value, false));
    return button;
  };
  const scenarios = el(
    "section",
    { class: "wnb-dash-scenarios", "aria-label": "Scenarios" },
    el("div", { class: "wnb-dash-controls" }, el("b", { text: "Scenarios for everyone: " }), classChips),
    el(
      "div",
      { class: "wnb-dash-controls" },
      el("label", {}, "Start for ", target),
      startButton("expire_tokens", "Expire tokens now", "Every PENDING token becomes EXPIRED and every NORMAL one INVALID, now"),
      el("span", { class: "wnb-dash-group" }, startButton("server_errors", "Server errors", "The next API requests fail with this HTTP status"), param("count", "count"), param("status", "status")),
      el("span", { class: "wnb-dash-group" }, startButton("slow", "Slow answers", "Every answer waits this long"), param("seconds", "seconds")),
      el("span", { class: "wnb-dash-group" }, startButton("clock_offset", "Clock offset", "The server's clock is off by this much"), param("minutes", "minutes")),
      startButton("no_device", "No device", "Creating a token answers 400 NO_AVAILABLE_DEVICE"),
    ),
  );

  const tbody = el("tbody");
  const table = el(
    "table",
    { class: "wnb-dash-table", "aria-label": "Students" },
    el("thead", {}, el("tr", {}, ...COLUMNS.map(([, label]) => el("th", { scope: "col", text: label })))),
    tbody,
  );
  const changes = el("ol", { class: "wnb-dash-changes", role: "log", "aria-label": "Changes" });
  const root = el(
    "section",
    { class: "wnb-dashboard", "aria-label": "Class dashboard" },
    el("div", { class: "wnb-dash-title" }, el("b", { text: "Class dashboard " }), where, " ", summary),
    error,
    tokenForm,
    scenarios,
    notice,
    el("div", { class: "wnb-dash-table-box" }, table),
    el("details", {}, el("summary", { text: "Changes" }), changes),
  );
  host.append(root);

  // --- drawing ---------------------------------------------------------------------------------
  const setText = (node, text) => {
    if (node.textContent !== text) node.textContent = text;
  };

  // Chips with their "off" buttons, redrawn only when they change (keeps keyboard focus).
  function drawChips(box, active, student) {
    const entries = active && typeof active === "object" ? Object.entries(active) : [];
    const key = JSON.stringify(entries);
    if (box.dataset.key === key) return;
    box.dataset.key = key;
    const who = student || "everyone";
    const chips = entries.map(([name, params]) => {
      const label = describe(name, params);
      const off = el("button", { type: "button", class: "wnb-dash-off", "aria-label": `Turn off ${label} for ${who}`, title: "Turn off", text: "✕" });
      off.addEventListener("click", () => trigger(name, student, true));
      return el("span", { class: "wnb-dash-chip" }, el("span", { text: label }), off);
    });
    box.replaceChildren(...(chips.length ? chips : [el("span", { class: "wnb-dash-muted", text: "none" })]));
  }

  const rows = new Map();
  function rowFor(student) {
    let row = rows.get(student);
    if (row) return row;
    const cells = {};
    const tr = el("tr");
    tr.setAttribute("data-student", student);
    for (const [name] of COLUMNS) {
      cells[name] = el(name === "student" ? "th" : "td", { class: `wnb-dash-col-${name}` });
      tr.append(cells[name]);
    }
    cells.student.setAttribute("scope", "row");
    cells.student.textContent = student;
    cells.badge = el("span", { class: "wnb-dash-badge" });
    cells.status.append(cells.badge);
    cells.chips = el("span", { class: "wnb-dash-chips" });
    const pick = el("button", { type: "button", class: "wnb-dash-button wnb-dash-pick", text: "Target", "aria-label": `Start a scenario for ${student}` });
    pick.addEventListener("click", () => {
      target.value = student;
      target.focus();
    });
    cells.scenarios.append(cells.chips, pick);
    row = { tr, cells };
    rows.set(student, row);
    return row;
  }

  function syncTargets(students) {
    const key = students.join("\u0000");
    if (target.dataset.key === key) return;
    target.dataset.key = key;
    const chosen = target.value;
    target.replaceChildren(el("option", { value: "", text: "Everyone" }), ...students.map((s) => el("option", { value: s, text: s })));
    target.value = students.includes(chosen) ? chosen : "";
  }

  function note(text, when) {
    changes.prepend(el("li", {}, el("time", { text: clockTime(when) }), " ", text));
    while (changes.children.length > MAX_CHANGES) changes.lastElementChild.remove();
  }

  function logChanges(before, students, now) {
    if (!before) return;
    const old = new Map(before.map((s) => [s.student, s]));
    for (const s of students) {
      const o = old.get(s.student);
      if (!o) continue;
      if (o.status !== s.status) note(`${s.student}: ${o.status} → ${s.status}.`, now);
      if (s.signature_errors > o.signature_errors) note(`${s.student}: signature error${s.last_error ? `: ${s.last_error}` : ""}.`, now);
      if (s.rate_limited > o.rate_limited) note(`${s.student}: rate-limited (429).`, now);
      const had = new Set(o.exercises || []);
      for (const name of s.exercises || []) if (!had.has(name)) note(`${s.student} passed ${name}.`, now);
    }
  }

  function draw() {
    const state = model.get("state") || {};
    const students = Array.isArray(state.students) ? state.students : [];
    const now = num(state.now) ?? Date.now() / 1000;
    setText(where, state.url || "");
    setText(error, state.error ? `⚠ ${state.error}` : "");
    error.hidden = !state.error;
    tokenForm.hidden = !state.refused;
    setText(notice, state.notice || "");

    const counts = {};
    const order = [];
    for (const s of students) {
      const { tr, cells } = rowFor(s.student);
      order.push(tr);
      const status = STATUSES.includes(s.status) ? s.status : "NONE";
      counts[status] = (counts[status] || 0) + 1;
      cells.badge.className = `wnb-dash-badge wnb-dash-${status}`;
      setText(cells.badge, status);
      for (const name of ["checks", "rate_limited", "signature_errors"]) {
        const value = num(s[name]) ?? 0;
        setText(cells[name], String(value));
        cells[name].classList.toggle("wnb-dash-hot", name !== "checks" && value > 0);
      }
      setText(cells.last_error, s.last_error || "—");
      const seen = num(s.last_seen);
      setText(cells.last_seen, ago(seen === null ? null : now - seen));
      const passed = Array.isArray(s.exercises) ? s.exercises : [];
      setText(cells.exercises, passed.length ? `${passed.length}: ${passed.join(", ")}` : "—");
      drawChips(cells.chips, s.scenarios, s.student);
    }
    const listed = new Set(students.map((s) => s.student));
    for (const [student, row] of rows) {
      if (!listed.has(student)) {
        row.tr.remove();
        rows.delete(student);
      }
    }
    order.forEach((tr, i) => {
      if (tbody.children[i] !== tr) tbody.insertBefore(tr, tbody.children[i] || null);
    });
    drawChips(classChips, state.scenarios, null);
    syncTargets(students.map((s) => s.student));
    const parts = STATUSES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`);
    const paused = state.polling ? "" : " · paused";
    setText(summary, `${plural(students.length, "student")}${parts.length ? `: ${parts.join(", ")}` : ""}${state.now ? ` · ${clockTime(now)}` : ""}${paused}`);
    logChanges(previous, students, now);
    previous = students;
  }

  // --- telling the kernel this view is open (it polls only then) ------------------------------
  const alive = () => {
    if (!document.hidden) send({ action: "alive" });
  };
  const everyMs = () => Math.max(1, num((model.get("state") || {}).alive_every_s) ?? 15) * 1000;
  const heartbeat = setInterval(alive, everyMs());
  document.addEventListener("visibilitychange", alive);

  model.on("change:state", draw);
  draw();
  send({ action: "hello" });
  return () => {
    clearInterval(heartbeat);
    document.removeEventListener("visibilitychange", alive);
    model.off("change:state", draw);
    try {
      send({ action: "bye" });
    } catch {
      // the widget is already closed: the kernel's lease ends the polling anyway
    }
  };
}

export default { render };
