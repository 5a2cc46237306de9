/* The autodiff explorer of tinygrad_mnist: draws the recorded graph and steps through it.
   Every number shown comes from the JSON block the engine wrote (tinygrad_mnist.viz.explore);
   this script only lays it out: it computes no derivative. */
(function () {
  "use strict";
  var root = document.getElementById("tm-explorer");
  var DATA = JSON.parse(document.getElementById("tm-explorer-data").textContent);
  var svg = root.querySelector("[data-role=svg]");
  var NS = svg.namespaceURI;
  var panel = root.querySelector("[data-role=panel]");
  var counter = root.querySelector("[data-role=counter]");
  var STAGES = ["forward", "tangent", "reverse"];
  var TITLES = {forward: "Forward values", tangent: "Forward mode", reverse: "Reverse walk"};

  var byId = {}, order = {};
  DATA.nodes.forEach(function (n, i) { byId[n.id] = n; order[n.id] = i; });
  var blockById = {};
  DATA.blocks.forEach(function (b, k) { b.index = k; blockById[b.id] = b; });
  var allKey = DATA.blocks.map(function (b, k) { return k; }).join(",");
  var state = {stage: "forward", step: {forward: 0, tangent: 0, reverse: 0}, expanded: []};

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    if (text !== undefined) { e.textContent = text; }
    return e;
  }
  function sv(tag, attrs) {
    var e = document.createElementNS(NS, tag);
    for (var k in attrs || {}) { e.setAttribute(k, attrs[k]); }
    return e;
  }
  function num(v) { return typeof v === "string" ? Number(v) : v; }
  function fmt(v) {
    v = num(v);
    if (v === null || v === undefined) { return "-"; }
    if (isNaN(v)) { return "NaN"; }
    if (!isFinite(v)) { return v > 0 ? "inf" : "-inf"; }
    if (v === 0) { return "0"; }
    var a = Math.abs(v);
    if (a >= 1e-4 && a < 1e6) { return String(Number(v.toPrecision(6))); }
    return v.toExponential(4);
  }
  function shapeText(shape) {
    return "(" + shape.join(", ") + (shape.length === 1 ? "," : "") + ")";
  }
  function head(id) { return byId[id].label[0]; }

  // ---- stages and steps -----------------------------------------------------------------
  function stepCount(stage) { return stage === "reverse" ? DATA.steps.length + 1 : DATA.nodes.length; }
  function currentNode() {
    var i = state.step[state.stage];
    if (state.stage !== "reverse") { return DATA.nodes[i].id; }
    return i < DATA.steps.length ? DATA.steps[i].node : null;
  }
  function visible(id) {  // the box that shows node id: itself, or its collapsed block
    var b = byId[id].block;
    return b !== null && state.expanded.indexOf(blockById[b].index) < 0 ? b : id;
  }
  function status() {  // the class of each node for the current step
    var cls = {}, i = state.step[state.stage];
    if (state.stage !== "reverse") {
      DATA.nodes.forEach(function (n, k) { cls[n.id] = k < i ? "done" : k === i ? "current" : "pending"; });
      return cls;
    }
    DATA.nodes.forEach(function (n) { cls[n.id] = "pending"; });
    DATA.steps.forEach(function (s, k) { if (k < i) { cls[s.node] = "done"; } });
    if (i < DATA.steps.length) {
      DATA.steps[i].sends.forEach(function (s) { if (s.grad) { cls[s.to] = "receiving"; } });
      cls[DATA.steps[i].node] = "current";
    } else {
      DATA.leaves.forEach(function (l) { cls[l.node] = "deposit"; });
    }
    return cls;
  }
  var RANK = {current: 4, receiving: 3, deposit: 2, done: 1, pending: 0};

  // ---- the graph --------------------------------------------------------------------------
  function layout() {
    var key = state.expanded.slice().sort(function (a, b) { return a - b; }).join(",");
    if (!DATA.layouts[key]) { state.expanded = DATA.blocks.map(function (b, k) { return k; }); key = allKey; }
    return DATA.layouts[key];
  }
  function edgePath(e) {
    var p = e.points, d = "M" + p[0][0] + "," + p[0][1];
    if (e.curve) {
      for (var k = 1; k + 2 < p.length; k += 3) {
        d += " C" + p[k].join(",") + " " + p[k + 1].join(",") + " " + p[k + 2].join(",");
      }
    } else {
      for (var j = 1; j < p.length; j++) { d += " L" + p[j][0] + "," + p[j][1]; }
    }
    if (e.tip) { d += " L" + e.tip[0] + "," + e.tip[1]; }
    return d;
  }
  function box(id, x, y, w, h, lines, attrs) {
    var g = sv("g", attrs);
    g.setAttribute("transform", "translate(" + (x - w / 2) + "," + (y - h / 2) + ")");
    g.appendChild(sv("rect", {width: w, height: h, rx: 6, ry: 6}));
    lines.forEach(function (line, k) {
      var t = sv("text", {x: w / 2, y: 19 + 15 * k, "class": k === 0 ? "l1" : "l2"});
      t.textContent = line;
      g.appendChild(t);
    });
    var tip = sv("title");
    tip.textContent = lines.join("\n");
    g.appendChild(tip);
    return g;
  }
  function draw() {
    var lay = layout();
    while (svg.firstChild) { svg.removeChild(svg.firstChild); }
    var area = svg.parentNode, fit = Math.min((area.clientWidth - 24) / lay.width, (area.clientHeight - 24) / lay.height);
    var zoom = Math.min(1.6, Math.max(1, fit || 1));  // a small graph is drawn larger, a large one scrolls
    svg.setAttribute("width", lay.width * zoom);
    svg.setAttribute("height", lay.height * zoom);
    svg.setAttribute("viewBox", "0 0 " + lay.width + " " + lay.height);
    var defs = sv("defs");
    ["arrow", "arrow-hot"].forEach(function (name) {
      var m = sv("marker", {id: "tm-" + name, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 9,
                            markerHeight: 9, markerUnits: "userSpaceOnUse", orient: "auto", "class": name});
      m.appendChild(sv("path", {d: "M0,0 L10,5 L0,10 z"}));
      defs.appendChild(m);
    });
    svg.appendChild(defs);
    state.expanded.forEach(function (k) {  // an open block: a frame around its nodes
      var b = DATA.blocks[k], x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      b.members.forEach(function (id) {
        var r = lay.nodes[id];
        if (!r) { return; }
        x0 = Math.min(x0, r[0] - r[2] / 2); x1 = Math.max(x1, r[0] + r[2] / 2);
        y0 = Math.min(y0, r[1] - r[3] / 2); y1 = Math.max(y1, r[1] + r[3] / 2);
      });
      if (x0 === Infinity) { return; }
      var g = sv("g", {"class": "cluster", "data-cluster-id": b.id});
      g.appendChild(sv("rect", {x: x0 - 10, y: y0 - 22, width: x1 - x0 + 20, height: y1 - y0 + 32, rx: 8, ry: 8}));
      var t = sv("text", {x: x0 - 4, y: y0 - 8});
      t.textContent = b.label + "  (click to close)";
      g.appendChild(t);
      g.addEventListener("click", function () { toggle(k); });
      svg.appendChild(g);
    });
    var edges = sv("g", {"class": "edges"});
    lay.edges.forEach(function (e) {
      edges.appendChild(sv("path", {d: edgePath(e), "data-from": e.from, "data-to": e.to,
                                    "marker-end": "url(#tm-arrow)"}));
    });
    svg.appendChild(edges);
    Object.keys(lay.nodes).forEach(function (id) {
      var r = lay.nodes[id], g;
      if (blockById[id]) {
        var b = blockById[id];
        g = box(id, r[0], r[1], r[2], r[3], b.box, {"class": "node block", "data-block-id": id});
        g.addEventListener("click", function () { toggle(b.index); });
      } else {
        var n = byId[id];
        g = box(id, r[0], r[1], r[2], r[3], n.label, {"class": "node kind-" + n.kind, "data-node-id": id});
        if (id === DATA.output) { g.classList.add("output"); }
        g.addEventListener("click", function () { jumpTo(id); });
      }
      svg.appendChild(g);
    });
    update();
  }
  function toggle(k) {
    var at = state.expanded.indexOf(k);
    if (at < 0) { state.expanded.push(k); } else { state.expanded.splice(at, 1); }
    draw();
  }
  function jumpTo(id) {  // clicking a node goes to its step in this stage
    if (state.stage === "reverse") {
      for (var k = 0; k < DATA.steps.length; k++) { if (DATA.steps[k].node === id) { go(state.stage, k); return; } }
      return;
    }
    go(state.stage, order[id]);
  }

  // ---- tensors in the panel ---------------------------------------------------------------
  function colour(v, m) {
    v = num(v);
    if (v === null || isNaN(v)) { return [170, 170, 170]; }
    var t = m > 0 ? Math.max(-1, Math.min(1, v / m)) : 0, c = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? [255, c, c] : [c, c, 255];
  }
  function heatmap(heat, m) {
    var canvas = el("canvas", {width: heat.cols, height: heat.rows, "class": "heat"});
    var scale = Math.max(1, Math.floor(256 / Math.max(heat.cols, heat.rows)));
    canvas.style.width = heat.cols * scale + "px";
    canvas.style.height = Math.max(heat.rows * scale, 18) + "px";  // a single row stays visible
    var ctx = canvas.getContext("2d"), img = ctx.createImageData(heat.cols, heat.rows);
    heat.data.forEach(function (v, k) {
      var c = colour(v, m);
      img.data[4 * k] = c[0]; img.data[4 * k + 1] = c[1]; img.data[4 * k + 2] = c[2]; img.data[4 * k + 3] = 255;
    });
    ctx.putImageData(img, 0, 0);
    return canvas;
  }
  function tensorView(td, note) {
    var wrap = el("div", {"class": "tensor"});
    if (!td) { wrap.appendChild(el("p", {"class": "none"}, note || "none")); return wrap; }
    wrap.appendChild(el("div", {"class": "meta"}, shapeText(td.shape) + " " + td.dtype));
    if (td.values) {
      wrap.setAttribute("data-values", JSON.stringify(td.values));
      var cols = td.shape.length ? td.shape[td.shape.length - 1] : 1, table = el("table", {"class": "numbers"});
      var m = td.stats ? td.stats.maxabs : 0, row = null;
      td.values.forEach(function (v, k) {
        if (k % Math.max(cols, 1) === 0) { row = el("tr"); table.appendChild(row); }
        var cell = el("td", {title: String(num(v))}, fmt(v)), c = colour(v, m);
        cell.style.background = "rgba(" + c.join(",") + ",0.55)";
        row.appendChild(cell);
      });
      wrap.appendChild(table);
    } else if (td.heat) {
      var averaged = td.heat.rows * td.heat.cols < td.shape.reduce(function (a, b) { return a * b; }, 1);
      var top = 0;  // colours span the cells shown: averages are smaller than the extreme elements
      td.heat.data.forEach(function (v) { v = num(v); if (isFinite(v)) { top = Math.max(top, Math.abs(v)); } });
      wrap.appendChild(heatmap(td.heat, top));
      wrap.appendChild(el("div", {"class": "legend"}, "blue < 0 < red, full colour at |" +
        (averaged ? "cell mean" : "value") + "| = " + fmt(top) +
        (averaged ? " (averaged down to " + td.heat.rows + " x " + td.heat.cols + " cells)" : "")));
    }
    if (td.stats) {
      wrap.setAttribute("data-stats", JSON.stringify(td.stats));
      var s = td.stats;
      wrap.appendChild(el("div", {"class": "stats"},
        "min " + fmt(s.min) + "   max " + fmt(s.max) + "   mean " + fmt(s.mean) + "   norm " + fmt(s.norm)));
    }
    return wrap;
  }
  function card(title, cls) {
    var c = el("div", {"class": "card" + (cls ? " " + cls : "")});
    if (title) { c.appendChild(el("h3", {}, title)); }
    return c;
  }
  function describe(n) {
    if (n.kind === "op") { return n.op + "(" + n.inputs.map(head).join(", ") + ")"; }
    return n.kind === "leaf" ? "a leaf that requires grad" : "a constant (needs no gradient)";
  }
  function hint(text) { panel.appendChild(el("p", {"class": "hint"}, text)); }

  // ---- the panel of each stage --------------------------------------------------------------
  function showForward(id) {
    var n = byId[id];
    hint("The forward pass: each node is computed from its inputs, in the order the engine recorded them.");
    var c = card(n.label[0], "node-card");
    c.appendChild(el("p", {"class": "what"}, describe(n)));
    c.appendChild(el("h4", {}, "value"));
    c.appendChild(tensorView(n.value));
    panel.appendChild(c);
  }
  function showTangent(id) {
    var n = byId[id], fm = DATA.forward_mode;
    if (!fm.available) { hint(fm.note); return; }
    hint("Forward mode: each node carries a tangent J v, its derivative along the direction v given to the " +
         "leaves (" + (fm.given.join(", ") || "none") + ")" + (fm.held.length ? "; held fixed: " +
         fm.held.join(", ") : "") + ". The engine's JVP rules push v through each primitive.");
    var c = card(n.label[0], "node-card");
    c.appendChild(el("p", {"class": "what"}, describe(n)));
    c.appendChild(el("h4", {}, "tangent"));
    c.appendChild(tensorView(n.tangent, "no tangent: it does not depend on an input that carries one"));
    c.appendChild(el("h4", {}, "value"));
    c.appendChild(tensorView(n.value));
    panel.appendChild(c);
  }
  function showReverse(i) {
    if (i >= DATA.steps.length) { showDeposits(); return; }
    var s = DATA.steps[i], n = byId[s.node];
    hint("The reverse walk, newest node first (the engine's order): the gradient arriving at a node's output " +
         "goes through its VJP to each input, summed over broadcast axes to that input's shape.");
    var c = card("step " + (i + 1) + ": " + n.label[0], "node-card");
    c.appendChild(el("p", {"class": "what"}, describe(n)));
    c.appendChild(el("h4", {}, i === 0 ? "gradient arriving: the seed" : "gradient arriving (complete)"));
    c.appendChild(tensorView(s.grad));
    panel.appendChild(c);
    s.sends.forEach(function (send) {
      var to = byId[send.to], sc = card("input " + send.input + ": " + to.label[0], "send");
      sc.setAttribute("data-send-to", send.to);
      if (!send.grad) {
        sc.appendChild(el("p", {"class": "none"}, "needs no gradient: its VJP is not called"));
        panel.appendChild(sc);
        return;
      }
      sc.appendChild(el("h4", {}, "receives (shaped like the input)"));
      sc.appendChild(tensorView(send.grad));
      if (send.of > 1) {
        sc.appendChild(el("p", {"class": "fanout"}, "fan-out: contribution " + send.k + " of " + send.of +
          (send.k === send.of ? ", the last: the sum below is its whole gradient" : ", summed with the others")));
        sc.appendChild(el("h4", {}, "running sum"));
        sc.appendChild(tensorView(send.running));
      }
      panel.appendChild(sc);
    });
  }
  function showDeposits() {
    hint("The walk is over: each leaf's gradient, the sum of everything it received, is deposited into its .grad.");
    DATA.leaves.forEach(function (leaf) {
      var c = card(leaf.name + ".grad", "leaf");
      c.setAttribute("data-leaf", leaf.name);
      if (leaf.grad.values) { c.setAttribute("data-values", JSON.stringify(leaf.grad.values)); }
      if (leaf.accumulated) { c.appendChild(el("p", {"class": "fanout"}, "added to the .grad it already had")); }
      c.appendChild(tensorView(leaf.grad));
      panel.appendChild(c);
    });
  }

  // ---- update ------------------------------------------------------------------------------
  function update() {
    var cls = status(), shown = {};
    Object.keys(cls).forEach(function (id) {
      var v = visible(id);
      if (!(v in shown) || RANK[cls[id]] > RANK[shown[v]]) { shown[v] = cls[id]; }
    });
    svg.querySelectorAll(".node").forEach(function (g) {
      var id = g.getAttribute("data-node-id") || g.getAttribute("data-block-id");
      ["current", "done", "pending", "receiving", "deposit"].forEach(function (c) { g.classList.remove(c); });
      if (shown[id]) { g.classList.add(shown[id]); }
    });
    var cur = currentNode(), curBox = cur === null ? null : visible(cur), hot = {};
    if (cur !== null) {
      byId[cur].inputs.forEach(function (i) { hot[visible(i) + ">" + curBox] = true; });
    }
    svg.querySelectorAll(".edges path").forEach(function (p) {
      var on = hot[p.getAttribute("data-from") + ">" + p.getAttribute("data-to")] === true;
      p.classList.toggle("hot", on);
      p.classList.toggle("back", on && state.stage === "reverse");
      p.setAttribute("marker-end", on ? "url(#tm-arrow-hot)" : "url(#tm-arrow)");
    });
    root.querySelectorAll("[data-stage]").forEach(function (b) {
      b.setAttribute("aria-pressed", String(b.getAttribute("data-stage") === state.stage));
    });
    var i = state.step[state.stage], n = stepCount(state.stage);
    counter.textContent = TITLES[state.stage] + ": step " + (i + 1) + " / " + n;
    root.querySelector("[data-action=prev]").disabled = i === 0;
    root.querySelector("[data-action=first]").disabled = i === 0;
    root.querySelector("[data-action=next]").disabled = i === n - 1;
    root.querySelector("[data-action=last]").disabled = i === n - 1;
    panel.textContent = "";
    if (state.stage === "forward") { showForward(cur); }
    else if (state.stage === "tangent") { showTangent(cur); }
    else { showReverse(i); }
    var target = svg.querySelector(".node.current");
    if (target && target.scrollIntoView) { target.scrollIntoView({block: "nearest", inline: "nearest"}); }
  }
  function go(stage, step) {
    if (STAGES.indexOf(stage) < 0) { return; }
    state.stage = stage;
    state.step[stage] = Math.max(0, Math.min(stepCount(stage) - 1, step));
    update();
  }
  function move(delta) { go(state.stage, state.step[state.stage] + delta); }

  root.querySelectorAll("[data-stage]").forEach(function (b) {
    b.addEventListener("click", function () { go(b.getAttribute("data-stage"), state.step[b.getAttribute("data-stage")]); });
  });
  var ACTIONS = {prev: function () { move(-1); }, next: function () { move(1); },
                 first: function () { go(state.stage, 0); }, last: function () { go(state.stage, Infinity); }};
  root.querySelectorAll("[data-action]").forEach(function (b) {
    b.addEventListener("click", ACTIONS[b.getAttribute("data-action")]);
  });
  document.addEventListener("keydown", function (e) {
    var keys = {ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1};
    if (e.key in keys) { move(keys[e.key]); e.preventDefault(); }
    else if (e.key === "Home") { go(state.stage, 0); e.preventDefault(); }
    else if (e.key === "End") { go(state.stage, Infinity); e.preventDefault(); }
    else if (e.key === "1" || e.key === "2" || e.key === "3") { go(STAGES[Number(e.key) - 1], state.step[STAGES[Number(e.key) - 1]]); }
  });

  window.explorer = {
    state: function () {
      var current = svg.querySelector(".node.current");
      return {stage: state.stage, step: state.step[state.stage], steps: stepCount(state.stage), node: currentNode(),
              highlighted: current ? (current.getAttribute("data-node-id") || current.getAttribute("data-block-id")) : null,
              expanded: state.expanded.slice()};
    },
    go: go, next: function () { move(1); }, prev: function () { move(-1); },
    toggle: toggle
  };
  window.addEventListener("resize", draw);
  draw();
})();
