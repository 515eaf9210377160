/* The missions list learns new assignments by itself: every few seconds, while the
   browser says it is online and the page is visible, it posts to the screen's watch
   (which asks the office "anything new?" and syncs when there is) and reloads the list
   when something came. Offline it waits for the network; signed out, revoked or with a
   journal that does not verify, it stops. Without this script the Sync button does the
   same by hand. */
(function () {
  "use strict";
  var mark = document.querySelector("[data-watch-url]");
  if (!mark || !window.fetch) { return; }
  var url = mark.getAttribute("data-watch-url");
  var every = 1000 * (parseInt(mark.getAttribute("data-watch-seconds"), 10) || 5);
  var token = document.querySelector("input[name=csrf_token]");
  var timer = null;

  function schedule(ms) {
    window.clearTimeout(timer);
    timer = window.setTimeout(ask, ms);
  }

  function ask() {
    if (!navigator.onLine || document.hidden) { return schedule(every); }
    var body = new URLSearchParams();
    body.set("csrf_token", token ? token.value : "");
    fetch(url, { method: "POST", credentials: "same-origin", body: body,
                 headers: { "Accept": "application/json" } })
      .then(function (answer) {
        var type = answer.headers.get("Content-Type") || "";
        if (!answer.ok || type.indexOf("json") < 0) { return { stop: true }; } /* signed out */
        return answer.json();
      })
      .then(function (said) {
        if (said.stop) { return; }
        if (said.changed) { window.location.reload(); return; }
        schedule(1000 * (said.every || every / 1000));
      })
      .catch(function () { schedule(6 * every); });
  }

  window.addEventListener("online", function () { schedule(0); });
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { schedule(0); }
  });
  schedule(every);
})();
