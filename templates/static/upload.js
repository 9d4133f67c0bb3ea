/* Multi-file upload: one XHR per file (upload progress events), three at a time.
   Each file's row shows its own progress and outcome; a refused file never stops the rest. */
(function () {
  "use strict";
  var app = document.getElementById("upload-app");
  if (!app) { return; }
  var endpoint = app.getAttribute("data-endpoint");
  var maxBytes = parseInt(app.getAttribute("data-max-bytes"), 10) || 0;
  var clerkUnit = app.getAttribute("data-clerk-unit");
  var picker = app.querySelector(".picker").picker;
  var tbody = document.querySelector("#upload-table tbody");
  var input = document.getElementById("file-input");
  var drop = document.getElementById("dropzone");
  var startBtn = document.getElementById("start-btn");
  var clearBtn = document.getElementById("clear-btn");
  var summary = document.getElementById("summary");
  var typeOptions = document.getElementById("type-options").innerHTML;
  var allType = document.getElementById("all-type");
  var problem = document.getElementById("upload-problem");
  var CONCURRENCY = 3;
  var entries = [];
  var running = 0;
  var IMAGE_EXT = /\.(jpe?g|png)$/i;

  var el = window.el;   // from app.js
  function humanSize(n) {
    if (n < 1024) { return n + " B"; }
    if (n < 1048576) { return (n / 1024).toFixed(1) + " KB"; }
    return (n / 1048576).toFixed(1) + " MB";
  }
  function stem(name) { var i = name.lastIndexOf("."); return i > 0 ? name.slice(0, i) : name; }

  function addFiles(list) {
    Array.prototype.forEach.call(list, function (file) {
      var same = entries.find(function (e) {
        return e.file.name === file.name && e.file.size === file.size && e.file.lastModified === file.lastModified;
      });
      if (same && same.state !== "refused" && same.state !== "error") { return; }   // already listed
      // Added again after a refusal (as it was, or fixed and saved under the same name): the
      // new row takes the refused one's place, keeping what the clerk typed into it.
      var old = same || entries.find(function (e) {
        return e.file.name === file.name && e.wasRefused && (e.state === "refused" || e.state === "error" ||
                                                               e.state === "ready");
      });
      var entry = {file: file, state: "ready"};
      var tr = el("tr");
      var tdName = el("td", "filename");
      tdName.appendChild(el("div", "", file.name));
      tdName.appendChild(el("div", "muted small", humanSize(file.size)));
      var typeSel = el("select");
      typeSel.innerHTML = '<option value="">（统一设置）</option>' + typeOptions;
      typeSel.setAttribute("aria-label", file.name + " 材料类型");
      var date = el("input"); date.type = "date"; date.setAttribute("aria-label", file.name + " 日期");
      var title = el("input"); title.placeholder = stem(file.name); title.setAttribute("aria-label", file.name + " 标题");
      var unit = el("input"); unit.setAttribute("list", "units"); unit.placeholder = "（统一设置）";
      unit.setAttribute("aria-label", file.name + " 责任单位");
      var status = el("td", "status");
      var bar = el("progress"); bar.max = 100; bar.value = 0;
      var msg = el("div", "small msg", "待上传");
      status.appendChild(bar); status.appendChild(msg);
      var rm = el("button", "linkbtn", "移除"); rm.type = "button";
      rm.addEventListener("click", function () {
        if (entry.state === "uploading") { return; }
        entries.splice(entries.indexOf(entry), 1); tr.remove(); refresh();
      });
      var retry = el("button", "linkbtn", "重试"); retry.type = "button"; retry.hidden = true;
      retry.setAttribute("aria-label", file.name + " 重试");
      retry.addEventListener("click", function () {
        if (entry.state !== "refused" && entry.state !== "error") { return; }
        reopen(entry, "待重新上传");
        if (!checkReady([entry])) { return; }
        entry.queued = true; pump();
      });
      [typeSel, date, title, unit].forEach(function (input) {
        // fixing a refused row in place makes it ready to send again
        input.addEventListener("change", function () {
          if (entry.state === "refused" && !entry.fatal) { reopen(entry, "已修改，待重新上传"); }
          markType(entry);
        });
      });
      var actions = el("td", "row-actions");
      actions.appendChild(retry); actions.appendChild(rm);
      var cells = [tdName, wrap(typeSel), wrap(date)];
      if (!clerkUnit) { cells.push(wrap(unit)); }   // a clerk's files always carry the clerk's unit
      cells.push(wrap(title), status, actions);
      cells.forEach(function (td) { tr.appendChild(td); });
      entry.tr = tr; entry.typeSel = typeSel; entry.date = date; entry.title = title; entry.unit = unit;
      entry.bar = bar; entry.msg = msg; entry.rm = rm; entry.retry = retry;
      if (maxBytes && file.size > maxBytes) {
        entry.fatal = true;   // no fix in the form makes it smaller
        finish(entry, "refused", "文件超过上传上限 " + humanSize(maxBytes) + " (file too large)");
      } else if (file.size === 0) {
        entry.fatal = true;
        finish(entry, "refused", "拒收：文件为空 (empty file)");
      }
      if (old) {
        typeSel.value = old.typeSel.value; date.value = old.date.value; title.value = old.title.value;
        unit.value = old.unit.value;
        entries.splice(entries.indexOf(old), 1, entry);
        tbody.replaceChild(tr, old.tr);
      } else {
        entries.push(entry);
        tbody.appendChild(tr);
      }
      markType(entry);
    });
    refresh();
  }

  function reopen(entry, text) {
    entry.state = "ready"; entry.tr.className = ""; entry.msg.textContent = text;
    entry.bar.hidden = true; entry.bar.value = 0; entry.retry.hidden = true;
    refresh();
  }

  // The type a file will be sent with: its row's, else the common one, else inferred.
  function effectiveType(entry) {
    return entry.typeSel.value || allType.value || guessType(entry.file.name);
  }
  function markType(entry) {
    var missing = entry.state === "ready" && !effectiveType(entry);
    entry.typeSel.classList.toggle("missing", missing);
    entry.typeSel.title = missing ? "请选择材料类型" : "";
    if (entry.state === "ready") {
      entry.msg.textContent = missing ? "请选择材料类型" :
        (entry.msg.textContent === "请选择材料类型" ? "待上传" : entry.msg.textContent);
    }
  }
  // Rows that cannot go yet (no type): marked, the first focused, nothing sent.
  function checkReady(list) {
    var lacking = list.filter(function (e) { return !effectiveType(e); });
    lacking.forEach(markType);
    if (lacking.length) {
      problem.textContent = lacking.length + " 个文件还没有材料类型：照片自动归为“实景图片”，文件和表格" +
        "请在上方“材料类型”统一选择，或在文件列表中逐个选择（规范文件、情况说明、统计表格、工作台账）。";
      problem.hidden = false;
      lacking[0].typeSel.focus();
      return false;
    }
    problem.hidden = true;
    return true;
  }
  function wrap(node) { var td = el("td"); td.appendChild(node); return td; }

  function refresh() {
    var c = {ready: 0, uploading: 0, added: 0, duplicate: 0, refused: 0, error: 0};
    entries.forEach(function (e) { c[e.state] += 1; });
    if (!entries.length) { summary.textContent = "尚未选择文件"; }
    else {
      summary.textContent = "共 " + entries.length + " 个文件：待上传 " + c.ready + "，上传中 " + c.uploading +
        "，已入库 " + c.added + "，重复 " + c.duplicate + "，拒收 " + c.refused + (c.error ? "，出错 " + c.error : "");
    }
    startBtn.disabled = !(c.ready + c.error) || running > 0;
  }

  function finish(entry, state, text, href) {
    entry.state = state;
    if (state === "refused" || state === "error") { entry.wasRefused = true; }
    entry.tr.className = "state-" + state;
    entry.msg.textContent = "";
    if (href) {
      var a = el("a", "", text); a.href = href; a.target = "_blank"; a.rel = "noopener";
      entry.msg.appendChild(a);
    } else {
      entry.msg.textContent = text;
    }
    entry.bar.value = state === "uploading" ? entry.bar.value : 100;
    entry.bar.hidden = state !== "uploading";
    var editable = state === "ready" || state === "error" || (state === "refused" && !entry.fatal);
    [entry.typeSel, entry.date, entry.title, entry.unit].forEach(function (i) { i.disabled = !editable; });
    entry.retry.hidden = !((state === "refused" && !entry.fatal) || state === "error");
  }

  // Photo checks (out of window, dates disagree, no date, reused): shown under the row at once.
  function warn(entry, warnings) {
    (warnings || []).forEach(function (w) {
      entry.msg.appendChild(el("span", "photo-warn", "⚠ " + w.message));
    });
  }

  function guessType(name) { return IMAGE_EXT.test(name) ? "实景图片" : ""; }

  function send(entry) {
    var codes = picker.getCodes();
    var fd = new FormData();
    fd.append("file", entry.file, entry.file.name);
    codes.forEach(function (c) { fd.append("code", c); });
    fd.append("type", effectiveType(entry));
    fd.append("date", entry.date.value || document.getElementById("all-date").value || "");
    if (!clerkUnit) { fd.append("unit", entry.unit.value.trim() || document.getElementById("all-unit").value || ""); }
    var prefix = document.getElementById("all-title").value.trim();
    fd.append("title", entry.title.value.trim() || (prefix ? prefix + " " + stem(entry.file.name) : ""));
    var xhr = new XMLHttpRequest();
    xhr.open("POST", endpoint);
    xhr.setRequestHeader("X-CSRFToken", window.csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    entry.state = "uploading"; entry.bar.hidden = false; entry.bar.value = 0; entry.msg.textContent = "上传中…";
    refresh();
    xhr.upload.addEventListener("progress", function (ev) {
      if (ev.lengthComputable) {
        entry.bar.value = Math.round(ev.loaded * 100 / ev.total);
        entry.msg.textContent = ev.loaded < ev.total ? "上传中 " + entry.bar.value + "%" : "校验、提取文字中…";
      }
    });
    xhr.addEventListener("load", function () {
      var data = null;
      try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
      if (xhr.status === 201 && data && data.added.length) {
        finish(entry, "added", "已入库 #" + data.added[0].id, data.added[0].url);
        if (data.added[0].warning) {
          entry.msg.appendChild(el("div", "warn small", data.added[0].warning));
        }
        warn(entry, data.added[0].warnings);
      } else if (xhr.status === 200 && data && data.duplicates.length) {
        finish(entry, "duplicate", "重复文件，已有 #" + data.duplicates[0].id + "（已补充指标）", data.duplicates[0].url);
        warn(entry, data.duplicates[0].warnings);
      } else if (xhr.status === 422 && data && data.refused.length) {
        finish(entry, "refused", "拒收：" + data.refused[0].reason);
      } else if (xhr.status === 413) {
        finish(entry, "refused", "拒收：文件超过上传上限 (request too large)");
      } else if (xhr.status === 401) {
        finish(entry, "error", "登录已过期，请重新登录后重试");
      } else {
        finish(entry, "error", "出错（" + xhr.status + "）：" + ((data && data.error) || "请重试"));
      }
      done();
    });
    xhr.addEventListener("error", function () { finish(entry, "error", "网络错误，请重试"); done(); });
    xhr.send(fd);
  }

  function done() { running -= 1; pump(); }
  function pump() {
    while (running < CONCURRENCY) {
      var next = entries.find(function (e) { return e.queued && (e.state === "ready" || e.state === "error"); });
      if (!next) { break; }
      next.queued = false;
      running += 1;
      send(next);
    }
    refresh();
  }

  startBtn.addEventListener("click", function () {
    if (!picker.getCodes().length) {
      window.alert("请先选择至少一个测评指标");
      document.getElementById("picker-input").focus();
      return;
    }
    var todo = entries.filter(function (e) { return e.state === "ready" || e.state === "error"; });
    if (!checkReady(todo)) { return; }
    todo.forEach(function (e) { e.queued = true; });
    pump();
  });
  allType.addEventListener("change", function () {
    entries.forEach(markType);
    if (!problem.hidden) { checkReady(entries.filter(function (e) { return e.state === "ready"; })); }
  });
  clearBtn.addEventListener("click", function () {
    for (var i = entries.length - 1; i >= 0; i -= 1) {
      if (entries[i].state !== "uploading") { entries[i].tr.remove(); entries.splice(i, 1); }
    }
    refresh();
  });
  input.addEventListener("change", function () { addFiles(input.files); input.value = ""; });
  ["dragenter", "dragover"].forEach(function (t) {
    drop.addEventListener(t, function (ev) { ev.preventDefault(); drop.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (t) {
    drop.addEventListener(t, function (ev) { ev.preventDefault(); drop.classList.remove("over"); });
  });
  drop.addEventListener("drop", function (ev) { if (ev.dataTransfer && ev.dataTransfer.files) { addFiles(ev.dataTransfer.files); } });
  drop.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); input.click(); } });
  // Keep the browser from opening a file dropped just outside the zone.
  window.addEventListener("dragover", function (ev) { ev.preventDefault(); });
  window.addEventListener("drop", function (ev) { ev.preventDefault(); });
  window.uploadApp = {addFiles: addFiles, entries: entries};
})();
