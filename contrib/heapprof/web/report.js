// SPDX-License-Identifier: MIT
// heapprof web: the report page's script. It reads the data heapprof embedded
// (a function table, a trie of stacks, values per profile and sample type, the
// source of the top functions) and draws every view from one state: sample type,
// snapshot, focus and ignore filters, search, zoom, selected function (its
// callers, callees and source). No library, no network.
'use strict';

var D = JSON.parse(document.getElementById('data').textContent);

// ---- the data, unpacked once ------------------------------------------------

var nNodes = D.nodeFunc.length;
var parent = new Int32Array(nNodes); // -1: a root frame
var kids = [];                       // children of each node, sorted by name
var roots = [];
(function unpack() {
	for (var i = 0; i < nNodes; i++) {
		parent[i] = D.nodeUp[i] ? i - D.nodeUp[i] : -1;
		kids.push([]);
		(parent[i] < 0 ? roots : kids[parent[i]]).push(i);
	}
	var byName = function (a, b) {
		var x = D.funcs[D.nodeFunc[a]], y = D.funcs[D.nodeFunc[b]];
		return x < y ? -1 : x > y ? 1 : 0;
	};
	roots.sort(byName);
	kids.forEach(function (k) { if (k.length > 1) k.sort(byName); });
	D.snapshots.forEach(function (snap, i) {
		snap.values = snap.values.map(function (v, t) {
			return expand(v, i ? D.snapshots[i - 1].values[t] : null);
		});
	});
})();

// A snapshot's values by stack: whole ([v0,v1,...]), or the previous
// snapshot's plus the changes ({gaps, deltas}: the distance from one changed
// stack to the next, and its change).
function expand(v, prev) {
	if (Array.isArray(v))
		return Float64Array.from(v);
	var out = Float64Array.from(prev);
	for (var k = 0, s = 0; k < v.gaps.length; k++) {
		s += v.gaps[k];
		out[s] += v.deltas[k];
	}
	return out;
}

var state = {
	type: D.defaultType,
	snap: D.snapshots.length - 1,
	focus: '', ignore: '', search: '',
	icicle: false,
	zoom: -1,      // the node the flame graph is zoomed to, -1: all
	sort: 'flat',
	selected: -1   // the function of the caller/callee view, -1: none
};
var view = null; // what compute() derives from the state

// ---- numbers ------------------------------------------------------------------

// A value in its unit, as heapprof top prints it: 45.51MB, 1.2kB, 447.88ms, 1234.
function fmt(v, unit) {
	if (unit === 'nanoseconds') {
		var t = [['ns', 1], ['us', 1e3], ['ms', 1e6], ['s', 1e9], ['hrs', 3.6e12]], k = 0;
		while (k < 4 && Math.abs(v) >= t[k + 1][1])
			k++;
		return v ? (+(v / t[k][1]).toFixed(2)) + t[k][0] : '0';
	}
	if (unit !== 'bytes')
		return Math.round(v).toLocaleString('en-US');
	var names = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'], i = 0;
	while (Math.abs(v) >= 1024 && i < 5) {
		v /= 1024;
		i++;
	}
	return (+v.toFixed(2)) + names[i];
}

function unit() { return D.types[state.type].unit; }
function signed(v) { return (D.base && v > 0 ? '+' : '') + fmt(v, unit()); }
function pct(v, total) { return total ? (100 * v / total).toFixed(2) + '%' : '-'; }

// A regex from a box, or null when empty; marks the box when it does not parse.
function regex(id, text) {
	var box = document.getElementById(id);
	box.classList.remove('bad');
	if (!text)
		return null;
	try {
		return new RegExp(text);
	} catch (e) {
		box.classList.add('bad');
		return null;
	}
}

// ---- the model: values, filters, per-function totals -------------------------

// Per function: does its name match re?
function funcMatches(re) {
	var m = new Uint8Array(D.funcs.length);
	if (re)
		for (var f = 0; f < D.funcs.length; f++)
			m[f] = re.test(D.funcs[f]) ? 1 : 0;
	return m;
}

// Per node: does it or a frame rootward of it match (a function flag)?
function nodeThrough(fm) {
	var t = new Uint8Array(nNodes);
	for (var i = 0; i < nNodes; i++) // a parent always comes before its children
		t[i] = fm[D.nodeFunc[i]] || (parent[i] >= 0 && t[parent[i]]);
	return t;
}

// Which stacks the focus and ignore boxes keep.
function keptStacks() {
	var focus = regex('focus', state.focus), ignore = regex('ignore', state.ignore);
	var ft = focus && nodeThrough(funcMatches(focus));
	var it = ignore && nodeThrough(funcMatches(ignore));
	var keep = new Uint8Array(D.stackNode.length);
	for (var s = 0; s < keep.length; s++) {
		var n = D.stackNode[s];
		keep[s] = (!ft || (n >= 0 && ft[n])) && (!it || n < 0 || !it[n]) ? 1 : 0;
	}
	return keep;
}

// Values by stack of snapshot i for type t, minus the base's, where kept.
function values(i, t, keep) {
	var cur = D.snapshots[i].values[t], base = D.base && D.base.values[t];
	var v = new Float64Array(cur.length);
	for (var s = 0; s < v.length; s++)
		if (keep[s])
			v[s] = cur[s] - (base ? base[s] : 0);
	return v;
}

// Width (sum |v|) and net (sum v) of every node of the trie.
function nodeTotals(v) {
	var width = new Float64Array(nNodes), net = new Float64Array(nNodes);
	for (var s = 0; s < v.length; s++) {
		var n = D.stackNode[s];
		if (n >= 0 && v[s]) {
			width[n] += Math.abs(v[s]);
			net[n] += v[s];
		}
	}
	for (var i = nNodes - 1; i >= 0; i--)
		if (parent[i] >= 0) {
			width[parent[i]] += width[i];
			net[parent[i]] += net[i];
		}
	return { width: width, net: net };
}

// Flat (leaf) and cum (once per stack) of every function.
function byFunction(v) {
	var nf = D.funcs.length;
	var flat = new Float64Array(nf), cum = new Float64Array(nf), seen = new Int32Array(nf);
	seen.fill(-1);
	for (var s = 0; s < v.length; s++) {
		var n = D.stackNode[s];
		if (!v[s] || n < 0)
			continue;
		flat[D.nodeFunc[n]] += v[s];
		for (; n >= 0; n = parent[n]) {
			var f = D.nodeFunc[n];
			if (seen[f] !== s) {
				seen[f] = s;
				cum[f] += v[s];
			}
		}
	}
	return { flat: flat, cum: cum };
}

function compute() {
	var keep = keptStacks();
	var v = values(state.snap, state.type, keep);
	var total = 0, abs = 0;
	for (var s = 0; s < v.length; s++) {
		total += v[s];
		abs += Math.abs(v[s]);
	}
	view = { keep: keep, v: v, total: total, abs: abs, nodes: nodeTotals(v),
		funcs: byFunction(v), search: regex('search', state.search) };
	view.searchFuncs = funcMatches(view.search);
}

// ---- the flame graph (canvas) -------------------------------------------------

var ROW = 18, PAD = 4, MIN_PX = 0.4;
var frames = []; // what was drawn: {x, y, w, node} (node -1: the "all" bar)

// A warm colour that stays the same for a function wherever it appears.
function hashColour(name) {
	var h = 2166136261;
	for (var i = 0; i < name.length; i++)
		h = Math.imul(h ^ name.charCodeAt(i), 16777619) >>> 0;
	return 'rgb(' + (205 + h % 50) + ',' + (80 + (h >>> 8) % 130) + ',' +
		(40 + (h >>> 16) % 40) + ')';
}

// Red for growth, blue for shrinkage, stronger the more of the change is net.
function diffColour(width, net) {
	var k = width > 0 ? Math.abs(net) / width : 0, l = Math.round(235 - 150 * k);
	if (net > 0)
		return 'rgb(230,' + l + ',' + l + ')';
	if (net < 0)
		return 'rgb(' + l + ',' + Math.min(255, l + 10) + ',230)';
	return 'rgb(210,210,210)';
}

function frameColour(node) {
	if (node >= 0 && view.searchFuncs[D.nodeFunc[node]])
		return '#b04fd6';
	if (node < 0)
		return D.base ? diffColour(view.abs, view.total) : 'rgb(240,200,120)';
	var name = D.funcs[D.nodeFunc[node]];
	return D.base ? diffColour(view.nodes.width[node], view.nodes.net[node]) : hashColour(name);
}

function frameName(node) { return node < 0 ? 'all' : D.funcs[D.nodeFunc[node]]; }

// The deepest level drawn under node at scale (pixels per unit).
function depthOf(node, scale) {
	var d = 0, k = node < 0 ? roots : kids[node];
	for (var i = 0; i < k.length; i++)
		if (view.nodes.width[k[i]] * scale >= MIN_PX)
			d = Math.max(d, depthOf(k[i], scale));
	return d + 1;
}

function drawFrame(ctx, node, x, depth, w, rows, dim) {
	var y = state.icicle ? PAD + depth * ROW : PAD + (rows - 1 - depth) * ROW;
	ctx.globalAlpha = dim ? 0.55 : 1;
	ctx.fillStyle = frameColour(node);
	ctx.fillRect(x, y, Math.max(w - 0.5, 0.5), ROW - 1);
	frames.push({ x: x, y: y, w: w, node: node });
	if (node === cursor && node >= 0) {
		ctx.strokeStyle = '#1d2330';
		ctx.lineWidth = 2;
		ctx.strokeRect(x + 1, y + 1, Math.max(w - 2.5, 1), ROW - 3);
	}
	if (w < 24)
		return;
	var name = frameName(node), room = Math.floor((w - 6) / 6.6);
	ctx.fillStyle = '#1d2330';
	ctx.fillText(name.length <= room ? name : name.slice(0, room - 2) + '..', x + 3, y + 13);
}

function drawTree(ctx, node, x, depth, scale, rows) {
	var w = (node < 0 ? view.abs : view.nodes.width[node]) * scale;
	if (w < MIN_PX)
		return;
	drawFrame(ctx, node, x, depth, w, rows, false);
	var k = node < 0 ? roots : kids[node];
	for (var i = 0; i < k.length; i++) {
		drawTree(ctx, k[i], x, depth + 1, scale, rows);
		x += view.nodes.width[k[i]] * scale;
	}
}

// The zoomed node's ancestors, full width and dimmed; returns its depth.
function drawAncestors(ctx, width, rows) {
	var chain = [];
	for (var n = state.zoom; n >= 0; n = parent[n])
		chain.unshift(n);
	chain.unshift(-1);
	for (var d = 0; d < chain.length - 1; d++)
		drawFrame(ctx, chain[d], 0, d, width, rows, true);
	return chain.length - 1;
}

function drawFlame() {
	var canvas = document.getElementById('flame'), ratio = window.devicePixelRatio || 1;
	var width = canvas.clientWidth || 1200, zoom = state.zoom;
	if (zoom >= 0 && !view.nodes.width[zoom])
		zoom = state.zoom = -1; // filtered away
	var zw = zoom < 0 ? view.abs : view.nodes.width[zoom], scale = zw ? width / zw : 0;
	var below = zw ? depthOf(zoom, scale) : 1, above = 0;
	for (var n = zoom; n >= 0; n = parent[n])
		above++;
	var rows = above + below;
	canvas.height = Math.round((rows * ROW + 2 * PAD) * ratio);
	canvas.style.height = rows * ROW + 2 * PAD + 'px';
	canvas.width = Math.round(width * ratio);
	var ctx = canvas.getContext('2d');
	ctx.scale(ratio, ratio);
	ctx.font = '11.5px system-ui, "DejaVu Sans", sans-serif';
	frames = [];
	var wrap = document.getElementById('flame-wrap'); // the root in sight
	wrap.scrollTop = state.icicle ? 0 : wrap.scrollHeight;
	var depth = drawAncestors(ctx, width, rows);
	if (zw)
		return drawTree(ctx, zoom, 0, depth, scale, rows);
	ctx.fillStyle = '#5b6475';
	ctx.fillText('Nothing in this view: no ' + D.types[state.type].type +
		(state.focus || state.ignore ? ' in the stacks the filters keep' : ''), 4, PAD + 13);
}

function frameAt(ev) {
	var r = ev.target.getBoundingClientRect(), x = ev.clientX - r.left, y = ev.clientY - r.top;
	for (var i = frames.length - 1; i >= 0; i--) {
		var f = frames[i];
		if (x >= f.x && x < f.x + f.w && y >= f.y && y < f.y + ROW)
			return f;
	}
	return null;
}

function describe(node) {
	var w = node < 0 ? view.abs : view.nodes.width[node];
	var net = node < 0 ? view.total : view.nodes.net[node];
	if (D.base)
		return frameName(node) + ': ' + signed(net) + ' net, ' + fmt(w, unit()) +
			' changed (' + pct(w, view.abs) + ' of all change)';
	return frameName(node) + ': ' + fmt(w, unit()) + ' (' + pct(w, view.abs) + ')';
}

function hover(ev) {
	var f = frameAt(ev), tip = document.getElementById('tip');
	if (!f) {
		tip.hidden = true;
		return;
	}
	tip.textContent = describe(f.node);
	tip.hidden = false;
	var r = ev.target.getBoundingClientRect(), x = ev.clientX - r.left;
	tip.style.left = Math.min(x + 12, r.width - tip.offsetWidth - 4) + 'px';
	tip.style.top = (f.y + ROW + 4) + 'px';
	document.getElementById('details').textContent = describe(f.node);
}

function clickFrame(ev) {
	var f = frameAt(ev);
	state.zoom = f ? f.node : -1;
	if (f && f.node >= 0)
		state.selected = D.nodeFunc[f.node];
	render();
}

// ---- tables ---------------------------------------------------------------------

function cell(tr, text, cls) {
	var td = document.createElement('td');
	td.textContent = text;
	if (cls)
		td.className = cls;
	tr.appendChild(td);
	return td;
}

function signClass(v) { return D.base ? (v > 0 ? 'grow' : v < 0 ? 'shrink' : '') : ''; }

// A row that selects function f on click or Enter.
function selectable(tr, f) {
	tr.tabIndex = 0;
	tr.dataset.func = f;
	tr.addEventListener('click', function () { select(f); });
	tr.addEventListener('keydown', function (e) {
		if (e.key === 'Enter')
			select(f);
	});
}

var TOP_ROWS = 200;

// The functions with a value, in the table's order.
function topOrder() {
	var fl = view.funcs.flat, cu = view.funcs.cum, order = [];
	for (var f = 0; f < D.funcs.length; f++)
		if (fl[f] || cu[f])
			order.push(f);
	var a = state.sort === 'cum' ? cu : fl, b = state.sort === 'cum' ? fl : cu;
	order.sort(function (x, y) {
		return a[y] - a[x] || b[y] - b[x] || (D.funcs[x] < D.funcs[y] ? -1 : 1);
	});
	return order;
}

function drawTop() {
	var body = document.querySelector('#top tbody'), order = topOrder();
	body.textContent = '';
	view.topRows = order.slice(0, TOP_ROWS);
	view.topRows.forEach(function (f) {
		var tr = document.createElement('tr'), fl = view.funcs.flat[f], cu = view.funcs.cum[f];
		cell(tr, signed(fl), signClass(fl)).title = fl;
		cell(tr, pct(fl, view.abs));
		cell(tr, signed(cu), signClass(cu)).title = cu;
		cell(tr, pct(cu, view.abs));
		cell(tr, D.funcs[f], 'name');
		if (f === state.selected)
			tr.className = 'selected';
		selectable(tr, f);
		body.appendChild(tr);
	});
	document.getElementById('top-more').textContent = order.length > TOP_ROWS ?
		(order.length - TOP_ROWS) + ' more functions; focus to narrow down' : '';
	document.querySelectorAll('#top th').forEach(function (th) {
		var b = th.querySelector('button');
		th.classList.toggle('sorted', !!b && b.dataset.sort === state.sort);
	});
}

// Adds v to sums[g] unless this stack already did (seen); g -1: no frame.
function addOnce(sums, seen, g, v) {
	if (g < 0 || seen[g])
		return;
	seen[g] = 1;
	sums[g] = (sums[g] || 0) + v;
}

// Callers and callees of f: the frames next to it, once per stack each.
function neighbours(f) {
	var callers = {}, callees = {}, v = view.v;
	for (var s = 0; s < v.length; s++) {
		var n = D.stackNode[s], child = -1, seenUp = {}, seenDown = {};
		if (!v[s] || n < 0)
			continue;
		for (; n >= 0; child = n, n = parent[n]) {
			if (D.nodeFunc[n] !== f)
				continue;
			var up = parent[n] >= 0 ? D.nodeFunc[parent[n]] : -1;
			var down = child >= 0 ? D.nodeFunc[child] : -1;
			addOnce(callers, seenUp, up, v[s]);
			addOnce(callees, seenDown, down, v[s]);
		}
	}
	return { callers: callers, callees: callees };
}

function fillCalls(id, byFunc) {
	var body = document.querySelector('#' + id + ' tbody');
	body.textContent = '';
	var list = Object.keys(byFunc).map(Number).sort(function (a, b) {
		return Math.abs(byFunc[b]) - Math.abs(byFunc[a]);
	});
	list.slice(0, 50).forEach(function (f) {
		var tr = document.createElement('tr');
		cell(tr, signed(byFunc[f]), signClass(byFunc[f])).title = byFunc[f];
		cell(tr, pct(byFunc[f], view.abs));
		cell(tr, D.funcs[f], 'name');
		selectable(tr, f);
		body.appendChild(tr);
	});
	if (!list.length)
		cell(body.appendChild(document.createElement('tr')), 'none', 'name');
	return list;
}

function drawCalls() {
	var label = document.getElementById('selected'), f = state.selected;
	view.callers = view.callees = [];
	if (f < 0 || !(view.funcs.cum[f] || view.funcs.flat[f])) {
		label.textContent = 'select a function in the table or the graph';
		fillCalls('callers', {});
		fillCalls('callees', {});
		return;
	}
	var nb = neighbours(f);
	label.textContent = D.funcs[f] + ' (flat ' + signed(view.funcs.flat[f]) +
		', cum ' + signed(view.funcs.cum[f]) + ')';
	view.callers = fillCalls('callers', nb.callers).map(function (g) { return [g, nb.callers[g]]; });
	view.callees = fillCalls('callees', nb.callees).map(function (g) { return [g, nb.callees[g]]; });
}

function select(f) {
	state.selected = f;
	drawTop();
	drawCalls();
	drawSource();
}

// ---- the source view ----------------------------------------------------------------

// The routines heapprof embedded ({func, file, first, text, lines}), by
// function: each line with values is [line, flat and cum of each type].
var sourcesOf = {};
(function indexSources() {
	var byName = new Map();
	if (D.sources.length)
		D.funcs.forEach(function (name, f) { byName.set(name, f); });
	D.sources.forEach(function (r) {
		var f = byName.get(r.func);
		if (f !== undefined)
			(sourcesOf[f] = sourcesOf[f] || []).push(r);
	});
})();

// One routine: its lines, numbered, with flat and cum of the type shown.
function drawRoutine(box, r) {
	box.appendChild(document.createElement('h3')).textContent = r.file;
	var table = box.appendChild(document.createElement('table'));
	table.className = 'src';
	var head = table.appendChild(document.createElement('thead')).appendChild(document.createElement('tr'));
	['Line', 'Flat', 'Cum', 'Source'].forEach(function (h) {
		head.appendChild(document.createElement('th')).textContent = h;
	});
	var body = table.appendChild(document.createElement('tbody')), byLine = {}, t = state.type;
	r.lines.forEach(function (l) { byLine[l[0]] = [l[1 + 2 * t], l[2 + 2 * t]]; });
	r.text.forEach(function (text, i) {
		var n = r.first + i, v = byLine[n] || [0, 0], tr = body.appendChild(document.createElement('tr'));
		cell(tr, String(n), 'ln');
		cell(tr, v[0] ? signed(v[0]) : '.', signClass(v[0])).title = v[0];
		cell(tr, v[1] ? signed(v[1]) : '.', signClass(v[1])).title = v[1];
		cell(tr, text, 'code');
		if (v[0] || v[1])
			tr.className = 'hot';
		view.source.push([n, v[0], v[1], text]);
	});
}

// The source of the selected function, when heapprof embedded it.
function drawSource() {
	var box = document.getElementById('source'), f = state.selected, list = sourcesOf[f];
	box.textContent = '';
	view.source = [];
	view.sourceState = f < 0 ? '' : list ? String(list.length) : 'none';
	document.getElementById('source-label').textContent = f < 0 ?
		'select a function in the table or the graph' : D.funcs[f];
	if (f < 0)
		return;
	if (!list) {
		box.appendChild(document.createElement('p')).textContent = 'no source available';
		return;
	}
	var not = [];
	if (state.snap !== D.snapshots.length - 1)
		not.push('of the last snapshot');
	if (state.focus || state.ignore)
		not.push('without focus and ignore');
	if (not.length)
		box.appendChild(document.createElement('p')).textContent =
			'Line values are ' + not.join(', ') + '.';
	list.forEach(function (r) { drawRoutine(box, r); });
}

// ---- the timeline of snapshots -----------------------------------------------------

// The type the timeline plots: in-use bytes when the profile has them.
function timelineType() {
	for (var t = 0; t < D.types.length; t++)
		if (D.types[t].type === 'inuse_space')
			return t;
	return state.type;
}

var SVG_NS = 'http://www.w3.org/2000/svg'; // a namespace name, never fetched

function svgEl(name, attrs, parentEl) {
	var e = document.createElementNS(SVG_NS, name);
	for (var k in attrs)
		e.setAttribute(k, attrs[k]);
	parentEl.appendChild(e);
	return e;
}

// "leaf < caller < caller" for a stack, for the lists beside the timeline.
function stackLabel(s) {
	var names = [];
	for (var n = D.stackNode[s]; n >= 0 && names.length < 4; n = parent[n])
		names.push(D.funcs[D.nodeFunc[n]]);
	return names.join(' \u2190 ') + (names.length === 4 ? ' \u2190 \u2026' : '');
}

// Per stack, its in-use values over the snapshots (kept stacks only).
function series(t) {
	var per = D.snapshots.map(function (snap) { return snap.values[t]; });
	var totals = per.map(function (vals) {
		var sum = 0;
		for (var s = 0; s < vals.length; s++)
			if (view.keep[s])
				sum += vals[s];
		return sum;
	});
	return { per: per, totals: totals };
}

// Stacks by growth first to last: all of them, and the ones that never fell.
function growth(per) {
	var first = per[0], last = per[per.length - 1], grew = [], leaks = [];
	for (var s = 0; s < first.length; s++) {
		var d = last[s] - first[s];
		if (!view.keep[s] || d <= 0)
			continue;
		grew.push(s);
		var mono = true;
		for (var i = 1; i < per.length && mono; i++)
			mono = per[i][s] >= per[i - 1][s];
		if (mono)
			leaks.push(s);
	}
	var by = function (a, b) { return (last[b] - first[b]) - (last[a] - first[a]); };
	return { grew: grew.sort(by), leaks: leaks.sort(by), first: first, last: last };
}

function fillStacks(id, list, g, u) {
	var ol = document.getElementById(id);
	ol.textContent = '';
	list.slice(0, 8).forEach(function (s) {
		var li = document.createElement('li'), v = document.createElement('span');
		v.className = 'v';
		v.textContent = '+' + fmt(g.last[s] - g.first[s], u);
		li.appendChild(v);
		li.appendChild(document.createTextNode(stackLabel(s)));
		ol.appendChild(li);
	});
	if (!list.length)
		ol.appendChild(document.createElement('li')).textContent = 'none';
}

function timeLabel(i) {
	var ns = D.snapshots[i].time;
	if (!ns)
		return '#' + (i + 1);
	return new Date(ns / 1e6).toISOString().slice(11, 19);
}

// A point per snapshot; a click or Enter on one shows that snapshot.
function plotPoint(svg, i, x, y, total, u) {
	var c = svgEl('circle', { cx: x, cy: y, r: 6, fill: '#2f6fdd', tabindex: 0,
		role: 'button', 'class': 'pt' + (i === state.snap ? ' current' : '') }, svg);
	svgEl('title', {}, c).textContent = D.snapshots[i].file + ' (' + timeLabel(i) + '): ' +
		fmt(total, u);
	var show = function () {
		state.snap = i;
		render();
	};
	c.addEventListener('click', show);
	c.addEventListener('keydown', function (e) {
		if (e.key === 'Enter')
			show();
	});
}

function plotTimeline(totals, u) {
	var svg = document.getElementById('timeline');
	svg.textContent = '';
	var W = svg.clientWidth || 700, H = 170, L = 70, R = 20, T = 14, B = 28;
	svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
	var max = Math.max.apply(null, totals.concat([1])), n = totals.length;
	var px = function (i) { return L + (n > 1 ? i * (W - L - R) / (n - 1) : 0); };
	var py = function (v) { return T + (H - T - B) * (1 - Math.max(v, 0) / max); };
	[0, 0.5, 1].forEach(function (k) {
		svgEl('line', { x1: L, x2: W - R, y1: py(k * max), y2: py(k * max), stroke: '#e3e6ec' }, svg);
		svgEl('text', { x: L - 8, y: py(k * max) + 4, 'text-anchor': 'end', 'font-size': 11,
			fill: '#5b6475' }, svg).textContent = fmt(k * max, u);
	});
	svgEl('polyline', { points: totals.map(function (v, i) { return px(i) + ',' + py(v); }).join(' '),
		fill: 'none', stroke: '#2f6fdd', 'stroke-width': 2 }, svg);
	totals.forEach(function (v, i) {
		var anchor = n > 1 && i === n - 1 ? 'end' : i === 0 ? 'start' : 'middle';
		svgEl('text', { x: px(i), y: H - 8, 'text-anchor': anchor, 'font-size': 11,
			fill: '#5b6475' }, svg).textContent = timeLabel(i);
		plotPoint(svg, i, px(i), py(v), v, u);
	});
}

function drawTimeline() {
	var sec = document.getElementById('timeline-section');
	view.points = 0;
	sec.hidden = D.snapshots.length < 2;
	if (sec.hidden)
		return;
	var t = timelineType(), u = D.types[t].unit, ser = series(t), g = growth(ser.per);
	sec.querySelector('h2').firstChild.textContent = D.types[t].type + ' over time ';
	plotTimeline(ser.totals, u);
	fillStacks('grew', g.grew, g, u);
	fillStacks('leaks', g.leaks, g, u);
	view.points = ser.totals.length;
	view.timeline = ser.totals;
	view.leaks = g.leaks;
}

// ---- the page ---------------------------------------------------------------------

function drawSummary() {
	var snap = D.snapshots[state.snap], type = D.types[state.type].type;
	var files = D.snapshots.length > 1 ? 'snapshot ' + (state.snap + 1) + ' of ' +
		D.snapshots.length + ': ' + snap.file : snap.file;
	if (D.base)
		files += ' minus ' + D.base.file;
	document.getElementById('title').textContent = type + (D.base ? ' change' : '') +
		' \u2014 heapprof report';
	document.getElementById('files').textContent = files;
	var shown = state.focus || state.ignore ? ' (focus/ignore applied)' : '';
	document.getElementById('summary').textContent = 'Total ' + signed(view.total) +
		shown + ' \u00b7 ' + D.stackNode.length.toLocaleString('en-US') + ' stacks, ' +
		D.funcs.length.toLocaleString('en-US') + ' functions' +
		(state.zoom >= 0 ? ' \u00b7 zoomed to ' + frameName(state.zoom) : '');
}

// What heapprof web trimmed (pprof's --nodefraction and --edgefraction), said
// once, above everything: how much, where it went, how to keep everything.
function drawTrimmed() {
	var t = D.trim, p = document.getElementById('trimmed');
	if (!t || !t.dropped)
		return;
	var cut = Math.max(t.nodefraction, t.edgefraction);
	p.textContent = 'Trimmed as pprof trims its graph: ' + t.dropped.toLocaleString('en-US') +
		' call paths under ' + (100 * cut) + '% of their profile\'s total (--nodefraction=' +
		t.nodefraction + ', --edgefraction=' + t.edgefraction + ') are merged into frames ' +
		'named (trimmed), ' + t.nodes.toLocaleString('en-US') + ' frames kept of ' +
		t.samples.toLocaleString('en-US') + ' samples. Totals are exact; functions inside ' +
		'a trimmed path count under (trimmed). To keep everything: heapprof web ' +
		'--nodefraction=0 --edgefraction=0.';
	p.hidden = false;
}

var renderMs = 0; // how long the last render took, for the test hook

function render() {
	var t0 = performance.now();
	compute();
	drawSummary();
	drawFlame();
	drawTop();
	drawCalls();
	drawSource();
	drawTimeline();
	document.getElementById('orient').setAttribute('aria-pressed', String(state.icicle));
	renderMs = performance.now() - t0;
}

// Applying a box on Enter or after a pause in typing; Escape empties it.
function bindBox(id) {
	var box = document.getElementById(id), timer = 0;
	var apply = function () {
		clearTimeout(timer);
		if (state[id] !== box.value) {
			state[id] = box.value;
			render();
		}
	};
	box.addEventListener('input', function () {
		clearTimeout(timer);
		timer = setTimeout(apply, 300);
	});
	box.addEventListener('keydown', function (e) {
		if (e.key === 'Enter')
			apply();
		if (e.key === 'Escape') {
			box.value = '';
			apply();
		}
	});
}

function bindControls() {
	var sel = document.getElementById('sample');
	D.types.forEach(function (t, i) {
		var o = sel.appendChild(document.createElement('option'));
		o.value = i;
		o.textContent = t.type + ' (' + t.unit + ')';
	});
	sel.value = state.type;
	sel.addEventListener('change', function () {
		state.type = +sel.value;
		render();
	});
	['focus', 'ignore', 'search'].forEach(bindBox);
	document.getElementById('orient').addEventListener('click', function () {
		state.icicle = !state.icicle;
		render();
	});
	document.getElementById('reset').addEventListener('click', function () {
		state.zoom = -1;
		render();
	});
	document.querySelectorAll('#top th button').forEach(function (b) {
		b.addEventListener('click', function () {
			state.sort = b.dataset.sort;
			drawTop();
		});
	});
	bindFlame();
}

// ---- the flame graph from the keyboard: arrows move, Enter zooms ----------------

var cursor = -1; // the frame the arrows are on, -1: none yet

// The visible children of node (-1: the roots), widest first.
function visibleKids(node) {
	return (node < 0 ? roots : kids[node]).filter(function (k) {
		return view.nodes.width[k] > 0;
	});
}

function widest(list) {
	return list.reduce(function (a, b) {
		return view.nodes.width[b] > view.nodes.width[a] ? b : a;
	}, list[0]);
}

// The frame an arrow key leads to from the cursor.
function step(key) {
	var towardLeaf = (key === 'ArrowUp') !== state.icicle;
	if (key === 'ArrowUp' || key === 'ArrowDown') {
		if (!towardLeaf)
			return cursor >= 0 && parent[cursor] >= 0 ? parent[cursor] : cursor;
		var k = visibleKids(cursor);
		return k.length ? widest(k) : cursor;
	}
	var sib = visibleKids(cursor >= 0 ? parent[cursor] : -1), i = sib.indexOf(cursor);
	if (i < 0)
		return sib.length ? sib[0] : cursor;
	i += key === 'ArrowLeft' ? -1 : 1;
	return i >= 0 && i < sib.length ? sib[i] : cursor;
}

function flameKey(e) {
	if (/^Arrow/.test(e.key)) {
		e.preventDefault();
		cursor = step(e.key);
		drawFlame();
		if (cursor >= 0)
			document.getElementById('details').textContent = describe(cursor);
	} else if (e.key === 'Enter' && cursor >= 0) {
		state.zoom = cursor;
		state.selected = D.nodeFunc[cursor];
		render();
	}
}

function bindFlame() {
	var canvas = document.getElementById('flame');
	canvas.addEventListener('mousemove', hover);
	canvas.addEventListener('mouseleave', function () { document.getElementById('tip').hidden = true; });
	canvas.addEventListener('click', clickFrame);
	document.addEventListener('keydown', function (e) {
		if (e.key === 'Escape' && state.zoom >= 0 && !/INPUT|SELECT/.test(e.target.tagName)) {
			state.zoom = -1;
			render();
		}
	});
	canvas.addEventListener('keydown', flameKey);
	var timer = 0;
	window.addEventListener('resize', function () {
		clearTimeout(timer);
		timer = setTimeout(render, 150);
	});
}

// ---- a lifetimes profile: a row per site, its histogram as bars ----------

function fmtNs(ns) {
	if (ns < 0) return '-';
	if (ns < 1e3) return Math.round(ns) + 'ns';
	if (ns < 1e6) return +(ns / 1e3).toPrecision(3) + 'us';
	if (ns < 1e9) return +(ns / 1e6).toPrecision(3) + 'ms';
	return +(ns / 1e9).toPrecision(3) + 's';
}

// 24 bars, bin k for lifetimes from 4^k ns, heights relative to the tallest.
function histogram(bins) {
	var svg = document.createElementNS(SVG_NS, 'svg'), max = Math.max.apply(null, bins);
	svg.setAttribute('width', 24 * 5);
	svg.setAttribute('height', 24);
	svg.setAttribute('class', 'hist');
	bins.forEach(function (b, k) {
		if (!b) return;
		var h = Math.max(1, Math.round(22 * b / max));
		var r = svgEl('rect', { x: k * 5, y: 24 - h, width: 4, height: h }, svg);
		svgEl('title', {}, r).textContent = 'from ' + fmtNs(k ? Math.pow(4, k) : 0) + ': ' + fmt(b, 'count');
	});
	return svg;
}

function drawLifetimes() {
	if (!D.lifetimes) return;
	document.getElementById('lifetimes-section').hidden = false;
	var body = document.querySelector('#lifetimes tbody');
	D.lifetimes.forEach(function (s) {
		var tr = document.createElement('tr'), v = s.v;
		cell(tr, fmt(v[0], 'count'));
		cell(tr, fmt(v[1], 'bytes'));
		cell(tr, v[0] ? (100 * v[2] / v[0]).toFixed(1) + '%' : '-');
		cell(tr, fmtNs(v[4]));
		cell(tr, fmtNs(v[5]));
		tr.insertCell().appendChild(histogram(s.bins));
		cell(tr, s.site, 'name');
		cell(tr, s.freers.map(function (f) { return f[0] + ' (' + fmt(f[1], 'count') + ')'; }).join(', ') || '-', 'name');
		body.appendChild(tr);
	});
}

// ---- the test hook: report.html#test=sample:alloc_space;focus:leak_ -----------

var testKeys = []; // keys:ArrowUp,Enter presses them on the flame graph
var testMouse = []; // hover:FUNC, click:FUNC on FUNC's first frame; point:I

// Moves the mouse over the middle of the first frame drawn for name, or
// clicks it; or clicks the timeline's point number name.
function testPoint(what, name) {
	if (what === 'point')
		return document.querySelectorAll('#timeline .pt')[+name].dispatchEvent(
			new MouseEvent('click', { bubbles: true }));
	var canvas = document.getElementById('flame'), r = canvas.getBoundingClientRect();
	var f = frames.filter(function (f) { return frameName(f.node) === name; })[0];
	if (!f)
		return;
	canvas.dispatchEvent(new MouseEvent(what === 'hover' ? 'mousemove' : 'click', {
		clientX: r.left + f.x + f.w / 2, clientY: r.top + f.y + ROW / 2, bubbles: true }));
}

// Applies the state the hash names; returns whether there was one.
function applyTestHash() {
	var m = /#test=(.*)$/.exec(location.hash);
	if (!m)
		return false;
	decodeURIComponent(m[1]).split(';').forEach(function (kv) {
		var i = kv.indexOf(':'), k = kv.slice(0, i), v = kv.slice(i + 1);
		if (k === 'sample')
			state.type = D.types.findIndex(function (t) { return t.type === v; });
		else if (k === 'snapshot')
			state.snap = +v;
		else if (k === 'select')
			state.selected = D.funcs.indexOf(v);
		else if (k === 'sort' || k === 'focus' || k === 'ignore' || k === 'search')
			state[k] = v;
		else if (k === 'icicle')
			state.icicle = v === '1';
		else if (k === 'keys')
			testKeys = v.split(',');
		else if (k === 'hover' || k === 'click' || k === 'point')
			testMouse.push([k, v]);
		if (k === 'focus' || k === 'ignore' || k === 'search')
			document.getElementById(k).value = v;
	});
	document.getElementById('sample').value = state.type;
	return true;
}

// What a test compares: exact numbers of every view, one fact a line.
function writeTestResult() {
	var out = ['type\t' + D.types[state.type].type, 'snapshot\t' + state.snap,
		'total\t' + view.total, 'abs\t' + view.abs, 'frames\t' + frames.length,
		'points\t' + view.points, 'ms\t' + Math.round(renderMs),
		'trimmed\t' + (D.trim ? D.trim.dropped : 0),
		'notice\t' + (document.getElementById('trimmed').hidden ? '' :
			document.getElementById('trimmed').textContent),
		'tip\t' + (document.getElementById('tip').hidden ? '' : document.getElementById('tip').textContent),
		'matches\t' + frames.filter(function (f) {
			return f.node >= 0 && view.searchFuncs[D.nodeFunc[f.node]];
		}).length, 'zoom\t' + (state.zoom >= 0 ? frameName(state.zoom) : '')];
	(view.timeline || []).forEach(function (v, i) { out.push('point\t' + i + '\t' + v); });
	(view.leaks || []).forEach(function (s) { out.push('leak\t' + stackLabel(s)); });
	view.topRows.forEach(function (f) {
		out.push('row\t' + view.funcs.flat[f] + '\t' + view.funcs.cum[f] + '\t' + D.funcs[f]);
	});
	view.callers.forEach(function (c) { out.push('caller\t' + c[1] + '\t' + D.funcs[c[0]]); });
	view.callees.forEach(function (c) { out.push('callee\t' + c[1] + '\t' + D.funcs[c[0]]); });
	out.push('source\t' + view.sourceState);
	(D.lifetimes || []).forEach(function (s) {
		out.push('lifetime\t' + s.site + '\t' + s.v.slice(0, 4).join('\t') + '\t' +
			document.querySelectorAll('#lifetimes tbody tr')[D.lifetimes.indexOf(s)].querySelectorAll('rect').length + '\t' +
			s.freers.map(function (f) { return f[0] + ':' + f[1]; }).join(','));
	});
	view.source.forEach(function (l) { out.push('src\t' + l.join('\t')); });
	var pre = document.getElementById('test-result');
	pre.textContent = out.join('\n') + '\n';
	pre.hidden = false;
}

bindControls();
drawTrimmed();
drawLifetimes();
var testing = applyTestHash();
render();
if (testing) {
	testKeys.forEach(function (key) {
		document.getElementById('flame').dispatchEvent(new KeyboardEvent('keydown', { key: key, bubbles: true }));
	});
	testMouse.forEach(function (m) { testPoint(m[0], m[1]); });
	writeTestResult();
}
