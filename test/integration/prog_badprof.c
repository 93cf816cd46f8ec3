/* SPDX-License-Identifier: MIT */
/*
 * prog_badprof: writes crafted profiles into DIR for the heapprof command's
 * bad-input tests: dangling ids of each kind, a string index out of range, a
 * non-empty string_table[0], a sample with too few values, a profile with
 * other sample types, and a valid profile whose ids are sparse and huge.
 * usage: prog_badprof DIR
 */
#include "profile.pb-c.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef Perftools__Profiles__Profile profile_t;

static char *strings[] = {"", "alloc_space", "bytes", "inuse_space", "main", "f", "x"};

static void write_gz(const char *dir, const char *name, const profile_t *p)
{
	size_t len = perftools__profiles__profile__get_packed_size(p);
	unsigned char *buf = malloc(len ? len : 1);
	perftools__profiles__profile__pack(p, buf);
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	gzFile f = gzopen(path, "wb");
	gzwrite(f, buf, (unsigned)len);
	gzclose(f);
	free(buf);
}

/*
 * A small valid profile: two sample types, one mapping, two functions, two
 * locations, one sample; the caller breaks it.
 */
typedef struct {
	profile_t p;
	Perftools__Profiles__ValueType vt[2], *vtp[2];
	Perftools__Profiles__Mapping m, *mp[1];
	Perftools__Profiles__Function fn[2], *fnp[2];
	Perftools__Profiles__Line line[2], *linep[2][1];
	Perftools__Profiles__Location loc[2], *locp[2];
	Perftools__Profiles__Sample s, *sp[1];
	uint64_t ids[2];
	int64_t vals[2];
} small_t;

static void make(small_t *x, uint64_t base_id)
{
	memset(x, 0, sizeof(*x));
	perftools__profiles__profile__init(&x->p);
	for (int i = 0; i < 2; i++) {
		perftools__profiles__value_type__init(&x->vt[i]);
		x->vt[i].type = i ? 3 : 1;
		x->vt[i].unit = 2;
		x->vtp[i] = &x->vt[i];
		perftools__profiles__function__init(&x->fn[i]);
		x->fn[i].id = base_id + (uint64_t)i;
		x->fn[i].name = 4 + i;
		x->fnp[i] = &x->fn[i];
		perftools__profiles__line__init(&x->line[i]);
		x->line[i].function_id = base_id + (uint64_t)i;
		x->linep[i][0] = &x->line[i];
		perftools__profiles__location__init(&x->loc[i]);
		x->loc[i].id = base_id + 10 + (uint64_t)i;
		x->loc[i].mapping_id = base_id + 20;
		x->loc[i].address = 0x1000 + (uint64_t)i;
		x->loc[i].n_line = 1;
		x->loc[i].line = x->linep[i];
		x->locp[i] = &x->loc[i];
	}
	perftools__profiles__mapping__init(&x->m);
	x->m.id = base_id + 20;
	x->m.memory_start = 0x1000;
	x->m.memory_limit = 0x2000;
	x->m.filename = 6;
	x->mp[0] = &x->m;
	perftools__profiles__sample__init(&x->s);
	x->ids[0] = base_id + 11; /* leaf f */
	x->ids[1] = base_id + 10; /* root main */
	x->s.n_location_id = 2;
	x->s.location_id = x->ids;
	x->vals[0] = 1000;
	x->vals[1] = 400;
	x->s.n_value = 2;
	x->s.value = x->vals;
	x->sp[0] = &x->s;
	x->p.n_sample_type = 2;
	x->p.sample_type = x->vtp;
	x->p.n_sample = 1;
	x->p.sample = x->sp;
	x->p.n_mapping = 1;
	x->p.mapping = x->mp;
	x->p.n_location = 2;
	x->p.location = x->locp;
	x->p.n_function = 2;
	x->p.function = x->fnp;
	x->p.n_string_table = sizeof(strings) / sizeof(strings[0]);
	x->p.string_table = strings;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return 2;
	const char *d = argv[1];
	small_t x;
	make(&x, 1);
	write_gz(d, "twotypes.pb.gz", &x.p); /* valid, but not a heap profile's types */
	make(&x, UINT64_C(1) << 60);
	write_gz(d, "sparse.pb.gz", &x.p); /* valid: huge sparse ids */
	make(&x, 1);
	x.ids[0] = 99;
	write_gz(d, "dangling-location.pb.gz", &x.p);
	make(&x, 1);
	x.line[0].function_id = 42;
	write_gz(d, "dangling-function.pb.gz", &x.p);
	make(&x, 1);
	x.loc[0].mapping_id = 7;
	write_gz(d, "dangling-mapping.pb.gz", &x.p);
	make(&x, 1);
	x.fn[0].name = 1000;
	write_gz(d, "string-out-of-range.pb.gz", &x.p);
	make(&x, 1);
	strings[0] = "not empty";
	write_gz(d, "string0.pb.gz", &x.p);
	strings[0] = "";
	make(&x, 1);
	x.s.n_value = 1;
	write_gz(d, "short-sample.pb.gz", &x.p);
	return 0;
}
