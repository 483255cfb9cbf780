// ClearFrame: small progressive enhancements. Pages work without JavaScript.
"use strict";

// Live progress for manifest imports: <div data-import-status-url="..."> polls until finished.
function watchImport(el) {
  const url = el.dataset.importStatusUrl;
  const bar = el.querySelector("progress");
  const label = el.querySelector("[data-progress-label]");
  const rows = el.querySelector("[data-progress-rows]");
  const badge = document.getElementById("import-status");
  async function tick() {
    let state;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.redirected || response.status === 403 || response.status === 404) {
        // Signed out (the status URL sends to the sign-in page) or no longer allowed: say so, stop asking.
        label.textContent = "Progress stopped updating: your session ended. Reload the page to sign in again.";
        return;
      }
      state = await response.json();
    } catch (e) {
      label.textContent = "Cannot reach the server; trying again…";
      setTimeout(tick, 2000);
      return;
    }
    if (state.percent === null) {
      // Applying: one transaction whose progress cannot be seen, so an indeterminate bar.
      bar.removeAttribute("value");
      bar.textContent = state.status_label;
      label.textContent = state.status_label + " " + state.rows_seen.toLocaleString() + " rows…";
    } else {
      bar.value = state.percent;
      bar.textContent = state.percent + "%";
      label.textContent = state.status_label + " — " + state.percent + "%";
    }
    if (badge) {
      badge.textContent = state.status_label;
      badge.className = "status " + state.status;
    }
    if (rows) rows.textContent = state.rows_seen.toLocaleString() + " rows read, " + state.error_count.toLocaleString() + (state.error_count === 1 ? " problem found" : " problems found");
    if (state.finished) {
      window.location.reload();
    } else {
      setTimeout(tick, 700);
    }
  }
  tick();
}

// Example pricing in the offer editor, recomputed by the server's pricing module as you type.
function watchOfferForm(form) {
  const target = document.getElementById("example-pricing");
  const url = form.dataset.previewUrl;
  let timer = null;
  async function refresh() {
    const body = new FormData(form);
    const response = await fetch(url, { method: "POST", body, credentials: "same-origin" });
    const data = await response.json();
    const list = document.createElement("tbody");
    if (!response.ok) {
      const messages = Object.values(data.errors || {}).flat().join(" ");
      target.innerHTML = "";
      const row = target.insertRow();
      const cell = row.insertCell();
      cell.colSpan = 2;
      cell.className = "muted";
      cell.textContent = messages || "Complete the price plan to see example prices.";
      showLines("plan-terms", []);
      showLines("plan-notes", []);
      return;
    }
    for (const example of data.examples) {
      const row = list.insertRow();
      row.insertCell().textContent = example.hours.toLocaleString() + " hours";
      const amount = row.insertCell();
      amount.className = "num";
      amount.textContent = example.total;
    }
    if (data.whole_corpus) {
      const row = list.insertRow();
      row.className = "whole-corpus";
      row.insertCell().textContent = `The whole corpus, once (${data.whole_corpus.running_time})`;
      const amount = row.insertCell();
      amount.className = "num";
      amount.textContent = data.whole_corpus.total;
    }
    target.replaceChildren(...list.rows);
    showLines("plan-terms", data.terms || []);
    showLines("plan-notes", data.notes || []);
  }
  function showLines(id, lines) {
    const list = document.getElementById(id);
    if (!list) return;
    list.replaceChildren(...lines.map((text) => {
      const item = document.createElement("li");
      item.textContent = text;
      return item;
    }));
  }
  form.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(refresh, 300);
  });
  // A form back from the server with errors shows what was typed: price it too, not the saved version.
  if ("refreshOnLoad" in form.dataset) refresh();
}

// "Select all" for asset lists.
function watchSelectAll(box) {
  box.addEventListener("change", () => {
    for (const item of document.querySelectorAll("input[name=asset]")) item.checked = box.checked;
  });
}

// Forms that do something drastic ask first.
function confirmSubmit(form) {
  form.addEventListener("submit", (event) => {
    // A preview (the offer editor's example pricing without JavaScript's live update) changes nothing.
    if (event.submitter && event.submitter.name === "preview") return;
    // A form that only asks about a change: nothing chosen differs from what the page showed.
    if ("confirmIfChanged" in form.dataset && unchanged(form)) return;
    // A required field left empty: the server names what is missing first, and nothing is done yet to confirm.
    if (missingRequired(form)) return;
    if (!window.confirm(form.dataset.confirm)) event.preventDefault();
  });
}

function missingRequired(form) {
  return [...form.elements].some((field) => field.required && !field.disabled && !String(field.value).trim());
}

function unchanged(form) {
  return [...form.elements].every((field) =>
    field.tagName !== "SELECT" || [...field.options].every((option) => option.selected === option.defaultSelected));
}

// Copy a secret to the clipboard.
function copyButton(button) {
  button.addEventListener("click", async () => {
    const source = document.querySelector(button.dataset.copy);
    source.select();
    try {
      await navigator.clipboard.writeText(source.value);
      button.textContent = "Copied";
    } catch (e) {
      document.execCommand("copy");
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  // A form that came back with errors: start at its summary, which links to each field.
  const summary = document.querySelector("[data-error-summary]");
  if (summary) summary.focus();
  document.querySelectorAll("form[data-confirm]").forEach(confirmSubmit);
  document.querySelectorAll("[data-copy]").forEach(copyButton);
  document.querySelectorAll("[data-import-status-url]").forEach(watchImport);
  document.querySelectorAll("form[data-preview-url]").forEach(watchOfferForm);
  document.querySelectorAll("[data-select-all]").forEach(watchSelectAll);
});
