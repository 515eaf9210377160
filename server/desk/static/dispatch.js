/* The dispatch board refreshes itself: every few seconds the page fetches the board
   alone (an HTML fragment of the same server-side template) and swaps it in. No
   framework: fetch and innerHTML. It waits while the dispatcher is typing or has
   changed a field of the board, while the tab is hidden, and stops (saying so) when
   the session has ended. Without this script the page works the same, with its
   "Refresh" link. */
(function () {
  "use strict";
  var holder = document.getElementById("board");
  if (!holder || !window.fetch) { return; }
  var url = holder.getAttribute("data-refresh-url");
  var every = 1000 * (parseInt(holder.getAttribute("data-refresh-seconds"), 10) || 10);

  function edited() {
    var active = document.activeElement;
    if (active && holder.contains(active) && /^(INPUT|SELECT|TEXTAREA|BUTTON|SUMMARY)$/.test(active.tagName)) {
      return true;
    }
    var fields = holder.querySelectorAll("textarea, select, input[type=checkbox]");
    for (var i = 0; i < fields.length; i++) {
      var f = fields[i];
      if (f.tagName === "TEXTAREA" && f.value !== f.defaultValue) { return true; }
      if (f.tagName === "SELECT" && f.selectedIndex > 0 && !f.options[f.selectedIndex].defaultSelected) { return true; }
      if (f.type === "checkbox" && f.checked !== f.defaultChecked) { return true; }
    }
    return holder.querySelector("details[open]") !== null;
  }

  function stale() {
    var board = holder.querySelector(".board");
    if (board) { board.className += " stale"; }
  }

  function refresh() {
    if (document.hidden || edited()) { return schedule(); }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (answer) {
        if (!answer.ok) { throw new Error(String(answer.status)); }
        return answer.text();
      })
      .then(function (html) {
        if (html.indexOf("data-board-day") < 0) { stale(); return; } /* signed out: stop */
        if (!edited()) { holder.innerHTML = html; }
        schedule();
      })
      .catch(function () { stale(); schedule(); });
  }

  function schedule() { window.setTimeout(refresh, every); }
  schedule();
})();

/* Each mission's "Assign to" list is filled from the board's one list of drivers
   (<template id="driver-choices">) when the dispatcher reaches for it: focus (the
   keyboard, a tap) or a press of the mouse, before the list opens. The mission's own
   driver is left out. A list the server filled (a refused card) is left as it is. */
(function () {
  "use strict";

  function fill(select) {
    if (select.options.length > 1) { return; }
    var source = document.getElementById(select.getAttribute("data-choices"));
    if (!source || !source.content) { return; }
    var current = select.getAttribute("data-current") || "";
    var choices = source.content.querySelectorAll("option");
    var fragment = document.createDocumentFragment();
    for (var i = 0; i < choices.length; i++) {
      if (choices[i].value !== current) { fragment.appendChild(choices[i].cloneNode(true)); }
    }
    select.appendChild(fragment);
  }

  function reached(event) {
    var target = event.target;
    if (target && target.tagName === "SELECT" && target.hasAttribute("data-choices")) { fill(target); }
  }

  document.addEventListener("focusin", reached, true);
  document.addEventListener("mousedown", reached, true);
  document.addEventListener("touchstart", reached, true);
})();
