/* Regulars theme extension: loads the widget fragment from the app proxy into each [data-regulars-widget]. */
(function () {
  function load(host) {
    if (host.getAttribute('data-loaded')) return;
    host.setAttribute('data-loaded', '1');
    var base = host.getAttribute('data-base') || '/apps/regulars';
    var locale = host.getAttribute('data-locale') || document.documentElement.lang || 'en';
    // Shopify signs this request and names the signed-in customer; no cookie reaches the app.
    fetch(base + '/widget?locale=' + encodeURIComponent(locale), { credentials: 'same-origin' })
      .then(function (res) { return res.text(); })
      .then(function (html) {
        host.innerHTML = html;
        // Scripts set through innerHTML do not run: re-create them so the fragment's own script does.
        host.querySelectorAll('script').forEach(function (old) {
          var s = document.createElement('script');
          for (var i = 0; i < old.attributes.length; i++) s.setAttribute(old.attributes[i].name, old.attributes[i].value);
          s.textContent = old.textContent;
          old.replaceWith(s);
        });
      })
      .catch(function () { host.removeAttribute('data-loaded'); });
  }

  function init() {
    document.querySelectorAll('[data-regulars-widget]:not([data-lazy])').forEach(load);
    document.querySelectorAll('[data-regulars-launcher]').forEach(function (launcher) {
      var button = launcher.querySelector('.regulars-launcher__button');
      var panel = launcher.querySelector('.regulars-launcher__panel');
      var toggle = function (open) {
        panel.hidden = !open;
        button.setAttribute('aria-expanded', open ? 'true' : 'false');
        if (open) load(panel.querySelector('[data-regulars-widget]'));
      };
      button.addEventListener('click', function () { toggle(panel.hidden); });
      launcher.querySelector('.regulars-launcher__close').addEventListener('click', function () { toggle(false); });
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init); else init();
})();
