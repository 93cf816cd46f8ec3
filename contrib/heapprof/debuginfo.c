/* SPDX-License-Identifier: MIT */
/*
 * debuginfo: function names, source files, lines and inlined frames for a
 * profile's locations, from the binaries' debug info (elfutils libdw) found
 * the way gdb and perf find it, C++ and Rust names demangled by libiberty.
 * It fills a loaded profile in place (load.c calls it for every command); the
 * library's in-process names stay where no debug info is found. The
 * symbolize command that writes the result is source.c's.
 */
#include "heapprof.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <gelf.h>
#include <libiberty/demangle.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char *debuginfo_path = NULL; /* libdw's default: ":.debug:/usr/lib/debug" */

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

/* One frame of a location, innermost first: indexes into the string table. */
typedef struct {
	int64_t name, system_name, file;
	int64_t line, start_line;
} frame_t;

/* A mapping's binary as libdw sees it; dwfl NULL when none was usable. */
typedef struct {
	bool tried;
	Dwfl *dwfl;
	Dwfl_Module *mod;
} module_t;

typedef struct {
	pp_profile_t *p;
	table_t strs;  /* string -> index + 1 (struct str_entry) */
	table_t funcs; /* name, system name, file, start line -> id */
	uint64_t next_fid;
	module_t *mods; /* by mapping position */
	frame_t *frames;
	size_t nframes, capframes;
	size_t capstrings, capfuncs; /* room in p->string_table, p->function */
	const char *comp_dir;        /* of the unit being read: relative paths join it */
} sym_t;

struct str_entry {
	char *key;
	int64_t idx1;
};

struct func_entry {
	char *key;
	uint64_t id;
};

static void *resize(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

/* Room for one more of the n elements of size elem in *arr (capacity *cap). */
static void *room_for_one(void *arr, size_t n, size_t *cap, size_t elem)
{
	if (n < *cap)
		return arr;
	*cap = n < 32 ? 64 : 2 * n;
	return resize(arr, *cap * elem);
}

/* The index of s in the profile's string table, appending it if new. */
static int64_t str_index(sym_t *S, const char *s)
{
	struct str_entry *e = table_lookup(&S->strs, s);
	if (!e->idx1) {
		pp_profile_t *p = S->p;
		p->string_table = room_for_one(p->string_table, p->n_string_table,
		                               &S->capstrings, sizeof(char *));
		p->string_table[p->n_string_table] = strdup(s);
		if (!p->string_table[p->n_string_table])
			die("out of memory");
		e->idx1 = (int64_t)++p->n_string_table;
	}
	return e->idx1 - 1;
}

/* The id of the function a frame names, adding it to the profile if new. */
static uint64_t func_id(sym_t *S, const frame_t *f)
{
	char key[128];
	snprintf(key, sizeof(key), "%lld %lld %lld %lld", (long long)f->name,
	         (long long)f->system_name, (long long)f->file, (long long)f->start_line);
	struct func_entry *e = table_lookup(&S->funcs, key);
	if (e->id)
		return e->id;
	pp_profile_t *p = S->p;
	Perftools__Profiles__Function *fn = resize(NULL, sizeof(*fn));
	perftools__profiles__function__init(fn);
	fn->id = e->id = S->next_fid++;
	fn->name = f->name;
	fn->system_name = f->system_name;
	fn->filename = f->file;
	fn->start_line = f->start_line;
	p->function =
	    room_for_one(p->function, p->n_function, &S->capfuncs, sizeof(*p->function));
	p->function[p->n_function++] = fn;
	return e->id;
}

/* ---- finding the binary and its debug info ---------------------------- */

/* Does mod's build ID, in hex, equal want? */
static bool same_build_id(Dwfl_Module *mod, const char *want)
{
	const unsigned char *bits;
	GElf_Addr vaddr;
	int n = dwfl_module_build_id(mod, &bits, &vaddr);
	if (n <= 0 || strlen(want) != 2 * (size_t)n)
		return false;
	for (int i = 0; i < n; i++) {
		char h[3];
		snprintf(h, sizeof(h), "%02x", bits[i]);
		if (strncasecmp(h, want + 2 * i, 2))
			return false;
	}
	return true;
}

/* Reports path to a new Dwfl at bias 0; keeps it only if build_id matches. */
static bool try_file(module_t *m, const char *path, const char *build_id)
{
	if (access(path, R_OK))
		return false;
	m->dwfl = dwfl_begin(&callbacks);
	if (!m->dwfl)
		return false;
	dwfl_report_begin(m->dwfl);
	m->mod = dwfl_report_elf(m->dwfl, path, path, -1, 0, true);
	dwfl_report_end(m->dwfl, NULL, NULL);
	if (m->mod && (!*build_id || same_build_id(m->mod, build_id)))
		return true;
	dwfl_end(m->dwfl);
	m->dwfl = NULL;
	m->mod = NULL;
	return false;
}

/*
 * The binaries opened this run, by file and build ID: a mapping's module is
 * opened (its ELF read, its compressed DWARF sections inflated) once a run,
 * not once per profile (diff and --base read two) nor per mapping of the
 * same file. They stay open until symbolize_done (or the exit).
 */
struct opened {
	char *key; /* file '\n' build ID */
	module_t m;
};
static table_t opened;
static bool opened_init, at_exit;

void symbolize_done(void)
{
	for (size_t i = 0; opened_init && i < opened.n; i++) {
		struct opened *o = (struct opened *)opened.items + i;
		if (o->m.dwfl)
			dwfl_end(o->m.dwfl);
	}
	if (opened_init)
		table_free(&opened);
	opened_init = false;
}

/*
 * The mapping's own file when its build ID is the one the profile recorded
 * (libdw then looks for its debug info by .gnu_debuglink and build ID), else
 * /usr/lib/debug/.build-id/xx/yyyy.debug for that build ID.
 */
static void open_module(module_t *m, const char *file, const char *bid)
{
	if (*file == '/' && try_file(m, file, bid))
		return;
	if (strlen(bid) > 2 && strspn(bid, "0123456789abcdefABCDEF") == strlen(bid)) {
		char path[4096];
		snprintf(path, sizeof(path), "/usr/lib/debug/.build-id/%.2s/%s.debug",
		         bid, bid + 2);
		try_file(m, path, bid);
	}
}

/* The module of mapping mi, opened once a run (opened); NULL if none is usable. */
static module_t *module_of(sym_t *S, size_t mi)
{
	module_t *m = &S->mods[mi];
	if (m->tried)
		return m->dwfl ? m : NULL;
	const Perftools__Profiles__Mapping *map = S->p->mapping[mi];
	const char *file = pp_str(S->p, map->filename);
	const char *bid = pp_str(S->p, map->build_id);
	if (!opened_init) {
		table_init(&opened, sizeof(struct opened));
		opened_init = true;
		if (!at_exit)
			at_exit = !atexit(symbolize_done);
	}
	struct opened *o = table_lookup2(&opened, file, bid);
	if (!o->m.tried) {
		o->m.tried = true;
		open_module(&o->m, file, bid);
	}
	*m = o->m; /* a copy: the table's entries move as it grows */
	return m->dwfl ? m : NULL;
}

/* The module address of a profile address, through the file offset. */
static bool module_address(const Perftools__Profiles__Mapping *map, module_t *m,
                           uint64_t addr, Dwarf_Addr *out)
{
	GElf_Addr bias;
	Elf *elf = dwfl_module_getelf(m->mod, &bias);
	size_t n;
	if (!elf || elf_getphdrnum(elf, &n))
		return false;
	uint64_t off = addr - map->memory_start + map->file_offset;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (off >= ph.p_offset && off < ph.p_offset + ph.p_filesz) {
			*out = off - ph.p_offset + ph.p_vaddr + bias;
			return true;
		}
	}
	return false;
}

/* ---- frames from DWARF ------------------------------------------------ */

/*
 * Cleans a path lexically, as Go's filepath.Clean (and pprof) do: no "."
 * components, no "dir/..", no doubled slashes, in place. A relative path
 * stays relative ("./csu/libc-start.c" is "csu/libc-start.c") and keeps the
 * ".." it cannot drop; "" becomes ".".
 */
static void clean_path(char *path)
{
	char *root = path + (path[0] == '/'); /* what ".." never goes above */
	char *out = root, *in = root;
	for (bool more = *in; more;) {
		char *end = strchrnul(in, '/');
		more = *end; /* read before the '/' written below lands on it */
		size_t len = (size_t)(end - in);
		bool dotdot = len == 2 && in[0] == '.' && in[1] == '.';
		char *last = out; /* the last component written: [last, out - 1) */
		if (out > root)
			for (last = out - 1; last > root && last[-1] != '/'; last--)
				;
		if (dotdot && out > root && !(out - last == 3 && !strncmp(last, "..", 2)))
			out = last;
		else if (dotdot && path[0] == '/')
			; /* "/.." is "/" */
		else if (len && !(len == 1 && in[0] == '.')) {
			memmove(out, in, len);
			out += len;
			*out++ = '/';
		}
		in = end + 1;
	}
	if (out > root)
		out--; /* the trailing slash */
	else if (root == path)
		*out++ = '.';
	*out = '\0';
}

static void push_frame(sym_t *S, const char *mangled, const char *plain, const char *file,
                       int line, int start_line)
{
	const char *name = mangled ? mangled : plain ? plain : "";
	if (S->nframes == S->capframes) {
		S->capframes = S->capframes ? 2 * S->capframes : 16;
		S->frames = resize(S->frames, S->capframes * sizeof(*S->frames));
	}
	frame_t *f = &S->frames[S->nframes++];
	f->name = str_index(S, name);
	f->system_name = f->name; /* demangle_functions sets name */
	/* A build in another directory (../configure) records relative paths:
	 * absolute ones let pprof -list find the source from anywhere. */
	char path[PATH_MAX];
	if (file && file[0] != '/' && S->comp_dir) {
		snprintf(path, sizeof(path), "%s/%s", S->comp_dir, file);
		clean_path(path);
		file = path;
	}
	f->file = str_index(S, file ? file : "");
	f->line = line > 0 ? line : 0;
	f->start_line = start_line > 0 ? start_line : 0;
}

static const char *die_string(Dwarf_Die *d, unsigned name)
{
	Dwarf_Attribute a;
	return dwarf_formstring(dwarf_attr_integrate(d, name, &a));
}

/* The source file and line a scope's inlined call was made from. */
static void call_site(Dwarf_Die *cu, Dwarf_Die *d, const char **file, int *line)
{
	Dwarf_Attribute a;
	Dwarf_Word w;
	Dwarf_Files *files;
	size_t nfiles;
	*file = NULL;
	*line = 0;
	if (!dwarf_formudata(dwarf_attr(d, DW_AT_call_line, &a), &w))
		*line = (int)w;
	if (!dwarf_formudata(dwarf_attr(d, DW_AT_call_file, &a), &w) &&
	    !dwarf_getsrcfiles(cu, &files, &nfiles) && w < nfiles)
		*file = dwarf_filesrc(files, w, NULL, NULL);
}

/* Scopes deeper than this are not followed (inlining is rarely over 30 deep). */
#define MAX_SCOPES 64

/*
 * The DIEs under parent, outermost first, that contain pc: subprograms,
 * inlined calls and blocks, found (when nested says so) also through the
 * DIEs that hold them without an address of their own: namespaces, types.
 * dwarf_getscopes does not look inside those, and Rust (as clang's C++ for
 * methods defined in a class) nests every function in its namespace;
 * eu-addr2line names them from the symbol table instead, without their
 * inlined frames. Returns the depth reached in path.
 */
static int scope_path(Dwarf_Die *parent, Dwarf_Addr pc, Dwarf_Die *path, int depth,
                      bool nested)
{
	Dwarf_Die child;
	if (depth >= MAX_SCOPES || dwarf_child(parent, &child) != 0)
		return depth;
	do {
		switch (dwarf_tag(&child)) {
		case DW_TAG_subprogram:
		case DW_TAG_inlined_subroutine:
		case DW_TAG_lexical_block:
		case DW_TAG_entry_point:
		case DW_TAG_try_block:
		case DW_TAG_catch_block:
			if (dwarf_haspc(&child, pc) > 0) {
				path[depth] = child;
				return scope_path(&child, pc, path, depth + 1, nested);
			}
			break;
		case DW_TAG_namespace:
		case DW_TAG_module:
		case DW_TAG_class_type:
		case DW_TAG_structure_type:
		case DW_TAG_union_type:
		case DW_TAG_enumeration_type: {
			int d =
			    nested ? scope_path(&child, pc, path, depth, true) : depth;
			if (d > depth)
				return d;
			break;
		}
		default:
			break;
		}
	} while (dwarf_siblingof(&child, &child) == 0);
	return depth;
}

/*
 * The unit that holds addr: by .debug_aranges, else by each unit's own
 * ranges. clang 14 writes no .debug_aranges and libdw 0.188 then finds no
 * unit, nor does eu-addr2line; binutils' addr2line does.
 */
static Dwarf_Die *unit_at(Dwfl_Module *mod, Dwarf_Addr addr, Dwarf_Addr *bias)
{
	Dwarf_Die *cu = dwfl_module_addrdie(mod, addr, bias);
	if (cu)
		return cu;
	while ((cu = dwfl_module_nextcu(mod, cu, bias)))
		if (dwarf_haspc(cu, addr - *bias) > 0)
			return cu;
	return NULL;
}

/* A skeleton unit's split unit (DWARF 5 -gsplit-dwarf), else cu itself. */
static Dwarf_Die *full_unit(Dwarf_Die *cu, Dwarf_Die *split)
{
	uint8_t type;
	if (dwarf_cu_info(cu->cu, NULL, &type, NULL, split, NULL, NULL, NULL) == 0 &&
	    type == DW_UT_skeleton && dwarf_tag(split) == DW_TAG_compile_unit)
		return split;
	return cu;
}

/*
 * The frames at addr, innermost inlined function first, each with the file
 * and line in that function; false without DWARF for addr. An inlined
 * call's caller is the scope above it, called from the inlined DIE's call
 * file and line, as eu-addr2line -i reports them.
 */
static bool dwarf_frames(sym_t *S, Dwfl_Module *mod, Dwarf_Addr addr)
{
	Dwarf_Addr bias;
	Dwarf_Die *cu = unit_at(mod, addr, &bias);
	if (!cu)
		return false;
	int line = 0;
	const char *file = NULL;
	Dwfl_Line *ln = dwfl_module_getsrc(mod, addr);
	Dwarf_Line *dl = ln ? NULL : dwarf_getsrc_die(cu, addr - bias);
	if (ln)
		file = dwfl_lineinfo(ln, NULL, &line, NULL, NULL, NULL);
	else if (dl && !dwarf_lineno(dl, &line))
		file = dwarf_linesrc(dl, NULL, NULL);
	else
		return false;
	S->comp_dir = die_string(cu, DW_AT_comp_dir);
	Dwarf_Die split, path[MAX_SCOPES];
	Dwarf_Die *unit = full_unit(cu, &split);
	/* gcc puts every concrete function at the top of its unit: look there
	 * first, the whole tree of namespaces and types only if that fails. */
	int depth = scope_path(unit, addr - bias, path, 0, false);
	if (!depth)
		depth = scope_path(unit, addr - bias, path, 0, true);
	for (int i = depth - 1; i >= 0; i--) {
		Dwarf_Die *d = &path[i];
		int tag = dwarf_tag(d);
		if (tag != DW_TAG_subprogram && tag != DW_TAG_inlined_subroutine)
			continue;
		const char *mangled = die_string(d, DW_AT_linkage_name);
		if (!mangled)
			mangled = die_string(d, DW_AT_MIPS_linkage_name);
		int start = 0;
		dwarf_decl_line(d, &start);
		push_frame(S, mangled, die_string(d, DW_AT_name), file, line, start);
		if (tag == DW_TAG_subprogram)
			break;
		call_site(unit, d, &file, &line);
	}
	S->comp_dir = NULL;
	return S->nframes > 0;
}

/* The frames at addr from DWARF, else the symbol table's name alone. */
static bool frames_at(sym_t *S, Dwfl_Module *mod, Dwarf_Addr addr)
{
	S->nframes = 0;
	if (dwarf_frames(S, mod, addr))
		return true;
	GElf_Off off;
	GElf_Sym sym;
	const char *name = dwfl_module_addrinfo(mod, addr, &off, &sym, NULL, NULL, NULL);
	if (!name)
		return false;
	push_frame(S, name, NULL, NULL, 0, 0);
	return true;
}

/* ---- the profile ------------------------------------------------------ */

static bool has_lines(const Perftools__Profiles__Location *l)
{
	for (size_t k = 0; k < l->n_line; k++)
		if (l->line[k]->line)
			return true;
	return false;
}

/* Replaces l's lines with the frames found (innermost first, as pprof wants). */
static void set_lines(sym_t *S, Perftools__Profiles__Location *l)
{
	for (size_t k = 0; k < l->n_line; k++)
		perftools__profiles__line__free_unpacked(l->line[k], NULL);
	l->line = resize(l->line, S->nframes * sizeof(*l->line));
	l->n_line = S->nframes;
	for (size_t k = 0; k < S->nframes; k++) {
		Perftools__Profiles__Line *ln = resize(NULL, sizeof(*ln));
		perftools__profiles__line__init(ln);
		ln->function_id = func_id(S, &S->frames[k]);
		ln->line = S->frames[k].line;
		l->line[k] = ln;
	}
}

static size_t mapping_pos(const pp_profile_t *p, uint64_t id)
{
	for (size_t i = 0; id && i < p->n_mapping; i++)
		if (p->mapping[i]->id == id)
			return i;
	return SIZE_MAX;
}

/*
 * Symbolizes one location: with lines when DWARF has them (the mapping is
 * then marked as having functions, files, lines and inlines), with a name
 * alone only where the location had none.
 */
static void symbolize_location(sym_t *S, Perftools__Profiles__Location *l, size_t *last)
{
	pp_profile_t *p = S->p;
	if (has_lines(l))
		return;
	size_t mi = *last < p->n_mapping && p->mapping[*last]->id == l->mapping_id
	                ? *last
	                : mapping_pos(p, l->mapping_id);
	if (mi == SIZE_MAX)
		return;
	*last = mi;
	module_t *m = module_of(S, mi);
	Dwarf_Addr addr;
	if (!m || !module_address(p->mapping[mi], m, l->address, &addr) ||
	    !frames_at(S, m->mod, addr))
		return;
	bool lines = S->frames[0].line != 0;
	if (!lines && l->n_line)
		return;
	set_lines(S, l);
	Perftools__Profiles__Mapping *map = p->mapping[mi];
	map->has_functions = true;
	if (lines)
		map->has_filenames = map->has_line_numbers = map->has_inline_frames =
		    true;
}

/*
 * Every function's name demangled, once, whether the library or the debug
 * info gave it: C++ (Itanium) with its parameters, Rust legacy without its
 * ::h<hash> and Rust v0, by libiberty's automatic style. The mangled name
 * stays the system name, as pprof keeps it (pprof then leaves the name as
 * it is). Returns whether any name changed.
 */
static bool demangle_functions(sym_t *S)
{
	pp_profile_t *p = S->p;
	bool changed = false;
	for (size_t i = 0; i < p->n_function; i++) {
		Perftools__Profiles__Function *fn = p->function[i];
		const char *name = pp_str(p, fn->name);
		if (name[0] != '_' || (name[1] != 'Z' && name[1] != 'R'))
			continue;
		char *d = cplus_demangle(name, DMGL_PARAMS | DMGL_ANSI);
		if (!d)
			continue;
		if (!fn->system_name)
			fn->system_name = fn->name;
		fn->name = str_index(S, d);
		free(d);
		changed = true;
	}
	return changed;
}

bool symbolize(pp_profile_t *p)
{
	sym_t S = {.p = p, .capstrings = p->n_string_table, .capfuncs = p->n_function};
	table_init(&S.strs, sizeof(struct str_entry));
	table_init(&S.funcs, sizeof(struct func_entry));
	for (size_t i = 0; i < p->n_string_table; i++) {
		struct str_entry *e = table_lookup(&S.strs, p->string_table[i]);
		if (!e->idx1)
			e->idx1 = (int64_t)i + 1;
	}
	S.next_fid = 1;
	for (size_t i = 0; i < p->n_function; i++)
		if (p->function[i]->id >= S.next_fid)
			S.next_fid = p->function[i]->id + 1;
	S.mods = calloc(p->n_mapping + 1, sizeof(*S.mods));
	if (!S.mods)
		die("out of memory");
	size_t last = 0, nfuncs = p->n_function;
	for (size_t i = 0; i < p->n_location; i++)
		symbolize_location(&S, p->location[i], &last);
	bool demangled = demangle_functions(&S);
	free(S.mods); /* their modules stay open for the run (opened) */
	free(S.frames);
	table_free(&S.strs);
	table_free(&S.funcs);
	return p->n_function != nfuncs || demangled;
}
