// Compose form enhancements; the form works without them.
// - Autosave: every 30 s, if something was typed, the form is saved to Drafts (action=autosave).
// - Upload progress: when files are chosen, the form is sent with XMLHttpRequest to show a bar.
(function () {
  "use strict";
  var form = document.getElementById("compose-form");
  if (!form) { return; }
  // Not form.action: the buttons named "action" shadow that property.
  var url = form.getAttribute("action");
  var status = document.getElementById("autosave-status");
  var dirty = false;
  form.addEventListener("input", function () { dirty = true; });

  function autosave() {
    if (!dirty) { return; }
    dirty = false;
    var data = new FormData(form);
    data.set("action", "autosave");
    data.delete("files");
    fetch(url, { method: "POST", body: data, credentials: "same-origin" })
      .then(function (r) {
        // Only 204 means saved: a redirect to the login page would also end in a 200.
        if (r.status === 204) {
          status.textContent = form.dataset.savedLabel + " " + new Date().toTimeString().slice(0, 5);
        } else {
          dirty = true;
          status.textContent = form.dataset.failedLabel;
        }
      })
      .catch(function () { dirty = true; });
  }
  var timer = setInterval(autosave, (parseInt(form.dataset.autosave, 10) || 30) * 1000);

  form.addEventListener("submit", function (ev) {
    // A send must not race an autosave, and a second click must not send twice.
    if (ev.submitter && ev.submitter.value === "send") {
      clearInterval(timer);
      setTimeout(function () {
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
      }, 0);
    }
    var files = document.getElementById("files");
    if (!files || files.files.length === 0 || !window.XMLHttpRequest) { return; }
    ev.preventDefault();
    var data = new FormData(form);
    if (ev.submitter && ev.submitter.name) { data.set(ev.submitter.name, ev.submitter.value); }
    var bar = document.getElementById("upload-progress");
    bar.classList.add("active");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.upload.onprogress = function (e) {
      if (e.lengthComputable) { bar.value = Math.round(100 * e.loaded / e.total); }
    };
    xhr.onload = function () {
      history.replaceState(null, "", xhr.responseURL);
      document.open();
      document.write(xhr.responseText);
      document.close();
    };
    xhr.onerror = function () { bar.classList.remove("active"); form.submit(); };
    xhr.send(data);
  });
}());
