// Development-only stand-in for https://cdn.shopify.com/shopifycloud/polaris.js (served by /dev/standin, never in
// production). It defines the Polaris web components the admin uses with the same names, attributes, properties
// and events, rendered as plain accessible HTML in the light DOM and styled on the vendored Polaris tokens
// (standin.css). Legible, not pixel-perfect; no React, no build step.
(() => {
  const here = document.currentScript?.src || location.href;
  // The development page links the stylesheet itself (render-blocking, so nothing shifts once it arrives);
  // served in the CDN's place, the script adds it.
  if (!document.querySelector('link[href$="standin.css"]')) {
    document.head.append(Object.assign(document.createElement("link"), { rel: "stylesheet", href: new URL("standin.css", here).href }));
  }

  let seq = 0;
  const uid = (p) => `${p}-${(seq += 1)}`;
  const make = (tag, cls, text) => {
    const el = document.createElement(tag);
    if (cls) el.className = cls;
    if (text !== undefined) el.textContent = text;
    return el;
  };
  const bool = (el, name) => el.hasAttribute(name) && el.getAttribute(name) !== "false";
  // An element in the page's own HTML is connected before the parser has read its children: build it once
  // they are there.
  const whenParsed = (fn) => (document.readyState === "loading" ? document.addEventListener("DOMContentLoaded", fn, { once: true }) : fn());

  // --- layout and text: attributes are enough, the stylesheet does the rest -----------------------------
  class Plain extends HTMLElement {}
  for (const tag of ["s-stack", "s-grid", "s-grid-item", "s-box", "s-text", "s-paragraph", "s-divider", "s-badge",
    "s-unordered-list", "s-ordered-list", "s-list-item", "s-query-container", "s-option", "s-option-group"]) {
    customElements.define(tag, class extends Plain {});
  }

  customElements.define("s-heading", class extends HTMLElement {
    connectedCallback() { this.setAttribute("role", "heading"); if (!this.hasAttribute("aria-level")) this.setAttribute("aria-level", "3"); }
  });
  customElements.define("s-spinner", class extends HTMLElement {
    connectedCallback() { this.setAttribute("role", "status"); this.setAttribute("aria-label", this.getAttribute("accessibilityLabel") || "Loading"); }
  });

  // s-page: the heading Shopify admin shows in the title bar, with the page's primary and secondary actions.
  customElements.define("s-page", class extends HTMLElement {
    connectedCallback() { if (this._built) return; this._built = true; whenParsed(() => this.build()); }
    build() {
      const header = make("header", "sp-page-header");
      const crumbs = [...this.querySelectorAll(":scope > [slot=breadcrumb-actions]")];
      if (crumbs.length) { const c = make("div", "sp-crumbs"); c.append(...crumbs); header.append(c); }
      const h1 = make("h1", "sp-page-title", this.getAttribute("heading") || "");
      header.append(h1);
      const actions = make("div", "sp-page-actions");
      actions.append(...this.querySelectorAll(":scope > [slot=secondary-actions]"), ...this.querySelectorAll(":scope > [slot=primary-action]"));
      header.append(actions);
      this.prepend(header);
    }
  });

  // s-section: a card; its heading is a real heading.
  customElements.define("s-section", class extends HTMLElement {
    connectedCallback() { if (this._built) return; this._built = true; whenParsed(() => this.build()); }
    build() {
      const heading = this.getAttribute("heading");
      if (heading) {
        this.setAttribute("aria-label", heading);
        this.prepend(make("h2", "sp-section-title", heading));
      }
    }
  });

  customElements.define("s-banner", class extends HTMLElement {
    connectedCallback() { if (this._built) return; this._built = true; whenParsed(() => this.build()); }
    build() {
      this.setAttribute("role", this.getAttribute("tone") === "critical" ? "alert" : "status");
      const heading = this.getAttribute("heading");
      if (heading) this.prepend(make("strong", "sp-banner-title", heading));
    }
  });

  // --- actions ---------------------------------------------------------------------------------------------
  customElements.define("s-button", class extends HTMLElement {
    static get observedAttributes() { return ["disabled", "loading"]; }
    connectedCallback() { if (this._built) return; this._built = true; whenParsed(() => this.build()); }
    build() {
      const href = this.getAttribute("href");
      const inner = href ? make("a", "sp-button-inner") : make("button", "sp-button-inner");
      if (href) inner.href = href; else inner.type = this.getAttribute("type") || "button";
      const label = this.getAttribute("accessibilityLabel");
      if (label) inner.setAttribute("aria-label", label);
      inner.append(...this.childNodes);
      this.append(inner);
      this._inner = inner;
      this.attributeChangedCallback();
    }
    attributeChangedCallback() {
      if (!this._inner) return;
      const off = bool(this, "disabled") || bool(this, "loading");
      if (this._inner.tagName === "BUTTON") this._inner.disabled = off;
      this._inner.setAttribute("aria-busy", String(bool(this, "loading")));
    }
    click() { this._inner ? this._inner.click() : super.click(); }
    focus() { this._inner ? this._inner.focus() : super.focus(); }
  });

  customElements.define("s-link", class extends HTMLElement {
    // In s-app-nav, rel="home" is where Shopify admin's app name links; the stand-in shows it as a link.
    connectedCallback() { if (this._built) return; this._built = true; whenParsed(() => this.build()); }
    build() {
      const a = make("a", "sp-link");
      a.href = this.getAttribute("href") || "#";
      if (this.getAttribute("target")) a.target = this.getAttribute("target");
      a.append(...this.childNodes);
      this.append(a);
    }
  });

  // --- form fields: a native control inside a real label, help and error text tied to it ------------------
  class Field extends HTMLElement {
    static get observedAttributes() { return ["label", "details", "error", "disabled", "value"]; }
    control() { return make("input", "sp-input"); }
    connectedCallback() { if (this._built) return; this._built = true; whenParsed(() => this.build()); }
    build() {
      const c = this.control();
      this._c = c;
      for (const a of ["placeholder", "min", "max", "step", "maxlength", "minlength", "pattern", "autocomplete", "inputmode", "rows"]) {
        const v = this.getAttribute(a) ?? this.getAttribute(a.replace(/length$/, "Length"));
        if (v !== null) c.setAttribute(a, v);
      }
      if (bool(this, "required")) c.required = true;
      if (this.hasAttribute("readonly")) c.readOnly = true;
      // The label names the control by id (not by wrapping it): a select's options are not part of its name.
      const label = make("div", "sp-field");
      c.id = uid("field");
      this._label = make("label", "sp-label");
      this._label.htmlFor = c.id;
      if (this.getAttribute("labelAccessibilityVisibility") === "exclusive") this._label.classList.add("sp-visually-hidden");
      if (this instanceof Checkbox) label.append(c, this._label); else label.append(this._label, this.prefixed(c));
      this._details = make("p", "sp-details"); this._details.id = uid("details");
      this._error = make("p", "sp-error"); this._error.id = uid("error");
      this.append(label, this._details, this._error);
      if (this._initial !== undefined) this.value = this._initial;
      else if (this.hasAttribute("value")) this.setValue(this.getAttribute("value"));
      this.sync();
    }
    prefixed(c) {
      const pre = this.getAttribute("prefix"), suf = this.getAttribute("suffix");
      if (!pre && !suf) return c;
      const wrap = make("span", "sp-affixed");
      if (pre) wrap.append(make("span", "sp-affix", pre));
      wrap.append(c);
      if (suf) wrap.append(make("span", "sp-affix", suf));
      return wrap;
    }
    setValue(v) { this._c.value = v ?? ""; }
    attributeChangedCallback(name) {
      if (!this._c) return;
      if (name === "value" && !this._dirty) this.setValue(this.getAttribute("value"));
      this.sync();
    }
    sync() {
      this._label.textContent = this.getAttribute("label") || "";
      const details = this.getAttribute("details") || "", error = this.getAttribute("error") || "";
      this._details.textContent = details; this._details.hidden = !details;
      this._error.textContent = error; this._error.hidden = !error;
      this._c.disabled = bool(this, "disabled");
      if (error) this._c.setAttribute("aria-invalid", "true"); else this._c.removeAttribute("aria-invalid");
      this._c.setAttribute("aria-describedby", [error && this._error.id, details && this._details.id].filter(Boolean).join(" "));
    }
    get value() { return this._c ? this._c.value : (this._initial ?? this.getAttribute("value") ?? ""); }
    set value(v) { if (this._c) { this.setValue(v); } else this._initial = v; }
    focus() { this._c ? this._c.focus() : super.focus(); }
    checkValidity() { return this._c ? this._c.checkValidity() : true; }
    reportValidity() { return this._c ? this._c.reportValidity() : true; }
  }
  const input = (type) => class extends Field { control() { const c = make("input", "sp-input"); c.type = type; return c; } };
  customElements.define("s-text-field", input("text"));
  customElements.define("s-email-field", input("email"));
  customElements.define("s-url-field", input("url"));
  customElements.define("s-search-field", input("search"));
  customElements.define("s-date-field", input("date"));
  customElements.define("s-number-field", class extends Field {
    control() { const c = make("input", "sp-input"); c.type = "number"; c.step = this.getAttribute("step") || "any"; return c; }
  });
  customElements.define("s-money-field", class extends Field {
    control() { const c = make("input", "sp-input"); c.type = "text"; c.inputMode = "decimal"; return c; }
  });
  customElements.define("s-text-area", class extends Field { control() { return make("textarea", "sp-input"); } });
  customElements.define("s-select", class extends Field {
    control() {
      const c = make("select", "sp-input");
      for (const o of this.querySelectorAll("s-option")) {
        const opt = new Option(o.textContent, o.getAttribute("value") ?? o.textContent);
        opt.disabled = o.hasAttribute("disabled");
        if (o.hasAttribute("selected")) opt.selected = true;
        c.append(opt);
      }
      return c;
    }
    setValue(v) { if (v !== null && v !== undefined) this._c.value = v; }
  });
  class Checkbox extends Field {
    control() { const c = make("input", "sp-checkbox"); c.type = "checkbox"; return c; }
    build() {
      super.build();
      if (this._initialChecked !== undefined) this._c.checked = this._initialChecked;
      else this._c.checked = bool(this, "checked") || bool(this, "defaultChecked");
    }
    get checked() { return this._c ? this._c.checked : (this._initialChecked ?? bool(this, "checked")); }
    set checked(v) { if (this._c) this._c.checked = !!v; else this._initialChecked = !!v; }
    get value() { return this.getAttribute("value") || "on"; }
    set value(v) { this.setAttribute("value", v); }
    setValue() {}
  }
  customElements.define("s-checkbox", Checkbox);

  // --- index tables: roles for assistive tech; pagination as Polaris does it (events, not links) -------------
  const roles = { "s-table-header-row": "row", "s-table-row": "row", "s-table-header": "columnheader", "s-table-cell": "cell", "s-table-body": "rowgroup" };
  for (const [tag, role] of Object.entries(roles)) {
    customElements.define(tag, class extends HTMLElement { connectedCallback() { this.setAttribute("role", role); } });
  }
  customElements.define("s-table", class extends HTMLElement {
    static get observedAttributes() { return ["paginate", "hasnextpage", "haspreviouspage", "loading"]; }
    connectedCallback() { if (this._built) return; this._built = true; whenParsed(() => this.build()); }
    build() {
      const filters = [...this.querySelectorAll(":scope > [slot=filters]")];
      const grid = make("div", "sp-table");
      grid.setAttribute("role", "table");
      if (this.getAttribute("accessibilityLabel")) grid.setAttribute("aria-label", this.getAttribute("accessibilityLabel"));
      const head = this.querySelector(":scope > s-table-header-row");
      if (head) { const g = make("div", "sp-table-head"); g.setAttribute("role", "rowgroup"); g.append(head); grid.append(g); }
      grid.append(...[...this.childNodes].filter((n) => !filters.includes(n)));
      if (filters.length) { const f = make("div", "sp-table-filters"); f.append(...filters); this.append(f); }
      this.append(grid);
      this._pager = make("nav", "sp-table-pager");
      this._pager.setAttribute("aria-label", "Pagination");
      this._prev = make("button", "sp-button-inner", "Previous"); this._prev.type = "button";
      this._next = make("button", "sp-button-inner", "Next"); this._next.type = "button";
      this._prev.addEventListener("click", () => this.dispatchEvent(new Event("previouspage")));
      this._next.addEventListener("click", () => this.dispatchEvent(new Event("nextpage")));
      this._pager.append(this._prev, this._next);
      this.append(this._pager);
      this.attributeChangedCallback();
    }
    attributeChangedCallback() {
      if (!this._pager) return;
      this._pager.hidden = !bool(this, "paginate");
      this._prev.disabled = !bool(this, "hasPreviousPage");
      this._next.disabled = !bool(this, "hasNextPage");
      this.setAttribute("aria-busy", String(bool(this, "loading")));
    }
  });
})();
