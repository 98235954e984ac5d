// dpihub coordinator feed: live updates for the event list, and a linked
// proposal's text opened on the board. The pages work without this
// script; it only adds new events at the top as they arrive, and saves a
// click.
(function () {
  "use strict";

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // The server's format: 2025-03-14 09:30 UTC.
  function fmtTime(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return iso;
    return d.getUTCFullYear() + "-" + pad(d.getUTCMonth() + 1) + "-" + pad(d.getUTCDate()) +
      " " + pad(d.getUTCHours()) + ":" + pad(d.getUTCMinutes()) + " UTC";
  }

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function render(ev) {
    var li = el("li", "event is-new k-" + (ev.kind || "other"));
    li.dataset.seq = String(ev.seq);
    var meta = el("div", "event-meta");
    var cc = el("abbr", "cc", (ev.country || "").toUpperCase());
    cc.title = ev.country_name || ev.country;
    meta.appendChild(cc);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(el("span", "type", ev.short_type || ev.type));
    if (ev.project) {
      meta.appendChild(document.createTextNode(" "));
      var p = el("a", "project", ev.project);
      p.href = "/?project=" + encodeURIComponent(ev.project);
      meta.appendChild(p);
    }
    meta.appendChild(document.createTextNode(" "));
    var t = el("time", "", fmtTime(ev.time));
    t.dateTime = ev.time;
    meta.appendChild(t);
    li.appendChild(meta);
    var sum = el("p", "event-summary");
    var a = el("a", "", ev.summary || ev.short_type || ev.type);
    a.href = ev.link || "/";
    sum.appendChild(a);
    li.appendChild(sum);
    return li;
  }

  function start() {
    var list = document.getElementById("events");
    if (!list || !list.dataset.stream || !window.EventSource) return;
    var status = document.getElementById("live-status");
    var count = document.getElementById("result-count");
    var added = 0;

    function say(state, text) {
      if (!status) return;
      status.dataset.state = state;
      status.textContent = text;
    }

    var es = new EventSource(list.dataset.stream);
    say("wait", "Connecting to live updates…");
    es.onopen = function () { say("on", "Live: new events appear at the top"); };
    es.onerror = function () { say("wait", "Live updates interrupted; reconnecting…"); };
    es.onmessage = function (msg) {
      var ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      if (list.querySelector('[data-seq="' + String(ev.seq) + '"]')) return;
      list.insertBefore(render(ev), list.firstChild);
      added++;
      var empty = document.getElementById("empty");
      if (empty) empty.remove();
      while (list.children.length > 500) list.removeChild(list.lastChild);
      if (count) {
        count.textContent = list.children.length + (list.children.length === 1 ? " event" : " events") +
          " (" + added + " new since you opened the page)";
      }
    };
    // The page knew of events the feed no longer has (the feed was
    // rebuilt or its stream made again): say so rather than show a list
    // that does not match the feed's.
    es.addEventListener("reset", function () {
      say("wait", "The feed was rebuilt since this page was loaded; reload to see it as it is.");
    });
    window.addEventListener("pagehide", function () { es.close(); });
  }

  // A link to a proposal's card (/proposals#proposal-…, as the feed's
  // events link) opens the proposal's text: whoever followed it came to
  // read that one.
  function openTarget() {
    var id = location.hash.slice(1);
    if (!id) return;
    var card = document.getElementById(decodeURIComponent(id));
    if (!card || !card.classList.contains("card")) return;
    var text = card.querySelector("details.proposal-text");
    if (text) text.open = true;
  }

  function init() {
    start();
    openTarget();
    window.addEventListener("hashchange", openTarget);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
