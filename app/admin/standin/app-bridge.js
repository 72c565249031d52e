// Development-only stand-in for https://cdn.shopify.com/shopifycloud/app-bridge.js (served by /dev/standin, never
// in production). It gives the page the same window.shopify (idToken, toast, modal, saveBar) and App Bridge's
// elements (s-app-nav, ui-title-bar, ui-modal, ui-save-bar), drawn legibly inside the page instead of by the
// Shopify admin around the iframe. Plain script, no dependencies, no build step.
(() => {
  const script = document.currentScript;
  // Served as the CDN's file too (the browser tests answer cdn.shopify.com with it): then the page's body names the shop.
  const shopOf = () => script?.dataset.shop || document.body?.dataset.shop || "";

  // --- toast: Shopify admin shows it at the bottom of the screen ---------------------------------------
  function toastHost() {
    let host = document.getElementById("sb-toasts");
    if (!host) {
      host = Object.assign(document.createElement("div"), { id: "sb-toasts", className: "sb-toasts" });
      host.setAttribute("role", "status");
      host.setAttribute("aria-live", "polite");
      document.body.append(host);
    }
    return host;
  }
  let toastCount = 0;
  function showToast(message, opts = {}) {
    const el = document.createElement("div");
    el.className = `sb-toast${opts.isError ? " sb-toast-error" : ""}`;
    el.textContent = message;
    const host = toastHost();
    host.append(el);
    // Shopify admin shows one toast at a time; the stand-in keeps the last two.
    while (host.children.length > 2) host.firstElementChild.remove();
    setTimeout(() => el.remove(), opts.duration || 3000);
    toastCount += 1;
    return `toast-${toastCount}`;
  }

  // --- modal and save bar ------------------------------------------------------------------------------
  const byId = (id) => {
    const el = document.getElementById(id);
    if (!el) throw new Error(`App Bridge: no element with id ${id}`);
    return el;
  };

  class UiTitleBar extends HTMLElement {
    static get observedAttributes() { return ["title"]; }
    connectedCallback() { this.render(); }
    attributeChangedCallback() { this.render(); }
    render() {
      if (!this.isConnected) return;
      let h = this.querySelector(":scope > .sb-title");
      if (!h) {
        h = Object.assign(document.createElement("h2"), { className: "sb-title" });
        this.prepend(h);
      }
      h.id = h.id || `${this.id || "title"}-heading`;
      h.textContent = this.getAttribute("title") || "";
    }
  }

  class UiModal extends HTMLElement {
    connectedCallback() {
      this.setAttribute("role", "dialog");
      this.setAttribute("aria-modal", "true");
      if (!this.hasAttribute("open")) this.hidden = true;
      this.addEventListener("keydown", (e) => { if (e.key === "Escape") this.hide(); });
    }
    show() {
      const title = this.querySelector("ui-title-bar .sb-title");
      if (title) this.setAttribute("aria-labelledby", title.id);
      this.hidden = false;
      this.setAttribute("open", "");
      this.dispatchEvent(new Event("show"));
      (this.querySelector("ui-title-bar button[variant=primary]") || this.querySelector("button"))?.focus();
      return Promise.resolve();
    }
    hide() {
      if (this.hidden) return Promise.resolve();
      this.hidden = true;
      this.removeAttribute("open");
      this.dispatchEvent(new Event("hide"));
      return Promise.resolve();
    }
    toggle() { return this.hidden ? this.show() : this.hide(); }
  }

  class UiSaveBar extends HTMLElement {
    connectedCallback() {
      this.setAttribute("role", "region");
      this.setAttribute("aria-label", "Unsaved changes");
      if (!this.querySelector(":scope > .sb-savebar-text")) {
        const text = Object.assign(document.createElement("span"), { className: "sb-savebar-text", textContent: "Unsaved changes" });
        this.prepend(text);
      }
      if (!this.hasAttribute("open")) this.hidden = true;
    }
    get showing() { return !this.hidden; }
    show() { this.hidden = false; this.setAttribute("open", ""); this.dispatchEvent(new Event("show")); return Promise.resolve(); }
    hide() { this.hidden = true; this.removeAttribute("open"); this.dispatchEvent(new Event("hide")); return Promise.resolve(); }
    toggle() { return this.hidden ? this.show() : this.hide(); }
  }

  // --- navigation: Shopify admin draws it in its sidebar; here, a bar above the page -------------------
  class SAppNav extends HTMLElement {
    connectedCallback() {
      this.setAttribute("role", "navigation");
      if (!this.hasAttribute("aria-label")) this.setAttribute("aria-label", "App navigation");
      this.mark();
      document.addEventListener("DOMContentLoaded", () => this.mark(), { once: true });
      addEventListener("popstate", () => this.mark());
      addEventListener("shopify:navigate", () => this.mark());
    }
    mark() {
      const here = location.pathname.replace(/\/$/, "");
      let best = null;
      for (const link of this.querySelectorAll("s-link[href], a[href]")) {
        const path = new URL(link.getAttribute("href"), location.href).pathname.replace(/\/$/, "");
        link.removeAttribute("aria-current");
        // Home is current on itself only; a section also on its sub-pages (a customer under Customers).
        const home = link.getAttribute("rel") === "home";
        if (here === path || (!home && here.startsWith(`${path}/`))) {
          if (!best || path.length > best.path.length) best = { link, path };
        }
      }
      best?.link.setAttribute("aria-current", "page");
    }
  }

  // Same-origin links navigate inside the page (History API) and announce it, as App Bridge does for an app
  // with client-side routing: to the link's path with the query Shopify loaded the app with (shop, host, …),
  // not the state of the page being left (its search, filters, page).
  const shopifyQuery = location.search;
  document.addEventListener("click", (e) => {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey) return;
    const nav = e.composedPath().find((el) => el instanceof Element && el.closest?.("s-app-nav"));
    if (!nav) return;
    const link = e.composedPath().find((el) => el instanceof Element && el.getAttribute?.("href"));
    if (!link) return;
    e.preventDefault();
    const url = new URL(link.getAttribute("href"), location.href);
    history.pushState({}, "", url.pathname + shopifyQuery);
    dispatchEvent(new PopStateEvent("popstate"));
  });

  customElements.define("ui-title-bar", UiTitleBar);
  customElements.define("ui-modal", UiModal);
  customElements.define("ui-save-bar", UiSaveBar);
  customElements.define("s-app-nav", SAppNav);

  window.shopify = {
    config: { get shop() { return shopOf(); }, apiKey: document.querySelector("meta[name=shopify-api-key]")?.content },
    // A fresh token per call: minted by /dev/token and verified by the API exactly like Shopify's.
    idToken: async () => {
      const res = await fetch(`/dev/token?shop=${encodeURIComponent(shopOf())}`);
      if (!res.ok) throw new Error(`the development token could not be minted (${res.status})`);
      return res.text();
    },
    toast: { show: showToast, hide: (id) => document.getElementById(id)?.remove() },
    modal: { show: (id) => byId(id).show(), hide: (id) => byId(id).hide(), toggle: (id) => byId(id).toggle() },
    saveBar: {
      show: (id) => byId(id).show(), hide: (id) => byId(id).hide(), toggle: (id) => byId(id).toggle(),
      leaveConfirmation: async () => undefined,
    },
  };
})();
