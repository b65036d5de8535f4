// monitor console: the little script the pages use where it earns its place. Everything works without it;
// with it the inbox receives new alerts live (Server-Sent Events) and the rule editor checks as you type.
// HTML inserted here comes from the server's own escaped templates; anything else is set as text.
"use strict";

(function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }

  // --- live inbox --------------------------------------------------------------------------------
  function liveInbox(box) {
    if (!window.EventSource) return;
    var url = box.getAttribute("data-live");
    url += (url.indexOf("?") < 0 ? "?" : "&") + "after=" + encodeURIComponent(box.getAttribute("data-after"));
    var status = document.getElementById("live-status");
    var fresh = 0;
    var es = new EventSource(url);
    es.addEventListener("alert", function (ev) {
      var data = JSON.parse(ev.data);
      if (box.querySelector('[data-id="' + CSS.escape(data.id) + '"]')) return;
      var empty = document.getElementById("empty");
      if (empty) empty.remove();
      var group = document.getElementById("g-" + data.key);
      if (group) {
        var list = group.querySelector("ol.alerts");
        list.insertAdjacentHTML("afterbegin", data.row);
        var count = group.querySelector(".count");
        if (count) {
          var n = list.children.length;
          count.textContent = n + (n === 1 ? " alert" : " alerts");
        }
        box.insertBefore(group, box.firstElementChild);
      } else {
        box.insertAdjacentHTML("afterbegin", data.group);
      }
      var row = box.querySelector('[data-id="' + CSS.escape(data.id) + '"]');
      if (row) row.classList.add("new");
      fresh += 1;
      if (status) status.textContent = fresh + (fresh === 1 ? " new alert" : " new alerts") + " since the page loaded.";
    });
    es.addEventListener("error", function () {
      if (status) status.textContent = "Live updates interrupted; reconnecting…";
    });
    es.addEventListener("open", function () {
      if (status && fresh === 0) status.textContent = "Live: new alerts appear here.";
    });
  }

  // --- rule editor -------------------------------------------------------------------------------
  function selectLine(area, line) {
    var lines = area.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    area.focus();
    area.setSelectionRange(start, start + (lines[line - 1] || "").length);
  }

  function showErrors(target, area, result) {
    target.textContent = "";
    var p = document.createElement("p");
    if (!result.errors.length) {
      p.className = "ok";
      p.textContent = "Loads: " + result.rules.join(", ") + ".";
      target.appendChild(p);
      return;
    }
    p.className = "error";
    p.textContent = result.errors.length + (result.errors.length === 1 ? " error:" : " errors:");
    target.appendChild(p);
    var ul = document.createElement("ul");
    ul.className = "errors";
    result.errors.forEach(function (e) {
      var li = document.createElement("li");
      if (e.line) {
        var a = document.createElement("a");
        a.href = "#yaml";
        a.textContent = "line " + e.line;
        if (e.here) a.addEventListener("click", function (ev) { ev.preventDefault(); selectLine(area, e.line); });
        li.appendChild(a);
        li.appendChild(document.createTextNode((e.here ? "" : " of " + e.file) + ": " + e.message));
      } else {
        li.textContent = (e.here ? "" : e.file + ": ") + e.message;
      }
      ul.appendChild(li);
    });
    target.appendChild(ul);
  }

  function ruleEditor(area) {
    var target = document.getElementById("errors");
    var form = area.form;
    var timer = null;
    var seq = 0;
    function check() {
      var mine = ++seq;
      var body = new FormData();
      body.append("yaml", area.value);
      body.append("path", form.elements.path ? form.elements.path.value : "rule.yaml");
      fetch(area.getAttribute("data-check"), {
        method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRF-Token": csrf() }
      }).then(function (r) { return r.ok ? r.json() : null; }).then(function (result) {
        if (result && mine === seq) showErrors(target, area, result);
      }).catch(function () {});
    }
    var copy = document.getElementById("copy");
    area.addEventListener("input", function () {
      if (copy) copy.value = area.value;
      clearTimeout(timer);
      timer = setTimeout(check, 400);
    });
    target.addEventListener("click", function (ev) {
      var a = ev.target.closest("a[data-line]");
      if (a && a.getAttribute("data-line")) { ev.preventDefault(); selectLine(area, +a.getAttribute("data-line")); }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var box = document.getElementById("inbox");
    if (box && box.hasAttribute("data-live")) liveInbox(box);
    var area = document.querySelector("textarea[data-check]");
    if (area) ruleEditor(area);
  });
})();
