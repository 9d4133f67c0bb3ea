/* Shared behaviour, no inline script (CSP): confirmations, image fallbacks, CSRF for fetch. */
(function () {
  "use strict";
  // el("td", "muted", "文字"): build an element with text, never innerHTML (file names are untrusted).
  window.el = function (tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined) { e.textContent = text; }
    return e;
  };
  window.csrfToken = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  };
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var msg = form.getAttribute("data-confirm");
    if (msg && !window.confirm(msg)) { ev.preventDefault(); }
  }, true);
  document.addEventListener("click", function (ev) {
    var btn = ev.target.closest ? ev.target.closest("[data-confirm-click]") : null;
    if (btn && !window.confirm(btn.getAttribute("data-confirm-click"))) { ev.preventDefault(); }
  }, true);
  document.querySelectorAll("img[data-fallback]").forEach(function (img) {
    img.addEventListener("error", function () {
      var p = document.createElement("p");
      p.className = "muted";
      p.textContent = img.getAttribute("data-fallback");
      img.replaceWith(p);
    });
  });
})();
