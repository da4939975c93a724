document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-action]");
  if (!button) { return; }
  var action = button.getAttribute("data-action");
  if (action === "print") { document.body.classList.remove("print-all"); window.print(); return; }
  if (action === "print-all") {
    // everything on paper: every scenario, every message unfolded; the screen goes back as it was afterwards
    var folded = Array.prototype.filter.call(document.querySelectorAll("details.messages"), function (d) { return !d.open; });
    document.body.classList.add("print-all");
    folded.forEach(function (d) { d.open = true; });
    window.addEventListener("afterprint", function restore() {
      document.body.classList.remove("print-all");
      folded.forEach(function (d) { d.open = false; });
      window.removeEventListener("afterprint", restore);
    });
    window.print();
    return;
  }
  document.querySelectorAll("details.messages").forEach(function (details) { details.open = action === "expand"; });
});
