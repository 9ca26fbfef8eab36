// Draws every chart on the page from its figure (a json_script element named by data-figure),
// and again after each HTMX swap. No inline script: the CSP allows only our own files.
(function () {
  "use strict";
  const CONFIG = { displayModeBar: false, responsive: true, displaylogo: false };

  function draw(root) {
    if (!window.Plotly) return;
    root.querySelectorAll("[data-figure]").forEach(function (element) {
      const source = document.getElementById(element.dataset.figure);
      if (!source) return;
      const figure = JSON.parse(source.textContent);
      window.Plotly.react(element, figure.data, figure.layout, Object.assign({}, CONFIG, figure.config || {}));
    });
  }

  document.addEventListener("DOMContentLoaded", function () { draw(document); });
  document.addEventListener("htmx:afterSettle", function (event) { draw(event.detail.elt || document); });
})();
