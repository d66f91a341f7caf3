// tokenward console: the little that needs a script. Everything works without it.
// Loaded from the console's own origin (the Content-Security-Policy allows nothing else).
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Copy buttons: copy the named field's value, and say so to screen readers too.
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      const status = document.getElementById("copied");
      try {
        await navigator.clipboard.writeText(field.value);
        status.textContent = "Copied.";
      } catch (err) {
        field.select();
        status.textContent = "Select the text and copy it (the browser refused the clipboard).";
      }
    });
  }

  // Search as you type: the results part of the list page, fetched and swapped in.
  for (const form of document.querySelectorAll("form[data-live-results]")) {
    const target = document.getElementById(form.dataset.liveResults);
    let timer = null;
    let latest = 0;
    const refresh = async () => {
      const query = new URLSearchParams(new FormData(form)).toString();
      const url = form.action + "?" + query;
      const mine = ++latest;
      const response = await fetch(url, { headers: { "X-Console-Partial": "results" } });
      if (!response.ok || mine !== latest) return;
      // The server escaped every user-typed value in this fragment.
      target.innerHTML = await response.text();
      history.replaceState(null, "", url);
    };
    form.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(refresh, 250);
    });
  }

});
