// The status page of a large CSV upload: ask how far the import is every two seconds and move the bar;
// once it is finished, reload the page, which then shows the result. Without JavaScript the page
// refreshes itself (a <meta> refresh inside <noscript>) and has a plain "refresh" link.
(function () {
  "use strict";

  const section = document.querySelector("[data-upload-progress]");
  if (!section) return;
  const url = section.dataset.uploadProgress;
  const bar = section.querySelector("progress");
  const text = section.querySelector("[role=status]");
  const EVERY_MS = 2000;

  async function poll() {
    let state = null;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (response.ok) state = await response.json();
    } catch (error) {
      state = null; // offline for a moment: try again at the next turn
    }
    if (state && state.finished) {
      window.location.reload();
      return;
    }
    if (state) {
      bar.max = Math.max(state.rows_total, 1);
      bar.value = Math.min(state.rows_done, bar.max);
      bar.textContent = state.text;
      text.textContent = state.text;
    }
    window.setTimeout(poll, EVERY_MS);
  }

  window.setTimeout(poll, EVERY_MS);
})();
