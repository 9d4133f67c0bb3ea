/* Export job page: poll the job's status while it runs; show progress, then the download link. */
(function () {
  "use strict";
  var box = document.getElementById("job");
  if (!box) { return; }
  var state = box.getAttribute("data-state");
  if (state !== "queued" && state !== "running") { return; }
  var url = box.getAttribute("data-status-url");
  var bar = document.getElementById("job-progress");
  var badge = document.getElementById("job-state");
  var count = document.getElementById("job-count");
  var msg = document.getElementById("job-message");
  var err = document.getElementById("job-error");
  var dl = document.getElementById("job-download");
  var link = document.getElementById("download-link");
  var polls = 0;

  function poll() {
    polls += 1;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        badge.textContent = s.state_zh;
        badge.className = "badge job-" + s.state;
        box.setAttribute("data-state", s.state);
        if (s.total) { bar.max = s.total; bar.value = s.done; count.textContent = s.done + " / " + s.total + " 个文件"; }
        msg.textContent = s.message || "";
        if (s.state === "done") {
          link.href = s.download_url; dl.hidden = false; bar.value = bar.max; msg.hidden = true;
          window.setTimeout(function () { window.location.reload(); }, 300);  // shows report and manifest
        } else if (s.state === "failed" || s.state === "interrupted") {
          err.textContent = s.error || "生成失败"; err.hidden = false; bar.hidden = true; msg.hidden = true;
          window.setTimeout(function () { window.location.reload(); }, 300);
        } else {
          window.setTimeout(poll, polls < 20 ? 400 : 1500);
        }
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 300);
})();
