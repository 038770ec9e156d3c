/* gradnotes explorer: draws precomputed engine runs (explorer/v1/*.json) for the state in the URL.
 * No dependencies. Every string the reader sees comes from the page (its language); this file holds none.
 * A no-op on pages without [data-gx-root]. Values are codes round(100·log10 v), delta-coded per layer
 * (null = exact 0, "x" = inf/NaN; the value after either is absolute): see gradnotes/site/explorer.py.
 */
(function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var KEYS = ["a", "i", "n", "r", "d", "w", "b"];
  var NAMES = { a: "activation", i: "init", n: "norm", r: "residual", d: "depth", w: "width", b: "batch" };

  function decode(list) {
    var out = [], prev = null;
    for (var k = 0; k < list.length; k++) {
      var v = list[k];
      if (typeof v === "number") { prev = prev === null ? v : prev + v; out.push(prev); }
      else { out.push(v === null ? null : "x"); prev = null; }
    }
    return out;
  }
  function isCode(v) { return typeof v === "number"; }
  // user units = CSS pixels of the drawn width (at least 320): ticks and labels keep their size on a phone
  function size(svg) {
    var w = Math.round(svg.getBoundingClientRect().width);
    return w > 0 ? Math.max(320, Math.min(w, 900)) : 640;
  }
  function fmt(template, values) {
    return template.replace(/\{(\w+)\}/g, function (m, k) { return k in values ? values[k] : m; });
  }
  function num(x, digits) { return (x < 0 ? "\u2212" : "") + Math.abs(x).toFixed(digits); }
  function sci(code) { return Math.pow(10, code / 100).toExponential(2); }
  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    for (var k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function Explorer(root) {
    this.root = root;
    this.t = root.dataset;
    this.form = root.querySelector("form");
    this.shards = {};
    this.base = new URL(root.dataset.gxData, location.href);
  }

  Explorer.prototype.start = function () {
    var self = this;
    fetch(new URL("index.json", this.base)).then(function (r) {
      if (!r.ok) throw new Error("index.json");
      return r.json();
    }).then(function (index) {
      if (!index || !index.axes || !index.key) throw new Error("index.json");
      self.index = index;
      var fallback = document.querySelector(".gx-static");
      if (fallback) fallback.hidden = true;
      self.root.querySelector(".gx-live").hidden = false;
      self.setupControls();
      self.fromURL(false);
      window.addEventListener("popstate", function () { self.fromURL(false); });
      var pending = null, width = window.innerWidth;
      window.addEventListener("resize", function () {
        if (window.innerWidth === width) return;
        width = window.innerWidth;
        clearTimeout(pending);
        pending = setTimeout(function () { if (self.state) self.show(); }, 150);
      });
    }).catch(function () { self.fail("index.json"); });
  };

  Explorer.prototype.fail = function (file) {
    var box = this.root.querySelector(".gx-error");
    box.textContent = fmt(this.t.tError, { file: file });
    box.hidden = false;
    var fallback = document.querySelector(".gx-static");
    if (fallback) fallback.hidden = false;
    var live = this.root.querySelector(".gx-live");
    if (live) live.hidden = true;
    this.root.dataset.gxState = "error";
  };

  Explorer.prototype.setupControls = function () {
    var self = this, ax = this.index.axes, f = this.form;
    var depth = f.elements.d;
    depth.min = 0; depth.max = ax.depth.length - 1; depth.step = 1;
    // the range reports every step as "input" (then "change" once more): one history entry per step
    f.addEventListener("change", function (ev) { if (ev.target !== depth) self.fromControls(); });
    depth.addEventListener("input", function () { self.fromControls(); });
    var pin = this.root.querySelector(".gx-pin");
    pin.addEventListener("click", function () {
      if (self.pinned) { self.pinned = null; } else if (self.current) {
        self.pinned = { grad: self.current.grad, act: self.current.act, label: self.current.label };
      }
      pin.setAttribute("aria-pressed", self.pinned ? "true" : "false");
      pin.textContent = self.pinned ? self.t.tUnpin : self.t.tPin;
      self.show();
    });
    this.root.addEventListener("click", function (ev) {
      var link = ev.target.closest && ev.target.closest("a.gx-preset");
      if (!link) return;
      ev.preventDefault();
      history.pushState(null, "", link.getAttribute("href"));
      self.fromURL(true);
    });
  };

  // The state from the URL: every value checked against the grid; anything else becomes the nearest valid value,
  // and a one-line notice says what changed.
  Explorer.prototype.fromURL = function (focusLive) {
    var ax = this.index.axes, def = this.index["default"], q = new URLSearchParams(location.search);
    var state = {}, changed = [];
    function pick(key, options, fallback, numeric) {
      var raw = q.get(key);
      if (raw === null) return fallback;
      if (numeric) {
        var v = Number(raw);
        if (options.indexOf(v) >= 0) return v;
        var best = fallback;
        if (isFinite(v)) {
          best = options.reduce(function (a, b) { return Math.abs(b - v) < Math.abs(a - v) ? b : a; });
        }
        changed.push([key, raw, best]);
        return best;
      }
      if (options.indexOf(raw) >= 0) return raw;
      changed.push([key, raw, fallback]);
      return fallback;
    }
    state.a = pick("a", ax.activation, def.activation);
    state.i = pick("i", ax.init, def.init);
    state.n = pick("n", ax.norm, def.norm);
    state.r = pick("r", ax.residual, def.residual ? 1 : 0, true);
    state.d = pick("d", ax.depth, def.depth, true);
    state.w = pick("w", ax.width, def.width, true);
    var batches = ax.batch[state.n];
    state.b = pick("b", batches, batches.indexOf(def.batch) >= 0 ? def.batch : batches[batches.length - 1], true);
    var notice = this.root.querySelector(".gx-notice");
    if (changed.length) {
      var t = this.t, self = this;
      notice.textContent = changed.map(function (c) {
        return fmt(t.tNotice, { key: self.labelFor(c[0]), value: c[1], fallback: self.valueText(c[0], c[2]) });
      }).join(" ");
      notice.hidden = false;
      history.replaceState(null, "", this.query(state));
    } else {
      notice.hidden = true;
    }
    this.state = state;
    this.toControls();
    this.show();
  };

  // The control's label and a value's text, in the page's language (the page holds every string)
  Explorer.prototype.labelFor = function (key) {
    var f = this.form, control = f.querySelector("[name=" + key + "]");
    var fieldset = control && control.closest("fieldset");
    if (fieldset) return fieldset.querySelector("legend").textContent.trim();
    var label = control && (control.id ? f.querySelector("label[for=" + control.id + "]") : control.closest("label"));
    return label ? label.textContent.replace(/:.*$/, "").trim() : NAMES[key];
  };

  Explorer.prototype.valueText = function (key, value) {
    var option = this.form.querySelector("select[name=" + key + "] option[value='" + value + "']");
    return option ? option.textContent : String(value);
  };

  Explorer.prototype.fromControls = function () {
    var f = this.form, ax = this.index.axes;
    var state = {
      a: f.elements.a.value,
      i: f.elements.i.value,
      n: f.querySelector("input[name=n]:checked").value,
      r: f.elements.r.checked ? 1 : 0,
      d: ax.depth[Number(f.elements.d.value)],
      w: Number(f.querySelector("input[name=w]:checked").value),
      b: Number(f.elements.b.value)
    };
    var batches = ax.batch[state.n];
    if (batches.indexOf(state.b) < 0) state.b = batches.indexOf(30) >= 0 ? 30 : batches[batches.length - 1];
    this.root.querySelector(".gx-notice").hidden = true;
    this.state = state;
    history.pushState(null, "", this.query(state));
    this.toControls();
    this.show();
  };

  Explorer.prototype.query = function (s) {
    return "?" + KEYS.map(function (k) { return k + "=" + encodeURIComponent(s[k]); }).join("&");
  };

  Explorer.prototype.toControls = function () {
    var f = this.form, s = this.state, ax = this.index.axes;
    f.elements.a.value = s.a;
    f.elements.i.value = s.i;
    f.querySelector("input[name=n][value=" + s.n + "]").checked = true;
    f.elements.r.checked = !!s.r;
    var d = f.elements.d;
    d.value = ax.depth.indexOf(s.d);
    d.setAttribute("aria-valuetext", fmt(this.t.tDepth, { depth: s.d }));
    this.root.querySelector(".gx-depth-value").textContent = s.d;
    f.querySelector("input[name=w][value='" + s.w + "']").checked = true;
    var b = f.elements.b, batches = ax.batch[s.n];
    while (b.options.length) b.remove(0);
    batches.forEach(function (v) { b.add(new Option(String(v), String(v), false, v === s.b)); });
    b.value = String(s.b);
    b.disabled = batches.length < 2;
    this.root.querySelector(".gx-batch-hint").hidden = batches.length > 1;
    // the language switcher keeps the view
    var search = location.search;
    document.querySelectorAll(".md-select__link").forEach(function (a) {
      var href = a.getAttribute("href").split("?")[0];
      a.setAttribute("href", href + search);
    });
  };

  Explorer.prototype.shardName = function (s) {
    return s.a + "-" + s.n + "-" + s.r + "-w" + s.w + ".json";
  };

  Explorer.prototype.show = function () {
    var self = this, s = this.state, name = this.shardName(s);
    var key = KEYS.map(function (k) { return s[k]; }).join("/");
    this.root.dataset.gxState = "loading";
    var cached = this.shards[name];
    var load = cached ? Promise.resolve(cached) : fetch(new URL(name, this.base)).then(function (r) {
      if (!r.ok) throw new Error(name);
      return r.json();
    }).then(function (shard) {
      if (!shard || shard.key !== self.index.key || !shard.data) throw new Error(name);
      self.shards[name] = shard;
      return shard;
    });
    load.then(function (shard) {
      if (self.state !== s) return; // a newer change won
      var entry = shard.data[s.i + "/" + s.b];
      if (!entry || !entry.grad[String(s.d)]) throw new Error(name);
      self.render(shard, entry, s);
      self.root.dataset.gxKey = key;
      self.root.dataset.gxState = "ready";
      self.root.querySelector(".gx-error").hidden = true;
    }).catch(function () { if (self.state === s) self.fail(name); });
  };

  function stats(runs, depth) {
    var mean = [], lo = [], hi = [];
    for (var l = 0; l < depth; l++) {
      var vals = runs.map(function (r) { return r[l]; });
      if (vals.every(isCode)) {
        mean.push(vals.reduce(function (a, b) { return a + b; }, 0) / vals.length);
        lo.push(Math.min.apply(null, vals));
        hi.push(Math.max.apply(null, vals));
      } else { mean.push(null); lo.push(null); hi.push(null); }
    }
    return { mean: mean, lo: lo, hi: hi };
  }

  Explorer.prototype.render = function (shard, entry, s) {
    var depth = s.d;
    var grad = entry.grad[String(depth)].map(decode);
    var act = entry.act.map(function (r) { return decode(r).slice(0, depth); });
    var frac = entry.frac ? entry.frac.slice(0, depth) : null;
    var line = shard.theory[s.i];
    var theoryGrad = line ? decode(line.grad[String(depth)]) : null;
    var theoryAct = line ? decode(line.act).slice(0, depth) : null;
    var g = stats(grad, depth), h = stats(act, depth);
    var pinned = this.pinned;
    this.plot("grad", grad, g, theoryGrad, depth, pinned && pinned.grad);
    this.plot("act", act, h, theoryAct, depth, pinned && pinned.act);
    var legend = this.root.querySelector(".gx-pinned");
    legend.hidden = !pinned;
    legend.textContent = pinned ? fmt(this.t.tPinned, { config: pinned.label }) : "";
    this.fractionPlot(frac, depth, shard.fraction);
    this.summary(s, grad, line);
    this.current = { grad: g.mean, act: h.mean, label: this.root.querySelector(".gx-summary").dataset.config };
    this.table(g, h, theoryGrad, frac, depth);
    var cmd = "gradnotes simulate --activation " + s.a + " --init " + s.i + " --norm " + s.n + " --depth " + s.d +
      " --width " + s.w + " --batch " + s.b + " --seeds " + this.index.axes.seeds.join(",") + (s.r ? " --residual" : "");
    this.root.querySelector(".gx-command").textContent = cmd;
    var topic = s.n === "batchnorm" ? (s.b < 30 ? "bn-limits" : "batchnorm") : s.n === "layernorm" ? "layernorm" :
      s.r ? "residual" : s.a === "centered_sigmoid" ? "activations" :
      (s.a === "sigmoid" || s.a === "tanh") ? "vanishing" : "initialization";
    this.root.querySelectorAll("[data-gx-topic]").forEach(function (a) { a.hidden = a.dataset.gxTopic !== topic; });
  };

  Explorer.prototype.plot = function (which, runs, st, theory, depth, ghost) {
    var svg = this.root.querySelector("svg[data-gx-plot=" + which + "]");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var W = size(svg), H = W < 500 ? 240 : 280, L = 56, R = 12, T = 12, B = 36;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    var all = [];
    runs.forEach(function (r) { r.forEach(function (v) { if (isCode(v)) all.push(v); }); });
    if (theory) theory.forEach(function (v) { if (isCode(v)) all.push(v); });
    if (ghost) ghost.forEach(function (v) { if (isCode(v)) all.push(v); });
    var lo = all.length ? Math.min.apply(null, all) : -100, hi = all.length ? Math.max.apply(null, all) : 100;
    var d0 = Math.floor(lo / 100), d1 = Math.ceil(hi / 100);
    if (d1 - d0 < 2) { d0 -= 1; d1 += 1; }
    var x = function (l) { return L + (depth === 1 ? 0 : (l / (depth - 1)) * (W - L - R)); };
    var y = function (c) { return T + (1 - (c / 100 - d0) / (d1 - d0)) * (H - T - B); };
    this.axes(svg, W, H, L, R, T, B, depth, x);
    var step = Math.max(1, Math.ceil((d1 - d0) / 8));
    for (var k = d0; k <= d1; k += step) {
      el("line", { "class": "gx-grid", x1: L, x2: W - R, y1: y(k * 100), y2: y(k * 100) }, svg);
      var label = el("text", { "class": "gx-tick", x: L - 6, y: y(k * 100) + 4, "text-anchor": "end" }, svg);
      label.textContent = "10";
      var sup = el("tspan", { dy: -6, "font-size": "0.75em" }, label);
      sup.textContent = num(k, 0).replace(/^0$/, "0");
    }
    function path(values) {
      var d = "", pen = false;
      values.forEach(function (v, l) {
        if (isCode(v)) { d += (pen ? "L" : "M") + x(l).toFixed(1) + " " + y(v).toFixed(1); pen = true; } else pen = false;
      });
      return d;
    }
    // min-max band where every seed is finite
    var upper = "", lower = [];
    var segs = [], cur = [];
    st.lo.forEach(function (v, l) {
      if (v === null) { if (cur.length) segs.push(cur); cur = []; } else cur.push(l);
    });
    if (cur.length) segs.push(cur);
    segs.forEach(function (seg) {
      upper += "M" + seg.map(function (l) { return x(l).toFixed(1) + " " + y(st.hi[l]).toFixed(1); }).join("L");
      lower = seg.slice().reverse().map(function (l) { return x(l).toFixed(1) + " " + y(st.lo[l]).toFixed(1); });
      upper += "L" + lower.join("L") + "Z";
    });
    el("path", { "class": "gx-band", d: upper }, svg);
    runs.forEach(function (r, k) {
      el("path", { "class": "gx-seed", d: path(r), "data-seed": k, "data-codes": JSON.stringify(r) }, svg);
      r.forEach(function (v, l) {
        if (v === "x") {
          var m = el("text", { "class": "gx-nonfinite", x: x(l), y: T + 10, "text-anchor": "middle" }, svg);
          m.textContent = "\u2715";
        } else if (v === null) {
          var z = el("text", { "class": "gx-zero", x: x(l), y: H - B - 4, "text-anchor": "middle" }, svg);
          z.textContent = "\u25BC";
        }
      });
    });
    if (ghost) {
      // a pinned curve is drawn over its own layers: layer l of the pinned network at the same x as layer l here
      var gx = function (l) { return L + (ghost.length === 1 ? 0 : (l / (depth - 1)) * (W - L - R)); };
      var gd = "", pen = false;
      ghost.forEach(function (v, l) {
        if (l < depth && isCode(v)) { gd += (pen ? "L" : "M") + gx(l).toFixed(1) + " " + y(v).toFixed(1); pen = true; }
        else pen = false;
      });
      el("path", { "class": "gx-ghost", d: gd }, svg);
    }
    if (theory) el("path", { "class": "gx-theory", d: path(theory), "data-codes": JSON.stringify(theory) }, svg);
    el("path", { "class": "gx-mean", d: path(st.mean), "data-codes": JSON.stringify(st.mean) }, svg);
  };

  Explorer.prototype.axes = function (svg, W, H, L, R, T, B, depth, x) {
    el("line", { "class": "gx-axis", x1: L, x2: W - R, y1: H - B, y2: H - B }, svg);
    el("line", { "class": "gx-axis", x1: L, x2: L, y1: T, y2: H - B }, svg);
    var ticks = depth <= 10 ? [1, Math.ceil(depth / 2), depth] : [1, Math.round(depth / 4), Math.round(depth / 2),
      Math.round(3 * depth / 4), depth];
    ticks.filter(function (v, k, a) { return a.indexOf(v) === k; }).forEach(function (layer) {
      var tx = el("text", { "class": "gx-tick", x: x(layer - 1), y: H - B + 16, "text-anchor": "middle" }, svg);
      tx.textContent = layer;
    });
    var lab = el("text", { "class": "gx-label", x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle" }, svg);
    lab.textContent = this.t.tLayer;
  };

  Explorer.prototype.fractionPlot = function (frac, depth, metric) {
    var svg = this.root.querySelector("svg[data-gx-plot=frac]");
    while (svg.firstChild) svg.removeChild(svg.firstChild);
    var W = size(svg), H = 200, L = 56, R = 12, T = 12, B = 36;
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    var x = function (l) { return L + (depth === 1 ? 0 : (l / (depth - 1)) * (W - L - R)); };
    var y = function (f) { return T + (1 - f / 1000) * (H - T - B); };
    this.axes(svg, W, H, L, R, T, B, depth, x);
    [0, 250, 500, 750, 1000].forEach(function (f) {
      el("line", { "class": "gx-grid", x1: L, x2: W - R, y1: y(f), y2: y(f) }, svg);
      var label = el("text", { "class": "gx-tick", x: L - 6, y: y(f) + 4, "text-anchor": "end" }, svg);
      label.textContent = (f / 10) + "%";
    });
    this.root.querySelectorAll("[data-gx-frac]").forEach(function (n) { n.hidden = n.dataset.gxFrac !== metric; });
    if (!frac) return;
    var d = frac.map(function (f, l) { return (l ? "L" : "M") + x(l).toFixed(1) + " " + y(f).toFixed(1); }).join("");
    el("path", { "class": "gx-mean gx-frac", d: d, "data-codes": JSON.stringify(frac) }, svg);
  };

  Explorer.prototype.summary = function (s, grad, line) {
    var t = this.t, f = this.form;
    var ratios = grad.map(function (r) {
      return isCode(r[0]) && isCode(r[r.length - 1]) ? (r[0] - r[r.length - 1]) / 100 : null;
    });
    var box = this.root.querySelector(".gx-summary");
    var config = f.elements.a.selectedOptions[0].textContent + " + " + f.elements.i.selectedOptions[0].textContent +
      (s.n !== "none" ? " + " + f.querySelector("input[name=n]:checked").parentNode.textContent.trim() : "") +
      (s.r ? " + " + t.tResidual : "");
    box.dataset.config = config + " (" + fmt(t.tDepth, { depth: s.d }) + ")";
    var text;
    if (ratios.every(function (r) { return r !== null; })) {
      var dec = ratios.reduce(function (a, b) { return a + b; }, 0) / ratios.length;
      var verdict = dec < -1 ? t.tVanish : dec > 1 ? t.tExplode : t.tStable;
      text = fmt(t.tSummary, { config: config, depth: s.d, seeds: ratios.length, dec: num(dec, 1), verdict: verdict });
      box.dataset.decades = dec.toFixed(4);
    } else {
      text = fmt(t.tNonfinite, { config: config, depth: s.d });
      box.dataset.decades = "nan";
    }
    if (!line) {
      var reason = s.n !== "none" ? t.tNoTheoryNorm : t.tNoTheoryResidual;
      text += " " + reason;
    }
    // "10^{dec}" in the page's template is shown as 10 with a superscript
    while (box.firstChild) box.removeChild(box.firstChild);
    text.split(/10\^(\S+?)(?=[\s배×x(])/).forEach(function (part, k) {
      if (k % 2) {
        box.appendChild(document.createTextNode("10"));
        var sup = document.createElement("sup");
        sup.textContent = part;
        box.appendChild(sup);
      } else box.appendChild(document.createTextNode(part));
    });
  };

  Explorer.prototype.table = function (g, h, theory, frac, depth) {
    var body = this.root.querySelector(".gx-table tbody");
    while (body.firstChild) body.removeChild(body.firstChild);
    function cell(row, code, isFrac) {
      var td = document.createElement("td");
      if (code === null || code === undefined || code === "x") {
        td.textContent = code === "x" ? "inf/NaN" : "\u2014";
        td.dataset.code = code === "x" ? "x" : "none";
      } else {
        td.textContent = isFrac ? (code / 10).toFixed(1) + "%" : sci(code);
        td.dataset.code = isFrac ? String(code) : code.toFixed(4);
      }
      row.appendChild(td);
    }
    for (var l = 0; l < depth; l++) {
      var row = document.createElement("tr");
      var th = document.createElement("th");
      th.scope = "row";
      th.textContent = l + 1;
      row.appendChild(th);
      cell(row, g.mean[l]); cell(row, g.lo[l]); cell(row, g.hi[l]); cell(row, theory ? theory[l] : null);
      cell(row, h.mean[l]); cell(row, frac ? frac[l] : null, true);
      body.appendChild(row);
    }
  };

  function init() {
    var root = document.querySelector("[data-gx-root]");
    if (!root || root.dataset.gxStarted) return;
    root.dataset.gxStarted = "1";
    new Explorer(root).start();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
