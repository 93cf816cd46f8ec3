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
#define MIN_W   1.0 /* --minwidth's default: narrower frames are merged */

/*
 * The stacks as a trie (trie.c) cut at the narrowest frame drawn, and per
 * node its width (sum of |value| of the stacks through it), net value (the
 * change, with --base), name and children. Node -1 is the root, "all".
 */
typedef struct {
	trie_t t;
	const stacks_t *st;
	double *width, *net;
	int32_t *child, *next; /* first child, next sibling; -1: none */
	int32_t first;         /* the first root frame */
	double total, rootnet;
} tree_t;

static const char *node_name(const tree_t *tr, int32_t n)
{
	return n < 0 ? "all" : tr->st->names.s[tr->t.fname[tr->t.func[n]]];
}

static double node_width(const tree_t *tr, int32_t n)
{
	return n < 0 ? tr->total : tr->width[n];
}

static int max_depth(const tree_t *tr, int32_t n, double scale)
{
	int d = 0;
	for (int32_t c = n < 0 ? tr->first : tr->child[n]; c >= 0; c = tr->next[c])
		if (tr->width[c] * scale >= MIN_W / 2) {
			int k = max_depth(tr, c, scale);
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

static void colour(char *buf, size_t len, const tree_t *tr, int32_t n, bool diff)
{
	double width = node_width(tr, n), net = n < 0 ? tr->rootnet : tr->net[n];
	if (n >= 0 && tr->t.fname[tr->t.func[n]] == tr->t.trimmed) {
		snprintf(buf, len, "rgb(190,190,190)");
		return;
	}
	if (diff) {
		/* Saturation grows with the share of the change that is net. */
		double k = width > 0 ? fabs(net) / width : 0;
		int light = 235 - (int)(150 * k);
		if (net > 0)
			snprintf(buf, len, "rgb(230,%d,%d)", light, light);
		else if (net < 0)
			snprintf(buf, len, "rgb(%d,%d,230)", light,
			         light + 10 > 255 ? 255 : light + 10);
		else
			snprintf(buf, len, "rgb(210,210,210)");
		return;
	}
	/* Warm colours, the same for a function wherever it appears. */
	uint64_t h = hp_hash_str(node_name(tr, n));
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

static void draw(const draw_t *d, const tree_t *tr, int32_t n, double x, int depth)
{
	double w = tr->width[n] * d->scale, net = tr->net[n];
	if (w < MIN_W / 2)
		return; /* only a (trimmed) frame of next to nothing */
	int y = d->height - PAD_BOT - (depth + 1) * FRAME_H;
	char fill[48], val[32], nets[32];
	colour(fill, sizeof(fill), tr, n, d->diff);
	fmt_value(val, sizeof(val), d->diff ? net : tr->width[n], d->unit);
	fprintf(d->f,
	        "<g class=\"f\" data-x=\"%.3f\" data-w=\"%.3f\" data-d=\"%d\"><title>", x,
	        w, depth);
	xml(d->f, node_name(tr, n));
	if (d->diff) {
		fmt_value(nets, sizeof(nets), tr->width[n], d->unit);
		fprintf(d->f, " (%s%s, %.2f%% of all change; %s changed in all)</title>",
		        net > 0 ? "+" : "", val, 100 * tr->width[n] / d->total, nets);
	} else {
		fprintf(d->f, " (%s, %.2f%%)</title>", val,
		        100 * tr->width[n] / d->total);
	}
	fprintf(d->f,
	        "<rect x=\"%.3f\" y=\"%d\" width=\"%.3f\" height=\"%d\" fill=\"%s\" "
	        "rx=\"2\"/>",
	        x, y, w, FRAME_H - 1, fill);
	fprintf(d->f, "<text x=\"%.3f\" y=\"%d\"></text></g>\n", x + 3, y + FRAME_H - 5);
	for (int32_t c = tr->child[n]; c >= 0; c = tr->next[c]) {
		draw(d, tr, c, x, depth + 1);
		x += tr->width[c] * d->scale;
	}
}

static void free_tree(tree_t *tr)
{
	trie_free(&tr->t);
	free(tr->width);
	free(tr->net);
	free(tr->child);
	free(tr->next);
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
	           "blue shrank.\n"
	           "  --minwidth PX        merge frames narrower than PX pixels into "
	           "grey (trimmed)\n"
	           "                       frames, said in the picture (default 1; 0: "
	           "draw all)\n");
	usage_reading(f);
}

/*
 * The merged stacks as a trie cut at minwidth pixels of WIDTH, with each
 * node's width and net value summed from its stacks up.
 */
static void build_tree(tree_t *tr, stacks_t *st, double minwidth)
{
	memset(tr, 0, sizeof(*tr));
	tr->st = st;
	double total = stacks_total(st);
	trie_src_t src = {.frames = st->frames,
	                  .off = st->off,
	                  .val = st->value,
	                  .total = &total,
	                  .n = st->n,
	                  .nt = 1,
	                  .ncols = 1};
	uint32_t trimmed = stacks_name(st, "(trimmed)");
	trie_build(&tr->t, &src, st->names.n, trimmed, minwidth / WIDTH);
	tr->t.s = NULL; /* src was for the building only */
	size_t nn = tr->t.nnodes;
	tr->width = calloc(nn + 1, sizeof(double));
	tr->net = calloc(nn + 1, sizeof(double));
	tr->child = malloc((nn + 1) * sizeof(int32_t));
	tr->next = malloc((nn + 1) * sizeof(int32_t));
	if (!tr->width || !tr->net || !tr->child || !tr->next)
		die("out of memory");
	tr->total = total;
	tr->first = -1;
	for (size_t i = 0; i < nn; i++)
		tr->child[i] = -1;
	for (size_t i = 0; i < tr->t.nstacks; i++) {
		uint32_t n = tr->t.stack_node[i];
		tr->rootnet += tr->t.sval[i];
		if (n != UINT32_MAX)
			tr->width[n] += tr->t.sabs[i], tr->net[n] += tr->t.sval[i];
	}
	for (size_t i = nn; i-- > 0;) { /* children after their parents */
		uint32_t up = tr->t.up[i];
		int32_t *head = up ? &tr->child[up - 1] : &tr->first;
		if (up)
			tr->width[up - 1] += tr->width[i], tr->net[up - 1] += tr->net[i];
		tr->next[i] = *head;
		*head = (int32_t)i;
	}
}

/* The scale that fits the tree in WIDTH pixels, and the height it then takes. */
static draw_t layout(const input_t *in, const tree_t *tr)
{
	const pp_profile_t *p = in->profile;
	draw_t d = {.diff = in->base != NULL || in->diff_base != NULL,
	            .unit = pp_str(p, p->sample_type[in->vi]->unit),
	            .total = tr->total > 0 ? tr->total : 1};
	d.scale = WIDTH / d.total;
	int depth = tr->total > 0 ? max_depth(tr, -1, d.scale) : 1;
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
static void svg_headings(const draw_t *d, const input_t *in, const tree_t *tr,
                         const char *title, double minwidth)
{
	FILE *f = d->f;
	const pp_profile_t *p = in->profile;
	const char *type = pp_str(p, p->sample_type[in->vi]->type);
	char total[32];
	fmt_value(total, sizeof(total), d->diff ? tr->rootnet : tr->total, d->unit);
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
	fprintf(f, " — total %s%s</text>\n", d->diff && tr->rootnet > 0 ? "+" : "",
	        total);
	if (tr->t.dropped)
		fprintf(f,
		        "<text id=\"trimmed\" x=\"%.0f\" y=\"%d\" text-anchor=\"end\" "
		        "fill=\"#555\">%zu frames narrower than %g px merged into grey "
		        "(trimmed) frames; totals exact; --minwidth=0 draws every "
		        "frame</text>\n",
		        WIDTH - 10, d->height - 10, tr->t.dropped, minwidth);
	fprintf(
	    f,
	    "<text id=\"reset\" x=\"10\" y=\"22\" fill=\"#36c\" style=\"cursor:pointer\">"
	    "Reset zoom</text>\n");
	fprintf(f, "<text id=\"details\" x=\"10\" y=\"%d\"> </text>\n", d->height - 10);
}

static bool parse_width(const char *arg, void *dst)
{
	char *end;
	double x = strtod(arg, &end);
	*(double *)dst = x;
	return *arg && !*end && x >= 0 && x <= WIDTH;
}

int cmd_flame(int argc, char **argv)
{
	input_t in = {.cmd = argv[0], .keep = true, .unmerged = true};
	const char *outpath = NULL, *title = NULL;
	double minwidth = MIN_W;
	opt_t opts[MAX_READING_OPTS + 4] = {0};
	size_t n = reading_options(opts, &in);
	opts[n++] = (opt_t){.name = "title", .has_arg = true, .dst = &title};
	opts[n++] = (opt_t){.name = "minwidth",
	                    .has_arg = true,
	                    .dst = &minwidth,
	                    .parse = parse_width,
	                    .expected = "pixels from 0 to 1200"};
	opts[n++] = (opt_t)OPT_OUTPUT(&outpath);
	const cmdline_t cmd = {opts, usage_flame, 1, -1};
	int first = parse_options(argc, argv, &cmd);
	in.paths = argv + first;
	in.npaths = argc - first;
	load_input(&in);
	tree_t tr;
	build_tree(&tr, &in.stacks, minwidth);
	draw_t d = layout(&in, &tr);
	d.f = strcmp(outpath, "-") ? fopen(outpath, "w") : stdout;
	if (!d.f)
		die("%s: cannot write: %s", outpath, strerror(errno));
	svg_prologue(&d);
	svg_headings(&d, &in, &tr, title, minwidth);
	double x = 0;
	for (int32_t c = tr.first; c >= 0; c = tr.next[c]) {
		draw(&d, &tr, c, x, 0);
		x += tr.width[c] * d.scale;
	}
	fputs("</svg>\n", d.f);
	if (d.f != stdout && fclose(d.f) != 0)
		die("%s: write error: %s", outpath, strerror(errno));
	free_tree(&tr);
	free_input(&in);
	return 0;
}
