// Applies the stored light/dark choice before the page paints (a classic
// script in <head>, so there is no flash of the wrong theme). With no
// stored choice the CSS follows prefers-color-scheme.
(function () {
  try {
    var t = localStorage.getItem("hs-theme");
    if (t === "light" || t === "dark") document.documentElement.dataset.theme = t;
  } catch (_) { /* storage blocked: follow the system */ }
})();
