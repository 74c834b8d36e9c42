// Seller pages: small enhancements on top of pages that work without any script.
(function () {
  "use strict";

  // An error summary takes the focus, so keyboard and screen-reader users hear what to fix.
  var summary = document.querySelector("[data-focus-on-load]");
  if (summary) summary.focus();

  // Amount hints follow the chosen marketplace's currency.
  var marketplace = document.querySelector("[data-currency-source]");
  if (marketplace) {
    marketplace.addEventListener("change", function () {
      var option = marketplace.options[marketplace.selectedIndex];
      document.querySelectorAll("[data-currency-label]").forEach(function (label) {
        label.textContent = option.getAttribute("data-currency");
      });
    });
  }

  // A purchase is sent once: a second click could only wait for the same answer.
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-sent")) {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-sent", "yes");
      var button = form.querySelector("button[type=submit]");
      if (button) {
        button.setAttribute("aria-disabled", "true");
        button.textContent = "Buying…";
      }
    });
  });

  // The quote page fetches its changing parts again while insurers are still answering.
  var region = document.querySelector("[data-live-src]");
  if (region) follow(region);

  function isLive(root) {
    var state = root.querySelector('[data-part="state"]');
    return state !== null && state.getAttribute("data-live-state") === "on";
  }

  function follow(region) {
    var delay = 1000;
    var received = {};
    function tick() {
      if (!isLive(region)) return;
      fetch(region.getAttribute("data-live-src"), {
        credentials: "same-origin",
        cache: "no-store",
        headers: { Accept: "text/html" }
      }).then(function (response) {
        if (response.redirected) {
          // The session ended: sign in again and come back to this page.
          window.location.assign("/app/sign-in?next=" + encodeURIComponent(window.location.pathname));
          return null;
        }
        if (!response.ok) throw new Error("status " + response.status);
        return response.text();
      }).then(function (html) {
        if (html === null) return;
        swap(region, html, received);
        delay = 1000;
        window.setTimeout(tick, delay);
      }).catch(function () {
        delay = Math.min(delay * 2, 15000);
        window.setTimeout(tick, delay);
      });
    }
    window.setTimeout(tick, delay);
  }

  // Replace only the parts that changed, keeping open score breakdowns and the focus.
  function swap(region, html, received) {
    var incoming = document.createElement("div");
    incoming.innerHTML = html;
    incoming.querySelectorAll("[data-part]").forEach(function (part) {
      var name = part.getAttribute("data-part");
      var current = region.querySelector('[data-part="' + name + '"]');
      if (current === null || received[name] === part.outerHTML) return;
      received[name] = part.outerHTML;
      if (name === "progress") {
        // The same live region keeps announcing: only its text changes.
        if (current.textContent !== part.textContent) current.textContent = part.textContent;
        return;
      }
      var open = [];
      current.querySelectorAll("details[open]").forEach(function (details) { open.push(details.id); });
      var focus = focusedIn(current);
      current.replaceWith(part);
      open.forEach(function (id) {
        var details = document.getElementById(id);
        if (details) details.open = true;
      });
      if (focus) {
        var host = document.getElementById(focus.id);
        var target = host && (host.matches(focus.selector) ? host : host.querySelector(focus.selector));
        if (target) target.focus();
      }
    });
  }

  function focusedIn(container) {
    var active = document.activeElement;
    if (!active || !container.contains(active)) return null;
    var anchor = active.closest("[id]");
    if (!anchor || !container.contains(anchor)) return null;
    return { id: anchor.id, selector: active.tagName.toLowerCase() };
  }
})();
