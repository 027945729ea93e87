// chartgate reviewer page: progressive enhancement only. Everything works without it.
// 1. While a write-back is on its way, poll its state and reload when it changes.
// 2. Keep "Approve for chart" from approving while the text box holds unsaved edits.
// 3. Stop a double click from posting a form twice.
// 4. Show times in the reader's own time zone, with the zone named (the server writes UTC).
(function () {
  "use strict";

  function poll() {
    var body = document.body;
    var url = body.getAttribute("data-poll-url");
    var shown = body.getAttribute("data-poll-state");
    if (!url) { return; }
    var tries = 0;
    function again(ms) { if (tries < 600) { window.setTimeout(tick, ms); } }
    function tick() {
      tries += 1;
      window.fetch(url, { credentials: "same-origin", cache: "no-store", headers: { Accept: "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (data.signed_in === false || (data.state && data.state !== shown)) {
            window.location.reload();
            return;
          }
          again(tries < 60 ? 1000 : 5000);
        })
        .catch(function () { again(5000); });
    }
    again(1000);
  }

  function guardUnsaved() {
    var text = document.getElementById("edit-text");
    var title = document.getElementById("edit-title");
    var form = document.getElementById("approve-form");
    var warning = document.getElementById("approve-unsaved");
    if (!text || !form || !warning) { return; }
    var original = text.value;
    var originalTitle = title ? title.value : "";
    form.addEventListener("submit", function (event) {
      if (text.value !== original || (title && title.value !== originalTitle)) {
        event.preventDefault();
        warning.hidden = false;
        text.focus();
      }
    });
  }

  function guardDoubleSubmit() {
    var forms = document.querySelectorAll("form[method='post']");
    Array.prototype.forEach.call(forms, function (form) {
      form.addEventListener("submit", function (event) {
        if (event.defaultPrevented) { return; }
        if (form.getAttribute("data-sent") === "1") { event.preventDefault(); return; }
        form.setAttribute("data-sent", "1");
        Array.prototype.forEach.call(form.querySelectorAll("button[type='submit']"), function (b) {
          b.setAttribute("aria-disabled", "true");
        });
      });
    });
  }

  function localTimes() {
    if (!window.Intl || !Intl.DateTimeFormat) { return; }
    var format = new Intl.DateTimeFormat(undefined, {
      year: "numeric", month: "short", day: "numeric",
      hour: "2-digit", minute: "2-digit", timeZoneName: "short"
    });
    Array.prototype.forEach.call(document.querySelectorAll("time.local-time"), function (el) {
      var when = new Date(el.getAttribute("datetime"));
      if (!isNaN(when.getTime())) { el.textContent = format.format(when); }
    });
  }

  localTimes();
  poll();
  guardUnsaved();
  guardDoubleSubmit();
}());
