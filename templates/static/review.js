/* Review queue keys: j/k move, a approve, r write the reason to send back (Enter sends,
   Esc cancels), o open the item. Keys are ignored while typing in a field. */
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".rv-item"));
  if (!items.length) { return; }
  var cur = 0;
  var hash = window.location.hash.replace("#", "");
  items.forEach(function (it, i) { if (it.id === hash) { cur = i; } });

  function select(i, scroll) {
    if (i < 0 || i >= items.length) { return; }
    items[cur].classList.remove("current");
    cur = i;
    items[cur].classList.add("current");
    // Keep the focus where it is when it is already inside the card (e.g. its reason box).
    if (!items[cur].contains(document.activeElement)) { items[cur].focus({preventScroll: true}); }
    if (scroll !== false) { items[cur].scrollIntoView({block: "nearest"}); }
  }
  function typing(el) {
    return el && (el.tagName === "TEXTAREA" || el.tagName === "INPUT" || el.tagName === "SELECT" || el.isContentEditable);
  }
  items.forEach(function (it, i) {
    it.addEventListener("click", function () { select(i, false); });
    var ta = it.querySelector(".rv-reject textarea");
    if (ta) {
      ta.addEventListener("focus", function () { select(i, false); });
      ta.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
          ev.preventDefault();
          if (ta.value.trim()) { ta.form.requestSubmit(); } else { ta.placeholder = "请先写明退回原因"; ta.reportValidity(); }
        } else if (ev.key === "Escape") {
          ta.blur(); items[cur].focus();
        }
      });
    }
  });
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || typing(ev.target)) { return; }
    var it = items[cur];
    if (ev.key === "j" || ev.key === "ArrowDown" && ev.target.classList.contains("rv-item")) {
      ev.preventDefault(); select(cur + 1);
    } else if (ev.key === "k" || ev.key === "ArrowUp" && ev.target.classList.contains("rv-item")) {
      ev.preventDefault(); select(cur - 1);
    } else if (ev.key === "a") {
      var f = it.querySelector("form.rv-approve");
      if (f) { ev.preventDefault(); f.requestSubmit(); }
    } else if (ev.key === "r") {
      var t = it.querySelector(".rv-reject textarea");
      if (t) { ev.preventDefault(); t.focus(); }
    } else if (ev.key === "o") {
      var a = it.querySelector("a.rv-open");
      if (a) { ev.preventDefault(); window.location.href = a.href; }
    }
  });
  select(cur, hash !== "");
})();
