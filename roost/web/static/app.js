// Roost's web app: keeps the page's values live from the signed-in user's own stream, and
// sends each control's change through the one write path. No framework, no build step.
"use strict";
(function () {
  const prefix = "/app";
  const csrf = (document.querySelector('meta[name="csrf"]') || {}).content || "";
  const live = document.getElementById("live");
  let tree = null;

  function at(path) {
    let node = tree;
    for (const key of path.split("/")) {
      if (node === null || typeof node !== "object") return undefined;
      node = node[key];
    }
    return node;
  }

  function shown(el, value) {
    if (value === undefined || value === null) return "—";
    if (typeof value === "boolean" && el.dataset.yes !== undefined) {
      return value ? el.dataset.yes : el.dataset.no;
    }
    if (el.dataset.fmt === "time") return new Date(value).toLocaleString();
    return String(value);
  }

  function devicesOf(t) {
    const ids = [];
    for (const kind of Object.keys(t.devices || {})) ids.push(...Object.keys(t.devices[kind]));
    return ids.sort().join(",");
  }

  let rendered = null;
  function render() {
    // A device added or removed changes the page's shape: render it anew.
    const ids = devicesOf(tree);
    if (rendered !== null && ids !== rendered) { location.reload(); return; }
    rendered = ids;
    for (const el of document.querySelectorAll("[data-f]")) {
      const value = at(el.dataset.f);
      if (el.tagName === "INPUT" || el.tagName === "SELECT") {
        // Never overwrite what a person is typing.
        if (document.activeElement !== el && !el.dataset.dirty && value !== undefined) {
          el.value = value;
        }
      } else {
        el.textContent = shown(el, value);
      }
    }
    for (const el of document.querySelectorAll("[data-mode-of]")) {
      el.dataset.mode = at(el.dataset.modeOf) || "";
    }
  }

  function connect() {
    const source = new EventSource(prefix + "/events");
    source.addEventListener("open", () => { live.textContent = "Live"; });
    source.addEventListener("put", (event) => {
      tree = JSON.parse(event.data).data;
      render();
      live.textContent = "Live";
    });
    source.addEventListener("auth_revoked", () => {
      source.close();
      live.textContent = "Signed out";
      location.assign(prefix + "/signin");
    });
    source.addEventListener("error", () => {
      live.textContent = source.readyState === EventSource.CLOSED
        ? "Live updates stopped: reload the page" : "Reconnecting…";
    });
  }

  function typed(el, raw) {
    if (el.dataset.type === "number") return raw === "" ? null : Number(raw);
    if (el.dataset.type === "bool") return raw === "true";
    return raw;
  }

  async function send(form, submitter) {
    const values = {};
    for (const el of form.elements) {
      if (el.name && el.tagName !== "BUTTON") values[el.name] = typed(el, el.value);
    }
    if (submitter && submitter.name) values[submitter.name] = typed(submitter, submitter.value);
    const refusal = form.querySelector(".refusal");
    refusal.textContent = "";
    form.setAttribute("aria-busy", "true");
    try {
      const answer = await fetch(prefix + "/write", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
        body: JSON.stringify({path: form.dataset.path, values: values}),
      });
      if (!answer.ok) {
        const body = await answer.json().catch(() => ({error: "The change was not made."}));
        refusal.textContent = body.error;
      } else {
        for (const el of form.elements) delete el.dataset.dirty;
      }
    } catch (e) {
      refusal.textContent = "Roost could not be reached. Try again.";
    } finally {
      form.removeAttribute("aria-busy");
    }
  }

  for (const form of document.querySelectorAll("form.ctl")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      send(form, event.submitter);
    });
    form.addEventListener("input", (event) => { event.target.dataset.dirty = "1"; });
  }
  if (live) connect();
})();
