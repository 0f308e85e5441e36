// The Import Now dialog: a button opens it (showModal), Cancel closes it. Server-rendered otherwise.
(function () {
  document.querySelectorAll("[data-opens]").forEach(function (button) {
    var dialog = document.getElementById(button.getAttribute("data-opens"));
    if (dialog) { button.addEventListener("click", function () { dialog.showModal(); }); }
  });
  document.querySelectorAll("[data-closes]").forEach(function (button) {
    var dialog = document.getElementById(button.getAttribute("data-closes"));
    if (dialog) { button.addEventListener("click", function () { dialog.close(); }); }
  });
})();
