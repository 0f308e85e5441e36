// The live count under the section filters: when a filter or the class-name template changes, ask the
// console how many sections would become classes (it computes it from the form; nothing is saved).
(function () {
  var count = document.querySelector("[data-count-url]");
  if (!count) { return; }
  var form = count.closest("form");
  var timer = null;
  function refresh() {
    fetch(count.getAttribute("data-count-url"), {method: "POST", body: new FormData(form), credentials: "same-origin"})
      .then(function (response) { return response.json(); })
      .then(function (state) { count.textContent = state.text; })
      .catch(function () { count.textContent = "Not counted: press Preview."; });
  }
  form.addEventListener("input", function (event) {
    if (!event.target.closest("[data-live]")) { return; }
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 400);
  });
})();
