// "Sync in progress": ask the console every two seconds how the import is going; reload when it ended.
(function () {
  var box = document.querySelector("[data-progress-url]");
  if (!box) { return; }
  var phase = box.querySelector("[data-phase]");
  var records = box.querySelector("[data-records]");
  function poll() {
    fetch(box.getAttribute("data-progress-url"), {credentials: "same-origin", cache: "no-store"})
      .then(function (response) { return response.json(); })
      .then(function (state) {
        if (!state.running) { window.location.reload(); return; }
        if (phase) { phase.textContent = state.reading_source ? "Reading the source" : (state.phase || "Waiting for the import holding the school"); }
        if (records) { records.textContent = String(state.records || 0); }
        window.setTimeout(poll, 2000);
      })
      .catch(function () { window.setTimeout(poll, 4000); });
  }
  window.setTimeout(poll, 1500);
})();
