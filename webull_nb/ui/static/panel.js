// The webull-nb token panel, drawn in the browser (an anywidget ES module; no build step).
//
// The kernel publishes two dicts, `state` and `phone` (see webull_nb/ui/panel.py; `state` is
// built by webull_nb/ui/view.py, its sentences by webull_nb/core/messages.py); this view draws
// them, runs the countdown on the browser's own timer, and sends actions back as custom
// messages. Each change event redraws from both dicts, whichever arrived, because some
// frontends deliver the traits of one update separately and in any order.

const TICK_MS = 250;
const WARN_BEFORE_CLOSE_MS = 60_000;
const NOTIFY_KEY = "webull-nb:notify";
const BUTTONS = [
  ["create", "Create token", "Ask Webull for a token: an SMS code goes to your phone"],
  ["new_code", "Send a new code", "Ask for a new token and a new SMS code"],
  ["check", "Check now", "Ask Webull for the token's status"],
  ["forget", "Forget token", "Drop the token here and from the token store"],
];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (name === "text") node.textContent = value;
    else node.setAttribute(name, value);
  }
  node.append(...children);
  return node;
}

// The same m:ss as webull_nb/core/timefmt.py countdown(): rounded up, never negative
// (a panel test runs both on the same values).
function mmss(ms) {
  const whole = Math.max(0, Math.floor(ms / 1000 + 0.999));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
}

function daysHours(ms) {
  const hours = Math.max(0, Math.floor(ms / 3_600_000));
  return hours >= 48 ? `${Math.floor(hours / 24)} days` : `${hours} h`;
}

function notificationsOn() {
  try {
    return (
      "Notification" in globalThis &&
      Notification.permission === "granted" &&
      localStorage.getItem(NOTIFY_KEY) === "1"
    );
  } catch {
    return false; // storage blocked (sandboxed frames)
  }
}

function notify(title, body, tag) {
  if (!notificationsOn()) return;
  try {
    // The tag makes several views of one panel raise one notification, not one each.
    new Notification(title, { body, tag });
  } catch {
    // Some browsers only allow notifications from a service worker: nothing to do.
  }
}

function render({ model, el: host }) {
  const send = (content) => model.send(content);
  let offset = 0; // server clock minus browser clock, in ms
  let lastClock = null;
  let editing = false;
  let lastStatus = null;
  let warnedFor = null;
  let state = {};
  // "Create token" and "Send a new code" ask for an SMS: after a click, "Send a new code" stays
  // disabled while the kernel works and for the quiet time after, as the kernel ignores
  // repeats then anyway (one new code per click burst).
  let codeAsk = null; // {at, busySeen, endedAt} in performance.now() ms

  // --- the skeleton: built once, filled by draw() and tick() ---------------------------------
  const title = el("div", { class: "wnb-title" });
  const badge = el("span", { class: "wnb-badge", role: "status", "aria-live": "polite" });
  const big = el("span", { class: "wnb-big" });
  const bar = el("div", { class: "wnb-bar-fill" });
  const barBox = el(
    "div",
    { class: "wnb-bar", role: "progressbar", "aria-label": "Time left to approve the token" },
    bar,
  );
  const countdownText = el("span", { class: "wnb-countdown-text" });
  const countdown = el("div", { class: "wnb-countdown" }, big, countdownText, barBox);
  const buttons = {};
  const row = el("div", { class: "wnb-buttons" });
  for (const [action, label, hint] of BUTTONS) {
    const button = el("button", { type: "button", class: `wnb-button wnb-${action}`, title: hint, text: label });
    button.addEventListener("click", () => {
      if (button.disabled) return;
      if (action === "create" || action === "new_code") {
        codeAsk = { at: performance.now(), busySeen: false, endedAt: null };
        button.disabled = action === "new_code"; // at once, not at the next kernel message
      }
      send({ action });
    });
    buttons[action] = button;
    row.append(button);
  }
  const change = el("button", { type: "button", class: "wnb-button wnb-change-credentials", text: "Change credentials" });
  change.addEventListener("click", () => {
    editing = !editing;
    draw();
  });
  const bell = el("button", { type: "button", class: "wnb-button wnb-notify", text: "Notify me" });
  bell.addEventListener("click", async () => {
    if (!("Notification" in globalThis)) return;
    const permission = await Notification.requestPermission();
    try {
      localStorage.setItem(NOTIFY_KEY, permission === "granted" ? "1" : "0");
    } catch {
      // storage blocked: the permission alone is not an opt-in, so nothing is sent
    }
    draw();
  });
  const busy = el("span", { class: "wnb-busy", text: "Working…" });
  row.append(change, bell, busy);

  // Credentials: the secret goes to the kernel in the same message as the key, and leaves
  // the page at once; it is never model state.
  const key = el("input", { type: "text", class: "wnb-app-key", autocomplete: "off", spellcheck: "false" });
  const secret = el("input", { type: "password", class: "wnb-app-secret", autocomplete: "new-password" });
  const selects = {};
  const form = el("form", { class: "wnb-credentials", "aria-label": "App key and secret" });
  form.append(
    el("label", {}, el("span", { text: "App key" }), key),
    el("label", {}, el("span", { text: "App secret" }), secret),
  );
  for (const name of ["region", "environment", "api"]) {
    selects[name] = el("select", { class: `wnb-${name}` });
    form.append(el("label", {}, el("span", { text: name === "api" ? "API" : name[0].toUpperCase() + name.slice(1) }), selects[name]));
  }
  form.append(el("button", { type: "submit", class: "wnb-button wnb-use-credentials", text: "Use these credentials" }));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    send({
      action: "credentials",
      app_key: key.value,
      app_secret: secret.value,
      region: selects.region.value,
      environment: selects.environment.value,
      api: selects.api.value,
    });
    key.value = "";
    secret.value = "";
    editing = false;
  });

  const guidance = el("div", { class: "wnb-guidance" });
  const info = el("div", { class: "wnb-token-info" });
  const warning = el("div", { class: "wnb-warning", role: "note" });
  const error = el("div", { class: "wnb-error", role: "alert" });

  // The simulated phone, drawn when the kernel has one.
  const smsText = el("b", { class: "wnb-sms-text" });
  const screen = el("div", { class: "wnb-phone-screen" });
  const code = el("input", {
    type: "text",
    class: "wnb-sms-code",
    inputmode: "numeric",
    autocomplete: "one-time-code",
    maxlength: "6",
    placeholder: "6-digit code",
  });
  const phoneForm = el(
    "form",
    { class: "wnb-phone-entry", "aria-label": "Enter the SMS code" },
    el("label", {}, el("span", { text: "SMS code" }), code),
    el("button", { type: "submit", class: "wnb-button wnb-sms-confirm", text: "Confirm" }),
  );
  const refresh = el("button", { type: "button", class: "wnb-button wnb-phone-refresh", text: "Refresh" });
  refresh.addEventListener("click", () => send({ action: "phone_refresh" }));
  phoneForm.append(refresh);
  phoneForm.addEventListener("submit", (event) => {
    event.preventDefault();
    send({ action: "sms", code: code.value.trim() });
    code.value = "";
  });
  const phoneResult = el("div", { class: "wnb-phone-result", role: "status", "aria-live": "polite" });
  const phone = el(
    "section",
    { class: "wnb-phone", "aria-label": "Simulated phone" },
    el("div", {}, el("b", { text: "Simulated phone " }), el("small", { text: "(webull-nb simulator: in real life this is the Webull App on your phone)" })),
    screen,
    phoneForm,
    phoneResult,
  );

  const root = el(
    "section",
    { class: "wnb-panel", "aria-label": "Webull OpenAPI token" },
    title,
    form,
    el("div", { class: "wnb-status-row" }, badge),
    countdown,
    row,
    guidance,
    info,
    warning,
    error,
    phone,
  );
  host.append(root);

  const serverNow = () => Date.now() + offset;
  const show = (node, visible) => {
    node.hidden = !visible;
  };

  function fillSelect(select, options, value) {
    const wanted = options.join("\u0000");
    if (select.dataset.options !== wanted) {
      select.replaceChildren(...options.map((option) => el("option", { value: option, text: option })));
      select.dataset.options = wanted;
    }
    if (document.activeElement !== select && !form.contains(document.activeElement)) select.value = value;
  }

  // --- drawing from the kernel's state ------------------------------------------------------
  function draw() {
    state = model.get("state") || {};
    const p = model.get("phone") || {};
    if (state.clock_ms && state.clock_ms !== lastClock) {
      lastClock = state.clock_ms;
      offset = state.clock_ms - Date.now();
    }
    const where = state.where || `${state.environment} · ${state.region} · API ${state.api}`;
    if (codeAsk) {
      if (state.busy) codeAsk.busySeen = true;
      else if (codeAsk.busySeen && codeAsk.endedAt == null) codeAsk.endedAt = performance.now();
    }
    title.replaceChildren(
      el("b", { text: "Webull OpenAPI token " }),
      el("small", { text: `(${where}${state.app_key_hint ? ` · app key ${state.app_key_hint}` : ""})` }),
    );
    badge.className = `wnb-badge wnb-${state.badge || "NONE"}`;
    badge.textContent = state.badge_text || "";

    const showForm = !state.has_credentials || editing;
    show(form, showForm);
    secret.disabled = !showForm;
    if (state.choices) {
      for (const name of ["region", "environment", "api"]) fillSelect(selects[name], state.choices[name], state[name]);
    }

    // Both built by the kernel from escaped parts (webull_nb/ui/view.py).
    guidance.innerHTML = state.guidance || "";
    info.innerHTML = state.token_info || "";
    error.textContent = state.error ? `⚠ ${state.error}` : "";
    show(error, Boolean(state.error));

    const phoneOn = Object.keys(p).length > 0;
    show(phone, phoneOn);
    if (phoneOn) {
      if (p.sms) {
        smsText.textContent = p.sms;
        screen.replaceChildren(
          el("span", { class: "wnb-sms" }, "SMS from Webull: your OpenAPI verification code is ", smsText, ". Enter it within 5 minutes."),
        );
      } else {
        screen.replaceChildren(el("i", { text: p.problem || "No messages waiting." }));
      }
      phoneResult.textContent = p.result || "";
    }

    if (state.status === "NORMAL" && lastStatus === "PENDING") {
      notify("Webull token approved", "Your token is NORMAL: ready to use.", `wnb-normal-${state.token_hint}`);
    }
    lastStatus = state.status;
    tick();
  }

  // --- what moves with time: drawn here, never by the kernel ---------------------------------
  function codeHeld() {
    if (!codeAsk) return false;
    if (codeAsk.busySeen && codeAsk.endedAt == null) return true;
    const quietMs = (state.new_code_quiet_s || 5) * 1000;
    return performance.now() < (codeAsk.endedAt ?? codeAsk.at) + quietMs;
  }

  function tick() {
    const now = serverNow();
    const s = state;
    const pending = s.status === "PENDING" && s.deadline_ms != null;
    show(countdown, pending);
    if (pending) {
      const left = s.deadline_ms - now;
      const windowMs = (s.window_s || 300) * 1000;
      if (left > 0) {
        big.textContent = mmss(left);
        countdownText.textContent = " left to approve the token";
        bar.style.width = `${Math.min(100, (100 * left) / windowMs).toFixed(1)}%`;
        barBox.setAttribute("aria-valuetext", `${mmss(left)} left`);
        if (left <= WARN_BEFORE_CLOSE_MS && warnedFor !== s.deadline_ms) {
          warnedFor = s.deadline_ms;
          notify("Webull token: 1 minute left", "Approve it in the Webull App now.", `wnb-warn-${s.deadline_ms}`);
        }
      } else {
        big.textContent = "";
        countdownText.textContent = "Window closed, confirming…";
        bar.style.width = "0%";
        barBox.setAttribute("aria-valuetext", "window closed");
      }
    }

    const ready = Boolean(s.has_credentials) && !s.busy;
    const hasToken = s.status && s.status !== "NONE";
    const wait = s.next_check_ms ? s.next_check_ms - now : 0;
    buttons.create.disabled = !ready || s.status === "PENDING" || s.status === "NORMAL";
    show(buttons.create, s.status !== "PENDING");
    buttons.new_code.disabled = !ready || codeHeld();
    show(buttons.new_code, s.status === "PENDING");
    buttons.forget.disabled = !ready || !hasToken;
    buttons.check.disabled = !ready || !hasToken || wait > 0;
    buttons.check.textContent = wait > 0 ? `Next check in ${Math.ceil(wait / 1000)} s` : "Check now";
    change.disabled = Boolean(s.busy);
    show(change, Boolean(s.has_credentials) && !editing);
    show(busy, Boolean(s.busy));
    show(bell, "Notification" in globalThis && !notificationsOn());

    if (s.status === "NORMAL" && s.token_info) {
      show(info, true);
      const idleLeft = s.valid_until_ms ? s.valid_until_ms - now : Infinity;
      const warn = idleLeft < (s.idle_warning_ms || 0);
      // The kernel's sentence, with the time left that only the browser knows as it passes.
      warning.textContent = warn ? `⚠ ${(s.idle_warning || "").replace("{left}", daysHours(idleLeft))}` : "";
      show(warning, warn);
    } else {
      show(info, false);
      show(warning, false);
    }
  }

  model.on("change:state", draw);
  model.on("change:phone", draw);
  draw();
  const timer = setInterval(tick, TICK_MS);
  // The state's clock may be old by the time this view appears: ask for a fresh one.
  send({ action: "hello" });
  return () => {
    clearInterval(timer);
    model.off("change:state", draw);
    model.off("change:phone", draw);
  };
}

export default { render };
