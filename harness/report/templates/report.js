document.addEventListener("click", function (event) {
  var button = event.target.closest("button[data-action]");
  if (!button) { return; }
  var action = button.getAttribute("data-action");
  if (action === "print") { window.print(); return; }
  document.querySelectorAll("details.messages").forEach(function (details) { details.open = action === "expand"; });
});
