// Live updates for open pages; everything still works on reload without this script.
// Listens to /events (Server-Sent Events) and, for each change of a folder:
// - updates its unread count in the sidebar and, for the inbox, the tab title;
// - on the list of that folder, reloads the list (unless messages are selected);
// - for new mail, shows a desktop notification if the user allowed them.
(function () {
  "use strict";
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
        if (fresh && current) { current.replaceWith(fresh); }
      });
  }

  var source = new EventSource("/events?folder=" + encodeURIComponent(folder));
  source.addEventListener("mail", function (e) {
    var ev;
    try { ev = JSON.parse(e.data); } catch (err) { return; }
    setCount(ev.url, ev.unseen);
    if (ev.folder === "INBOX") {
      document.title = (ev.unseen > 0 ? "(" + ev.unseen + ") " : "") + baseTitle;
    }
    if (ev.url === here) { reloadList(); }
    if (ev.arrived && ev.arrived.length && window.Notification && Notification.permission === "granted") {
      ev.arrived.forEach(function (m) {
        var n = new Notification(m.from, { body: m.subject, tag: m.url });
        n.onclick = function () { window.focus(); location.href = m.url; };
      });
    }
  });
}());
