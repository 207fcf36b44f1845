// The preview page: quote buttons fill the limit; a confirm form sends once (the button
// turns into "Sending…", keeping its width: shrunk, it slid "Back to orders" under the pointer
// and a double click's second click left the page). A file of its own, not inline: the web's
// CSP allows no inline script.
document.querySelectorAll("[data-set-limit]").forEach(function (b) {
  b.addEventListener("click", function () { document.getElementById("id_limit_price").value = b.dataset.setLimit; });
});
document.querySelectorAll("form[data-once]").forEach(function (f) {
  f.addEventListener("submit", function () {
    var b = f.querySelector("button[type=submit]");
    b.style.minWidth = b.getBoundingClientRect().width + "px";
    setTimeout(function () { b.disabled = true; b.textContent = "Sending…"; }, 0);
  });
});
