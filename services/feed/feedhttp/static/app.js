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

  // The refused events: every two seconds, ask for those after the last
  // one shown and add them at the top. Without this script the page
  // still shows the latest as of its loading.
  var refusedPoll = 2000;

  function refusalRow(r) {
    var tr = el("tr", r.forgery ? "forgery is-new" : "is-new");
    tr.dataset.seq = String(r.seq);
    tr.dataset.reason = r.reason;
    var when = el("td");
    var t = el("time", "", fmtTime(r.time));
    t.dateTime = r.time;
    when.appendChild(t);
    tr.appendChild(when);
    tr.appendChild(el("td", "", r.country ? r.country.toUpperCase() : "—"));
    var reason = el("td");
    reason.appendChild(el("code", "", r.reason));
    if (r.forgery) {
      reason.appendChild(document.createTextNode(" "));
      reason.appendChild(el("span", "badge forged", "forgery"));
    }
    tr.appendChild(reason);
    var ev = el("td");
    if (r.type) ev.appendChild(el("code", "", r.type.replace(/^org\.dpihub\./, "").replace(/\.v[0-9]+$/, "")));
    ev.appendChild(el("span", "minor block", r.subject));
    tr.appendChild(ev);
    tr.appendChild(el("td", "details", (r.detail || "").slice(0, 200)));
    return tr;
  }

  function followRefusals() {
    var table = document.getElementById("refusals");
    if (!table || !table.dataset.poll || !window.fetch) return;
    var body = table.tBodies[0];
    var busy = false;
    function bump(id, n) {
      var e = document.getElementById(id);
      if (e) e.textContent = String((parseInt(e.textContent, 10) || 0) + n);
    }
    setInterval(function () {
      if (busy) return;
      busy = true;
      fetch(table.dataset.poll + encodeURIComponent(table.dataset.last || "0"), { headers: { Accept: "application/json" } })
        .then(function (res) { return res.ok ? res.json() : null; })
        .then(function (page) {
          if (!page || !page.refusals || !page.refusals.length) return;
          var forged = 0;
          for (var i = page.refusals.length - 1; i >= 0; i--) {
            var r = page.refusals[i];
            if (body.querySelector('[data-seq="' + String(r.seq) + '"]')) continue;
            body.insertBefore(refusalRow(r), body.firstChild);
            if (r.forgery) forged++;
          }
          table.dataset.last = String(page.last);
          bump("refused-total", page.refusals.length);
          bump("forgery-total", forged);
          var none = document.getElementById("no-refusals");
          if (none) none.remove();
        })
        .catch(function () {})
        .then(function () { busy = false; });
    }, refusedPoll);
  }

  function init() {
    start();
    followRefusals();
    openTarget();
    window.addEventListener("hashchange", openTarget);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
