// Live updates of the trainer's console: the server sends an event on /console/events whenever the centre's state,
// its journal or its faults change; the page then fetches itself again and swaps in every region marked data-live,
// except one the trainer is typing in. Without this script (or EventSource) the pages still work: reload by hand.
(function () {
  "use strict";
  if (!window.EventSource || !window.fetch || !window.DOMParser) {
    return;
  }
  var pending = false;
  var again = false;

  function typingIn(region) {
    var active = document.activeElement;
    return active && region.contains(active) && /^(INPUT|SELECT|TEXTAREA)$/.test(active.tagName) && active.type !== "submit";
  }

  function refresh() {
    if (pending) {
      again = true;
      return;
    }
    pending = true;
    fetch(window.location.href, {credentials: "same-origin", cache: "no-store"})
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html) {
          var fresh = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live]").forEach(function (region) {
            var replacement = region.id && fresh.getElementById(region.id);
            if (replacement && !typingIn(region)) {
              region.replaceWith(document.importNode(replacement, true));
            }
          });
          document.body.setAttribute("data-revision", fresh.body.getAttribute("data-revision") || "");
          document.body.setAttribute("data-refreshed", String(Date.now()));
        }
      })
      .catch(function () {})
      .then(function () {
        pending = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  var since = document.body.getAttribute("data-revision") || "";
  var source = new EventSource("/console/events?since=" + encodeURIComponent(since));
  source.addEventListener("change", refresh);
})();
