/* SPDX-License-Identifier: MIT */
/*
 * cfi: the rule of a return address from the object's .eh_frame (see cfi.h).
 * The formats are the LSB's (Linux Standard Base, "Exception Frames") and
 * DWARF's call frame instructions. Everything is read inside the object's
 * loaded, read-only segments, and every record is checked to lie inside
 * them before it is read: a damaged or unusual table answers "cannot tell",
 * never a fault in the program.
 */
#include "cfi.h"

#if defined(__x86_64__)

#include <dlfcn.h>
#include <link.h>
#include <string.h>

enum { DW_RBP = 6, DW_RSP = 7, DW_RA = 16 };
enum { SAME, UNDEF, OFFSET, OTHER }; /* a register's rule */

typedef struct {
	int cfa_reg; /* -1: not defined, or an expression */
	int64_t cfa_off;
	uint8_t rbp, ra;
	int64_t rbp_off, ra_off;
} row_t;

typedef struct {
	const uint8_t *p, *end;
	bool bad;
} cur_t;

typedef struct {
	uint64_t code_align;
	int64_t data_align;
	uint8_t fde_enc; /* how the FDE's addresses are encoded */
	bool z;          /* the FDE has augmentation data */
	row_t init;      /* the row after the CIE's instructions */
} cie_t;

/* The object being read: its program headers, to check every read. */
typedef struct {
	const struct dl_phdr_info *info;
} obj_t;

static bool mapped(const obj_t *o, const void *at, uint64_t len)
{
	uintptr_t a = (uintptr_t)at;
	for (int i = 0; i < o->info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &o->info->dlpi_phdr[i];
		uintptr_t s = o->info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_R) && a >= s &&
		    a - s <= ph->p_memsz && len <= ph->p_memsz - (a - s))
			return true;
	}
	return false;
}

/* ---- reading ------------------------------------------------------------ */

static uint64_t fixed(cur_t *c, int n)
{
	if (c->end - c->p < n) {
		c->bad = true;
		return 0;
	}
	uint64_t v = 0;
	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | c->p[i];
	c->p += n;
	return v;
}

static uint64_t uleb(cur_t *c)
{
	uint64_t v = 0;
	for (int shift = 0; c->p < c->end && shift < 64; shift += 7) {
		uint8_t b = *c->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

static int64_t sleb(cur_t *c)
{
	uint64_t v = 0;
	for (int shift = 0; c->p < c->end && shift < 64;) {
		uint8_t b = *c->p++;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
		if (!(b & 0x80)) {
			if (shift < 64 && (b & 0x40))
				v |= ~(uint64_t)0 << shift;
			return (int64_t)v;
		}
	}
	c->bad = true;
	return 0;
}

static void skip(cur_t *c, uint64_t n)
{
	if ((uint64_t)(c->end - c->p) < n)
		c->bad = true;
	else
		c->p += n;
}

/*
 * A pointer encoded as enc (DW_EH_PE_*): absolute, or relative to where it
 * is read (pcrel) or to datarel. The indirect bit is left to the caller.
 */
static uintptr_t pointer(cur_t *c, uint8_t enc, uintptr_t datarel)
{
	uintptr_t at = (uintptr_t)c->p;
	uint64_t v;
	switch (enc & 0x0f) {
	case 0x00:
	case 0x04:
	case 0x0c:
		v = fixed(c, 8);
		break;
	case 0x01:
		v = uleb(c);
		break;
	case 0x02:
		v = fixed(c, 2);
		break;
	case 0x03:
		v = fixed(c, 4);
		break;
	case 0x09:
		v = (uint64_t)sleb(c);
		break;
	case 0x0a:
		v = (uint64_t)(int64_t)(int16_t)fixed(c, 2);
		break;
	case 0x0b:
		v = (uint64_t)(int64_t)(int32_t)fixed(c, 4);
		break;
	default:
		c->bad = true;
		return 0;
	}
	switch (enc & 0x70) {
	case 0x00:
		break;
	case 0x10:
		v += at;
		break;
	case 0x30:
		if (!datarel)
			c->bad = true;
		v += datarel;
		break;
	default:
		c->bad = true;
	}
	return (uintptr_t)v;
}

/* ---- the call frame instructions --------------------------------------- */

static void set_rule(row_t *row, uint64_t reg, uint8_t rule, int64_t off)
{
	if (reg == DW_RBP) {
		row->rbp = rule;
		row->rbp_off = off;
	} else if (reg == DW_RA) {
		row->ra = rule;
		row->ra_off = off;
	}
}

static void restore_rule(row_t *row, const row_t *init, uint64_t reg)
{
	if (reg == DW_RBP)
		set_rule(row, reg, init->rbp, init->rbp_off);
	else if (reg == DW_RA)
		set_rule(row, reg, init->ra, init->ra_off);
}

/* An instruction that defines the CFA; false if op is not one. */
static bool apply_cfa(cur_t *c, uint8_t op, int64_t da, row_t *row)
{
	uint64_t reg;
	switch (op) {
	case 0x0c: /* def_cfa */
	case 0x12: /* def_cfa_sf */
		reg = uleb(c);
		row->cfa_reg = reg < 64 ? (int)reg : -1;
		row->cfa_off = op == 0x0c ? (int64_t)uleb(c) : sleb(c) * da;
		return true;
	case 0x0d: /* def_cfa_register */
		reg = uleb(c);
		row->cfa_reg = reg < 64 ? (int)reg : -1;
		return true;
	case 0x0e: /* def_cfa_offset */
		row->cfa_off = (int64_t)uleb(c);
		return true;
	case 0x13: /* def_cfa_offset_sf */
		row->cfa_off = sleb(c) * da;
		return true;
	case 0x0f: /* def_cfa_expression */
		skip(c, uleb(c));
		row->cfa_reg = -1;
		return true;
	}
	return false;
}

/* An instruction that sets a register's rule; false if op is not one. */
static bool apply_reg(cur_t *c, uint8_t op, const cie_t *cie, row_t *row)
{
	int64_t da = cie->data_align;
	uint64_t reg = op >> 6 ? (uint64_t)(op & 0x3f) : uleb(c);
	switch (op >> 6 ? op & 0xc0 : op) {
	case 0x80: /* offset */
	case 0x05: /* offset_extended */
		set_rule(row, reg, OFFSET, (int64_t)uleb(c) * da);
		return true;
	case 0x11: /* offset_extended_sf */
		set_rule(row, reg, OFFSET, sleb(c) * da);
		return true;
	case 0x2f: /* GNU_negative_offset_extended */
		set_rule(row, reg, OFFSET, -(int64_t)uleb(c) * da);
		return true;
	case 0xc0: /* restore */
	case 0x06: /* restore_extended */
		restore_rule(row, &cie->init, reg);
		return true;
	case 0x07: /* undefined */
		set_rule(row, reg, UNDEF, 0);
		return true;
	case 0x08: /* same_value */
		set_rule(row, reg, SAME, 0);
		return true;
	case 0x09: /* register */
	case 0x14: /* val_offset */
		uleb(c);
		break;
	case 0x15: /* val_offset_sf */
		sleb(c);
		break;
	case 0x10: /* expression */
	case 0x16: /* val_expression */
		skip(c, uleb(c));
		break;
	default:
		return false;
	}
	set_rule(row, reg, OTHER, 0);
	return true;
}

/*
 * One instruction that is not an advance; false if it is not one of
 * DWARF's (or GNU's) or the state stack overflows.
 */
static bool apply(cur_t *c, uint8_t op, const cie_t *cie, row_t *row, row_t *stack,
                  int *depth)
{
	switch (op) {
	case 0x00: /* nop */
	case 0x2e: /* GNU_args_size: for landing pads only */
		if (op)
			uleb(c);
		return true;
	case 0x0a: /* remember_state */
		if (*depth == 8)
			return false;
		stack[(*depth)++] = *row;
		return true;
	case 0x0b: /* restore_state: the CFA too, as libgcc and libunwind do */
		if (!*depth)
			return false;
		*row = stack[--*depth];
		return true;
	}
	return apply_cfa(c, op, cie->data_align, row) || apply_reg(c, op, cie, row);
}

/*
 * Runs the instructions in c from address loc until the row in force at
 * target is built (the next advance would pass it) or they end.
 */
static bool run(cur_t *c, const cie_t *cie, uintptr_t loc, uintptr_t target, row_t *row)
{
	row_t stack[8];
	int depth = 0;
	while (c->p < c->end && !c->bad) {
		uint8_t op = *c->p++;
		uint64_t delta;
		if (op >> 6 == 1)
			delta = op & 0x3f;
		else if (op == 0x02 || op == 0x03 || op == 0x04)
			delta = fixed(c, op == 0x02 ? 1 : op == 0x03 ? 2 : 4);
		else if (op == 0x01) { /* set_loc */
			uintptr_t to = pointer(c, cie->fde_enc, 0);
			if (c->bad || (cie->fde_enc & 0x80) || to < loc)
				return false;
			if (to > target)
				return true;
			loc = to;
			continue;
		} else {
			if (!apply(c, op, cie, row, stack, &depth))
				return false;
			continue;
		}
		uint64_t to = loc + delta * cie->code_align;
		if (to > target)
			return true;
		loc = to;
	}
	return !c->bad;
}

/* ---- records ----------------------------------------------------------- */

/* The record at at: its body in *c, false if it does not lie in the object. */
static bool record(const obj_t *o, const uint8_t *at, cur_t *c)
{
	if (!mapped(o, at, 8))
		return false;
	c->p = at;
	c->end = at + 4;
	c->bad = false;
	uint64_t len = fixed(c, 4);
	if (!len || len >= 0xfffffff0 || !mapped(o, at, 4 + len))
		return false;
	c->end = at + 4 + len;
	return true;
}

static bool parse_cie(const obj_t *o, const uint8_t *at, cie_t *cie)
{
	cur_t c;
	if (!record(o, at, &c) || fixed(&c, 4) != 0)
		return false;
	uint64_t version = fixed(&c, 1);
	char aug[8];
	size_t n = 0;
	while (c.p < c.end && *c.p && n < sizeof(aug) - 1)
		aug[n++] = (char)*c.p++;
	aug[n] = 0;
	if ((version != 1 && version != 3) || c.p >= c.end || *c.p++)
		return false;
	cie->code_align = uleb(&c);
	cie->data_align = sleb(&c);
	uint64_t ra = version == 1 ? fixed(&c, 1) : uleb(&c);
	cie->fde_enc = 0;
	cie->z = aug[0] == 'z';
	if (ra != DW_RA || (n && !cie->z))
		return false;
	if (cie->z) {
		uint64_t len = uleb(&c);
		const uint8_t *data_end = c.p + len;
		if (c.bad || len > (uint64_t)(c.end - c.p))
			return false;
		for (const char *a = aug + 1; *a; a++) {
			if (*a == 'R')
				cie->fde_enc = (uint8_t)fixed(&c, 1);
			else if (*a == 'L')
				fixed(&c, 1);
			else if (*a == 'P')
				pointer(&c, (uint8_t)fixed(&c, 1) & 0x7f, 0);
			else
				return false; /* 'S', a signal frame: libunwind's */
		}
		c.p = data_end;
	}
	row_t none = {.cfa_reg = -1, .rbp = SAME, .ra = SAME};
	cie->init = none;
	row_t row = none;
	if (!run(&c, cie, 0, UINTPTR_MAX, &row))
		return false;
	cie->init = row;
	return true;
}

/* The row in force at target from the FDE at fde. */
static bool row_at(const obj_t *o, const uint8_t *fde, uintptr_t target, row_t *row)
{
	cur_t c;
	if (!record(o, fde, &c))
		return false;
	const uint8_t *id_at = c.p;
	uint64_t cie_off = fixed(&c, 4);
	cie_t cie;
	if (!cie_off || cie_off > (uintptr_t)id_at ||
	    !parse_cie(o, id_at - cie_off, &cie))
		return false;
	if (cie.fde_enc & 0x80)
		return false;
	uintptr_t begin = pointer(&c, cie.fde_enc, 0);
	uintptr_t range = pointer(&c, cie.fde_enc & 0x0f, 0);
	if (c.bad || target < begin || target - begin >= range)
		return false;
	if (cie.z)
		skip(&c, uleb(&c));
	*row = cie.init;
	return !c.bad && run(&c, &cie, begin, target, row);
}

/* The FDE covering target, by the sorted table of .eh_frame_hdr. */
static const uint8_t *find_fde(const obj_t *o, const ElfW(Phdr) * ph, uintptr_t target)
{
	const uint8_t *hdr = (const uint8_t *)(o->info->dlpi_addr + ph->p_vaddr);
	if (ph->p_memsz < 4 || !mapped(o, hdr, ph->p_memsz))
		return NULL;
	cur_t c = {hdr + 4, hdr + ph->p_memsz, false};
	if (hdr[0] != 1 || hdr[3] != 0x3b) /* version 1; datarel sdata4 pairs */
		return NULL;
	pointer(&c, hdr[1], (uintptr_t)hdr); /* .eh_frame itself: not needed */
	uint64_t count = pointer(&c, hdr[2], (uintptr_t)hdr);
	if (c.bad || !count || count > (uint64_t)(c.end - c.p) / 8)
		return NULL;
	const uint8_t *table = c.p;
	uint64_t lo = 0, hi = count; /* the last entry starting at or below target */
	while (hi - lo > 1) {
		uint64_t mid = lo + (hi - lo) / 2;
		cur_t e = {table + mid * 8, table + mid * 8 + 4, false};
		uintptr_t start =
		    (uintptr_t)hdr + (uintptr_t)(int64_t)(int32_t)fixed(&e, 4);
		if (start <= target)
			lo = mid;
		else
			hi = mid;
	}
	cur_t e = {table + lo * 8, table + lo * 8 + 8, false};
	uintptr_t start = (uintptr_t)hdr + (uintptr_t)(int64_t)(int32_t)fixed(&e, 4);
	uintptr_t fde = (uintptr_t)hdr + (uintptr_t)(int64_t)(int32_t)fixed(&e, 4);
	return start <= target ? (const uint8_t *)fde : NULL;
}

/* ---- the object of an address ------------------------------------------- */

typedef struct {
	uintptr_t target;
	row_t row;
	bool ok;
} query_t;

static int visit(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	query_t *q = arg;
	if (info->dlpi_addr > q->target)
		return 0; /* every segment lies above its object's base */
	const ElfW(Phdr) *eh = NULL;
	bool inside = false;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t s = info->dlpi_addr + ph->p_vaddr;
		if (ph->p_type == PT_LOAD && q->target - s < ph->p_memsz)
			inside = true;
		else if (ph->p_type == PT_GNU_EH_FRAME)
			eh = ph;
	}
	if (!inside)
		return 0;
	obj_t o = {info};
	const uint8_t *fde = eh ? find_fde(&o, eh, q->target) : NULL;
	q->ok = fde && row_at(&o, fde, q->target, &q->row);
	return 1;
}

#ifdef DLFO_STRUCT_HAS_EH_DBASE /* glibc 2.35: _dl_find_object */
/*
 * The object of q->target by _dl_find_object, which takes no lock: a fork
 * child whose parent had another thread inside dl_iterate_phdr inherits the
 * loader's lock held for ever, and a rule read with it hung the child (as it
 * does libgcc's unwinder, which uses this too). The program headers are read
 * where the first page of the object's mapping holds them, after its ELF
 * header; 0 if they are not there (dl_iterate_phdr then), 1 read or not in
 * any object.
 */
static int visit_found(query_t *q)
{
	struct dl_find_object f;
	if (_dl_find_object((void *)q->target, &f) != 0)
		return 1; /* in no object's mapping */
	const ElfW(Ehdr) *e = f.dlfo_map_start;
	if (!f.dlfo_link_map || memcmp(e->e_ident, ELFMAG, SELFMAG) ||
	    e->e_ident[EI_CLASS] != ELFCLASS64 || e->e_phentsize != sizeof(ElfW(Phdr)) ||
	    e->e_phoff < sizeof(*e) || e->e_phoff > 4096 ||
	    e->e_phnum > (4096 - e->e_phoff) / sizeof(ElfW(Phdr)))
		return 0;
	struct dl_phdr_info info = {
	    .dlpi_addr = f.dlfo_link_map->l_addr,
	    .dlpi_phdr = (const ElfW(Phdr) *)((uintptr_t)e + e->e_phoff),
	    .dlpi_phnum = e->e_phnum,
	};
	/* The headers are the mapping's own if a segment maps them there. */
	bool theirs = false;
	for (int i = 0; i < info.dlpi_phnum && !theirs; i++) {
		const ElfW(Phdr) *ph = &info.dlpi_phdr[i];
		theirs = ph->p_type == PT_LOAD && ph->p_offset == 0 &&
		         ph->p_filesz >= e->e_phoff + e->e_phnum * sizeof(ElfW(Phdr)) &&
		         info.dlpi_addr + (ph->p_vaddr & ~(uintptr_t)4095) ==
		             (uintptr_t)f.dlfo_map_start;
	}
	if (!theirs)
		return 0;
	if (!visit(&info, sizeof(info), q))
		q->ok = false;
	return 1;
}
#else
static int visit_found(query_t *q)
{
	(void)q;
	return 0;
}
#endif

bool hp_cfi_rule(uintptr_t pc, hp_cfi_rule_t *r)
{
	query_t q = {.target = pc - 1};
	if (!pc || (!visit_found(&q) && !dl_iterate_phdr(visit, &q)) || !q.ok)
		return false;
	const row_t *row = &q.row;
	memset(r, 0, sizeof(*r));
	if (row->ra == UNDEF) {
		r->outermost = true;
		return true;
	}
	if (row->ra != OFFSET || row->ra_off != -8 ||
	    (row->cfa_reg != DW_RSP && row->cfa_reg != DW_RBP) ||
	    (row->rbp != SAME && row->rbp != OFFSET))
		return false;
	r->from_rbp = row->cfa_reg == DW_RBP;
	r->cfa_off = row->cfa_off;
	r->rbp_saved = row->rbp == OFFSET;
	r->rbp_off = r->rbp_saved ? row->rbp_off : 0;
	return true;
}

#else

bool hp_cfi_rule(uintptr_t pc, hp_cfi_rule_t *r)
{
	(void)pc;
	(void)r;
	return false;
}

#endif
