"""The customer's signature pad: the screen's only inline script, and the policy allowing it.

The screen runs no inline script (its Content-Security-Policy says `script-src 'self'`:
the missions list's `watch.js` file only), except on the mission page this one inline
script, allowed by its SHA-256 and nothing else: no other inline script, no file, no
eval. It turns the signature form's `<canvas>` into a pad and, on submit, fills the
hidden `signature` field with a PNG data URL. Without script, the canvas stays hidden
and the same form takes a picture of a signature on paper (the file input).
"""

from __future__ import annotations

import base64
import hashlib

from markupsafe import Markup

SCRIPT = """
(function () {
  var form = document.querySelector("form.signature-form");
  if (!form) { return; }
  var canvas = form.querySelector("canvas");
  var field = form.querySelector("input[name=signature]");
  var paper = form.querySelector(".signature-paper");
  var clear = form.querySelector(".signature-clear");
  var empty = form.querySelector(".signature-empty");
  var pen = canvas.getContext("2d");
  var drawn = false, last = null;
  function blank() {
    pen.fillStyle = "#fff";
    pen.fillRect(0, 0, canvas.width, canvas.height);
    drawn = false;
    field.value = "";
  }
  function at(event) {
    var box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width,
            (event.clientY - box.top) * canvas.height / box.height];
  }
  canvas.hidden = false;
  clear.hidden = false;
  paper.hidden = true;
  pen.lineWidth = 4;
  pen.lineCap = "round";
  pen.lineJoin = "round";
  pen.strokeStyle = "#101828";
  blank();
  canvas.addEventListener("pointerdown", function (event) {
    canvas.setPointerCapture(event.pointerId);
    last = at(event);
    event.preventDefault();
  });
  canvas.addEventListener("pointermove", function (event) {
    if (!last) { return; }
    var point = at(event);
    pen.beginPath();
    pen.moveTo(last[0], last[1]);
    pen.lineTo(point[0], point[1]);
    pen.stroke();
    last = point;
    drawn = true;
    empty.hidden = true;
    event.preventDefault();
  });
  function lift() { last = null; }
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  clear.addEventListener("click", blank);
  form.addEventListener("submit", function (event) {
    if (!drawn && !paper.querySelector("input").value) {
      event.preventDefault();
      empty.hidden = false;
      return;
    }
    if (drawn) { field.value = canvas.toDataURL("image/png"); }
  });
})();
"""

SCRIPT_HASH = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")

# The screen's policy (fieldclient.screen.context) with this one script allowed.
POLICY = (
    f"default-src 'self'; script-src 'sha256-{SCRIPT_HASH}'; style-src 'self';"
    " img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def script_tag() -> Markup:
    """The `<script>` element, byte for byte what the hash allows."""
    return Markup("<script>") + Markup(SCRIPT) + Markup("</script>")
