/* SPDX-License-Identifier: MIT */
/*
 * flame: a self-contained SVG flame graph (heapprof flame), root at the
 * bottom, width proportional to value. Hovering shows a frame's function,
 * value and share, a click zooms, the background resets. With --base, width
 * is the size of the change and colour its direction: red grew, blue shrank.
 * The stacks come merged from profiles.c.
 */
#include "heapprof.h"
#include "common.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define WIDTH   1200.0
#define FRAME_H 17
#define PAD_TOP 56
#define PAD_BOT 30
#define MIN_W   0.1 /* frames narrower than this many pixels are not drawn */

typedef struct node {
	char *name;
	double width; /* sum of |value| of the stacks through this frame */
	double net;   /* sum of value (the change, with --base) */
	struct node *child, *next;
} node_t;

static node_t *new_node(const char *name, size_t len)
{
	node_t *n = calloc(1, sizeof(*n));
	if (!n || !(n->name = strndup(name, len)))
		die("out of memory");
	return n;
}

/* Adds a stack (key: leaf first, each name followed by '\n') under root. */
static void add_stack(node_t *root, const char *key, double v)
{
	const char *names[4096];
	size_t lens[4096], depth = 0;
	for (const char *p = key; *p && depth < 4096;) {
		const char *nl = strchr(p, '\n');
		names[depth] = p;
		lens[depth++] = (size_t)(nl - p);
		p = nl + 1;
	}
	double a = fabs(v);
	root->width += a;
	root->net += v;
	node_t *cur = root;
	for (size_t i = depth; i-- > 0;) { /* root first */
		node_t *c = cur->child;
		while (c && (strlen(c->name) != lens[i] ||
		             strncmp(c->name, names[i], lens[i])))
			c = c->next;
		if (!c) {
			c = new_node(names[i], lens[i]);
			c->next = cur->child;
			cur->child = c;
		}
		c->width += a;
		c->net += v;
		cur = c;
	}
}

static int max_depth(const node_t *n, double scale)
{
	int d = 0;
	for (const node_t *c = n->child; c; c = c->next)
		if (c->width * scale >= MIN_W) {
			int k = max_depth(c, scale);
			if (k > d)
				d = k;
		}
	return d + 1;
}

static void xml(FILE *f, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		default:
			if ((unsigned char)*s >= 0x20)
				fputc(*s, f);
		}
	}
}

static void colour(char *buf, size_t len, const node_t *n, bool diff)
{
	if (diff) {
		/* Saturation grows with the share of the change that is net. */
		double k = n->width > 0 ? fabs(n->net) / n->width : 0;
		int light = 235 - (int)(150 * k);
		if (n->net > 0)
			snprintf(buf, len, "rgb(230,%d,%d)", light, light);
		else if (n->net < 0)
			snprintf(buf, len, "rgb(%d,%d,230)", light,
			         light + 10 > 255 ? 255 : light + 10);
		else
			snprintf(buf, len, "rgb(210,210,210)");
		return;
	}
	/* Warm colours, the same for a function wherever it appears. */
	uint64_t h = hp_hash_str(n->name);
	snprintf(buf, len, "rgb(%u,%u,%u)", 205 + (unsigned)(h % 50),
	         80 + (unsigned)((h >> 8) % 130), 40 + (unsigned)((h >> 16) % 40));
}

typedef struct {
	FILE *f;
	double scale, total;
	int height;
	bool diff;
	const char *unit;
} draw_t;

static void draw(const draw_t *d, const node_t *n, double x, int depth)
{
	double w = n->width * d->scale;
	if (w < MIN_W)
		return;
	int y = d->height - PAD_BOT - (depth + 1) * FRAME_H;
	char fill[48], val[32], net[32];
	colour(fill, sizeof(fill), n, d->diff);
	fmt_value(val, sizeof(val), d->diff ? n->net : n->width, d->unit);
	fprintf(d->f,
	        "<g class=\"f\" data-x=\"%.3f\" data-w=\"%.3f\" data-d=\"%d\"><title>", x,
	        w, depth);
	xml(d->f, n->name);
	if (d->diff) {
		fmt_value(net, sizeof(net), n->width, d->unit);
		fprintf(d->f, " (%s%s, %.2f%% of all change; %s changed in all)</title>",
		        n->net > 0 ? "+" : "", val, 100 * n->width / d->total, net);
	} else {
		fprintf(d->f, " (%s, %.2f%%)</title>", val, 100 * n->width / d->total);
	}
	fprintf(d->f,
	        "<rect x=\"%.3f\" y=\"%d\" width=\"%.3f\" height=\"%d\" fill=\"%s\" "
	        "rx=\"2\"/>",
	        x, y, w, FRAME_H - 1, fill);
	fprintf(d->f, "<text x=\"%.3f\" y=\"%d\"></text></g>\n", x + 3, y + FRAME_H - 5);
	for (const node_t *c = n->child; c; c = c->next) {
		draw(d, c, x, depth + 1);
		x += c->width * d->scale;
	}
}

static void free_tree(node_t *n)
{
	while (n) {
		node_t *next = n->next;
		free_tree(n->child);
		free(n->name);
		free(n);
		n = next;
	}
}

/* Hover fills the details line; click zooms; labels are fitted to widths. */
static const char script[] =
    "var W="
    "1200"
    ",details,frames;\n"
    "function fit(g,w){var t=g.querySelector('text'),n=g.querySelector('title')"
    ".textContent.replace(/ \\([^()]*\\)$/,'');var m=Math.floor((w-6)/7);"
    "t.textContent=m<3?'':(n.length<=m?n:n.slice(0,m-2)+'..');}\n"
    "function zoom(g){var x=+g.dataset.x,w=+g.dataset.w,d=+g.dataset.d;"
    "frames.forEach(function(f){var fx=+f.dataset.x,fw=+f.dataset.w,fd=+f.dataset.d,"
    "r=f.querySelector('rect'),t=f.querySelector('text');"
    "var "
    "inside=fd>=d&&fx>=x-1e-6&&fx+fw<=x+w+1e-6,below=fd<d&&fx<=x+1e-6&&fx+fw>=x+w-1e-6;"
    "if(!inside&&!below){f.style.display='none';return;}f.style.display='';"
    "var nx=inside?(fx-x)*W/w:0,nw=inside?fw*W/w:W;r.setAttribute('x',nx);"
    "r.setAttribute('width',nw);t.setAttribute('x',nx+3);fit(f,nw);"
    "f.style.opacity=below?0.6:1;});}\n"
    "function reset(){frames.forEach(function(f){var r=f.querySelector('rect'),"
    "t=f.querySelector('text');f.style.display='';f.style.opacity=1;"
    "r.setAttribute('x',f.dataset.x);r.setAttribute('width',f.dataset.w);"
    "t.setAttribute('x',+f.dataset.x+3);fit(f,+f.dataset.w);});}\n"
    "window.addEventListener('load',function(){details=document.getElementById('details')"
    ";"
    "frames=Array.prototype.slice.call(document.querySelectorAll('g.f'));"
    "frames.forEach(function(f){fit(f,+f.dataset.w);"
    "f.addEventListener('mouseover',function(){details.textContent="
    "f.querySelector('title').textContent;});"
    "f.addEventListener('mouseout',function(){details.textContent=' ';});"
    "f.addEventListener('click',function(e){zoom(f);e.stopPropagation();});});"
    "document.getElementById('bg').addEventListener('click',reset);"
    "document.getElementById('reset').addEventListener('click',reset);});\n";

static void usage_flame(FILE *f)
{
	fprintf(f, "usage: heapprof flame [OPTIONS] [--title T] PROFILE... -o OUT.svg\n"
	           "Writes a self-contained SVG flame graph (open it in a browser): "
	           "hover for the\n"
	           "function, value and percentage, click to zoom, click the background "
	           "to reset.\n"
	           "With --base, frames are sized by how much they changed: red grew, "
	           "blue shrank.\n");
	usage_reading(f);
}

/* The merged stacks as a tree of frames under a root named "all". */
static node_t *build_tree(const stacks_t *stacks)
{
	node_t *root = new_node("all", 3);
	char *key = NULL;
	size_t cap = 0;
	for (size_t i = 0; i < stacks->n; i++)
		if (stacks->value[i] != 0)
			add_stack(root, stacks_key(stacks, i, &key, &cap),
			          stacks->value[i]);
	free(key);
	return root;
}

/* The scale that fits the tree in WIDTH pixels, and the height it then takes. */
static draw_t layout(const input_t *in, const node_t *root)
{
	const pp_profile_t *p = in->profile;
	draw_t d = {.diff = in->base != NULL || in->diff_base != NULL,
	            .unit = pp_str(p, p->sample_type[in->vi]->unit),
	            .total = root->width > 0 ? root->width : 1};
	d.scale = WIDTH / d.total;
	int depth = root->width > 0 ? max_depth(root, d.scale) : 1;
	d.height = PAD_TOP + depth * FRAME_H + PAD_BOT;
	return d;
}

/* The <svg> element, the style, the script and the background. */
static void svg_prologue(const draw_t *d)
{
	fprintf(
	    d->f,
	    "<?xml version=\"1.0\" standalone=\"no\"?>\n"
	    "<svg version=\"1.1\" width=\"%.0f\" height=\"%d\" viewBox=\"0 0 %.0f %d\" "
	    "xmlns=\"http://www.w3.org/2000/svg\" font-family=\"Verdana, sans-serif\" "
	    "font-size=\"12\">\n",
	    WIDTH, d->height, WIDTH, d->height);
	fprintf(d->f,
	        "<style>g.f:hover rect{stroke:#222;stroke-width:0.6;cursor:pointer}"
	        "text{pointer-events:none;fill:#000}</style>\n<script><![CDATA[\n%s]]></"
	        "script>\n",
	        script);
	fprintf(d->f,
	        "<rect id=\"bg\" x=\"0\" y=\"0\" width=\"100%%\" height=\"100%%\" "
	        "fill=\"%s\"/>\n",
	        d->diff ? "#f4f4f8" : "#fdf6ec");
}

/* The title, the file(s) and total under it, the reset link, the details line. */
static void svg_headings(const draw_t *d, const input_t *in, const node_t *root,
                         const char *title)
{
	FILE *f = d->f;
	const pp_profile_t *p = in->profile;
	const char *type = pp_str(p, p->sample_type[in->vi]->type);
	char total[32];
	fmt_value(total, sizeof(total), d->diff ? root->net : root->width, d->unit);
	fprintf(f, "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"16\">",
	        WIDTH / 2);
	if (title)
		xml(f, title);
	else if (d->diff)
		fprintf(f, "%s change: red grew, blue shrank", type);
	else
		fprintf(f, "%s flame graph", type);
	fprintf(
	    f, "</text>\n<text x=\"%.0f\" y=\"40\" text-anchor=\"middle\" fill=\"#555\">",
	    WIDTH / 2);
	xml(f, in->path);
	if (d->diff) {
		fputs(" minus ", f);
		xml(f, in->base ? in->base : in->diff_base);
	}
	fprintf(f, " — total %s%s</text>\n", d->diff && root->net > 0 ? "+" : "", total);
	fprintf(
	    f,
	    "<text id=\"reset\" x=\"10\" y=\"22\" fill=\"#36c\" style=\"cursor:pointer\">"
	    "Reset zoom</text>\n");
	fprintf(f, "<text id=\"details\" x=\"10\" y=\"%d\"> </text>\n", d->height - 10);
}

int cmd_flame(int argc, char **argv)
{
	input_t in = {.cmd = argv[0], .keep = true};
	const char *outpath = NULL, *title = NULL;
	opt_t opts[MAX_READING_OPTS + 3] = {0};
	size_t n = reading_options(opts, &in);
	opts[n++] = (opt_t){.name = "title", .has_arg = true, .dst = &title};
	opts[n++] = (opt_t)OPT_OUTPUT(&outpath);
	const cmdline_t cmd = {opts, usage_flame, 1, -1};
	int first = parse_options(argc, argv, &cmd);
	in.paths = argv + first;
	in.npaths = argc - first;
	load_input(&in);
	node_t *root = build_tree(&in.stacks);
	draw_t d = layout(&in, root);
	d.f = strcmp(outpath, "-") ? fopen(outpath, "w") : stdout;
	if (!d.f)
		die("%s: cannot write: %s", outpath, strerror(errno));
	svg_prologue(&d);
	svg_headings(&d, &in, root, title);
	double x = 0;
	for (const node_t *ch = root->child; ch; ch = ch->next) {
		draw(&d, ch, x, 0);
		x += ch->width * d.scale;
	}
	fputs("</svg>\n", d.f);
	if (d.f != stdout && fclose(d.f) != 0)
		die("%s: write error: %s", outpath, strerror(errno));
	free_tree(root);
	free_input(&in);
	return 0;
}
