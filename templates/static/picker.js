/* The indicator code picker: search the tree by code or Chinese name, choose leaves as chips.
   Each chosen code becomes a hidden <input name=data-name> inside the picker (so it posts
   with the surrounding form) and is readable through picker.getCodes(). */
(function () {
  "use strict";
  var el = window.el;   // from app.js
  function Picker(root) {
    var self = this;
    this.root = root;
    this.name = root.getAttribute("data-name") || "code";
    this.chips = root.querySelector(".chips");
    this.input = root.querySelector(".picker-input");
    this.results = root.querySelector(".picker-results");
    this.codes = [];
    this.active = -1;
    this.timer = null;
    var initial = [];
    try { initial = JSON.parse(root.getAttribute("data-initial") || "[]"); } catch (e) { initial = []; }
    initial.forEach(function (c) { self.add(c, ""); });
    if (initial.length) { this.describe(initial); }
    this.input.addEventListener("input", function () {
      clearTimeout(self.timer);
      self.timer = setTimeout(function () { self.search(self.input.value); }, 150);
    });
    this.input.addEventListener("focus", function () { self.search(self.input.value); });
    this.input.addEventListener("keydown", function (ev) { self.key(ev); });
    document.addEventListener("click", function (ev) {
      if (!root.contains(ev.target)) { self.results.hidden = true; }
    });
    root.picker = this;
  }
  Picker.prototype.describe = function (codes) {
    var self = this;
    codes.forEach(function (c) {
      fetch("/api/indicators?limit=1&q=" + encodeURIComponent(c), {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          var leaf = (data.leaves || [])[0];
          if (leaf && leaf.code === c) {
            var chip = self.chips.querySelector('[data-code="' + CSS.escape(c) + '"] .chip-name');
            if (chip) { chip.textContent = leaf.name; }
          }
        }).catch(function () {});
    });
  };
  Picker.prototype.search = function (q) {
    var self = this;
    fetch("/api/indicators?limit=30&q=" + encodeURIComponent(q.trim()), {credentials: "same-origin"})
      .then(function (r) { return r.json(); })
      .then(function (data) { self.show(data.leaves || []); })
      .catch(function () { self.show([]); });
  };
  Picker.prototype.show = function (leaves) {
    var self = this;
    this.results.textContent = "";
    this.active = -1;
    if (!leaves.length) {
      this.results.appendChild(el("li", "muted", "没有匹配的测评内容"));
    }
    leaves.forEach(function (leaf) {
      var li = el("li", "picker-item");
      li.setAttribute("data-code", leaf.code);
      li.appendChild(el("span", "code", leaf.code));
      li.appendChild(el("span", "", " " + leaf.name));
      if (leaf.path && leaf.path.length) { li.appendChild(el("div", "muted small", leaf.path.join(" › "))); }
      if (self.codes.indexOf(leaf.code) >= 0) { li.classList.add("chosen"); }
      li.addEventListener("mousedown", function (ev) {
        ev.preventDefault();
        self.add(leaf.code, leaf.name);
        self.input.value = "";
        self.results.hidden = true;
      });
      self.results.appendChild(li);
    });
    this.results.hidden = false;
  };
  Picker.prototype.key = function (ev) {
    var items = this.results.querySelectorAll(".picker-item");
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      if (!items.length) { return; }
      this.active = (this.active + (ev.key === "ArrowDown" ? 1 : -1) + items.length) % items.length;
      items.forEach(function (li, i) { li.classList.toggle("active", i === this.active); }, this);
      items[this.active].scrollIntoView({block: "nearest"});
    } else if (ev.key === "Enter") {
      ev.preventDefault();
      var li = items[this.active >= 0 ? this.active : 0];
      if (li) { this.add(li.getAttribute("data-code"), li.children[1].textContent.trim()); this.input.value = ""; this.results.hidden = true; }
    } else if (ev.key === "Escape") {
      this.results.hidden = true;
    }
  };
  Picker.prototype.add = function (code, name) {
    var self = this;
    if (this.codes.indexOf(code) >= 0) { return; }
    this.codes.push(code);
    var chip = el("span", "chip");
    chip.setAttribute("data-code", code);
    chip.appendChild(el("span", "code", code));
    chip.appendChild(el("span", "chip-name", name ? " " + name : ""));
    var hidden = document.createElement("input");
    hidden.type = "hidden"; hidden.name = this.name; hidden.value = code;
    chip.appendChild(hidden);
    var x = el("button", "chip-x", "×");
    x.type = "button";
    x.setAttribute("aria-label", "移除 " + code);
    x.addEventListener("click", function () {
      self.codes.splice(self.codes.indexOf(code), 1);
      chip.remove();
      self.root.dispatchEvent(new Event("change", {bubbles: true}));
    });
    chip.appendChild(x);
    this.chips.appendChild(chip);
    this.root.dispatchEvent(new Event("change", {bubbles: true}));
  };
  Picker.prototype.getCodes = function () { return this.codes.slice(); };
  document.querySelectorAll(".picker").forEach(function (root) { new Picker(root); });
})();
