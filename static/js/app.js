// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent.trim());
    button.textContent = "Copied";
  } catch {
    const range = document.createRange();
    range.selectNodeContents(source);
    getSelection().removeAllRanges();
    getSelection().addRange(range);
    button.textContent = "Selected: press Ctrl+C";
  }
});

// "Select all": a heading checkbox ticks every row's checkbox of the name it gives (bulk actions:
// the delivery log's replay, the Pages screen's connect). Hidden until this script runs.
for (const all of document.querySelectorAll("[data-select-all]")) all.hidden = false;
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-select-all]");
  if (!all) return;
  for (const box of document.querySelectorAll(`input[type=checkbox][name="${all.dataset.selectAll}"]`)) {
    box.checked = all.checked;
  }
});

// Confirmations (tenants/confirm.py): a form with [data-confirm] holds a closed <dialog>. The
// first submit opens it instead; only its confirm button (name="confirm") sends the form.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-confirm")) return;
  const submitter = event.submitter;
  if (submitter && submitter.name === "confirm") return;
  const dialog = form.querySelector("dialog.confirm");
  if (!dialog || typeof dialog.showModal !== "function") return; // the server asks instead
  event.preventDefault();
  if (dialog.open) return;
  dialog.showModal();
  const typed = dialog.querySelector("[data-confirm-match]");
  (typed || dialog.querySelector("[data-confirm-cancel]")).focus();
});

document.addEventListener("click", (event) => {
  const cancel = event.target.closest("[data-confirm-cancel]");
  if (cancel) cancel.closest("dialog").close();
});

document.addEventListener("input", (event) => {
  const input = event.target;
  if (!input.matches || !input.matches("[data-confirm-match]")) return;
  const button = input.closest("dialog").querySelector('button[name="confirm"]');
  button.disabled = input.value.trim() !== input.dataset.confirmMatch;
});

// Undo offers ([data-undo-until], an ISO time) disappear when the server would refuse them.
for (const offer of document.querySelectorAll("[data-undo-until]")) {
  const left = Date.parse(offer.dataset.undoUntil) - Date.now();
  setTimeout(() => offer.remove(), Math.max(left, 0));
}

// On a phone the workspace navigation folds behind the Menu button (without JavaScript it stays
// open above the page, as before).
const navToggle = document.querySelector(".nav-toggle");
const nav = navToggle && document.getElementById(navToggle.getAttribute("aria-controls"));
if (navToggle && nav) {
  navToggle.hidden = false;
  document.documentElement.classList.add("nav-collapsible");
  navToggle.addEventListener("click", () => {
    const open = navToggle.getAttribute("aria-expanded") !== "true";
    navToggle.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("open", open);
  });
}
