// Live updates for open pages; everything still works on reload without this script.
// Listens to /events (Server-Sent Events) and, for each change of a folder:
// - updates its unread count in the sidebar and, for the inbox, the tab title;
// - on the list of that folder, reloads the list (unless messages are selected);
// - for new mail, shows a desktop notification if the user allowed them.
(function () {
  "use strict";
  // "Select all on this page": a checkbox that only makes sense with a script.
  document.addEventListener("change", function (e) {
    if (e.target && e.target.id === "select-page") {
      document.querySelectorAll('#list-form input[name="uid"]').forEach(function (c) {
        c.checked = e.target.checked;
      });
    }
  });
  var all = document.getElementById("select-page");
  if (all) { all.hidden = false; }

  var folder = document.body.dataset.liveFolder;
  if (!folder || !window.EventSource) { return; }
  var baseTitle = document.body.dataset.title || document.title;
  var here = location.pathname;

  var bell = document.getElementById("enable-notifications");
  if (bell && window.Notification && Notification.permission === "default") {
    bell.hidden = false;
    bell.addEventListener("click", function () {
      Notification.requestPermission().then(function () { bell.hidden = true; });
    });
  }

  function setCount(url, unseen) {
    var li = document.querySelector('.sidebar li[data-folder-url="' + url + '"] .unseen');
    if (li) { li.textContent = unseen > 0 ? String(unseen) : ""; }
  }

  function reloadList() {
    var form = document.getElementById("list-form");
    if (!form || form.querySelector("input[type=checkbox]:checked")) { return; }
    fetch(location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : null; })
      .then(function (html) {
        if (!html) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("main.list");
        var current = document.querySelector("main.list");
        if (fresh && current) {
          current.replaceWith(fresh);
          var box = document.getElementById("select-page");
          if (box) { box.hidden = false; }
        }
      });
  }

  // The first event of each folder is its state when the stream opened, which the page usually
  // already shows: it updates counts and reloads the list only if the count differs.
  var heard = {};
  var source = new EventSource("/events?folder=" + encodeURIComponent(folder));
  // Closed as the page goes away: a stream left open while the page sits in the browser's
  // back/forward cache holds one of the few connections a browser allows per site, and after a few
  // messages opened in a row the next page would wait for one.
  window.addEventListener("pagehide", function () { source.close(); });
  source.addEventListener("mail", function (e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    setCount(ev.url, ev.unseen);
    if (ev.folder === "INBOX") {
      document.title = (ev.unseen > 0 ? "(" + ev.unseen + ") " : "") + baseTitle;
    }
    var first = !heard[ev.url];
    heard[ev.url] = true;
    if (ev.url === here) {
      var main = document.querySelector("main.list");
      var shown = main && main.dataset.messages;
      // A first event still reloads if the page was rendered before a change it reports.
      if (!first || (shown !== undefined && Number(shown) !== ev.messages)) { reloadList(); }
    }
    if (ev.arrived && ev.arrived.length && window.Notification && Notification.permission === "granted") {
      ev.arrived.forEach(function (m) {
        var n = new Notification(m.from, { body: m.subject, tag: m.url });
        n.onclick = function () { window.focus(); location.href = m.url; };
      });
    }
  });
}());
