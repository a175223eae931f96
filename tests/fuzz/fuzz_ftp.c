/* fuzz_ftp.c — libFuzzer target for the FTP and TFTP dissectors and the expected-session table,
 * through the engine: the input is split at 0xff bytes into packets of one session (the next
 * byte's low bit picks the direction), then a second session probes the expectations. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cls_engine.h"

static struct cls_engine *engine;
static struct cls_worker *worker;
static void *state;

static int
setup(void)
{
	char dir[] = "/tmp/tide-fuzz-ftp-XXXXXX", path[128], err[512];
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof(path), "%s/tide_apps.txt", dir);
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("0 0 unknown unknown\n9 0 FTP ft\n9 1 FTP/data ft\n33 0 TFTP ft\n", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/enabled", dir);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("ftp\ntftp\n", f);
	fclose(f);
	struct cls_engine_params p = {.config_dir = dir, .enabled_path = path};
	engine = cls_engine_create(&p, err, sizeof(err));
	if (!engine)
		return -1;
	worker = cls_worker_create(engine);
	state = malloc(cls_engine_state_size(engine));
	return worker && state ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!engine && setup() != 0)
		abort();
	if (size < 2)
		return 0;
	struct cls_session s;
	struct cls_decision d;
	memset(&s, 0, sizeof(s));
	s.key.family = 4;
	s.key.proto = (data[0] & 1) ? 17 : 6;
	s.key.src[0] = 10;
	s.key.dst[0] = 10;
	s.key.dst[3] = 1;
	s.key.sport = 40000;
	s.key.dport = (data[0] & 1) ? 69 : 21;
	cls_session_begin(worker, state);
	uint32_t index = 0;
	size_t i = 1;
	while (i < size) {
		size_t j = i;
		while (j < size && data[j] != 0xff)
			j++;
		struct cls_packet p = {.payload = data + i, .payload_len = (uint32_t)(j - i),
			.ts_ns = index, .index = index, .dir = (uint8_t)(index & 1), .l4proto = s.key.proto};
		s.pkts[p.dir]++;
		index++;
		cls_session_packet(worker, state, &s, &p, &d);
		i = j + 1;
	}
	cls_session_finish(worker, state, &s, &d);
	cls_session_end(worker, state);
	/* a second session that may have been announced */
	s.key.dport = (uint16_t)(data[size - 1] * 256 + data[size / 2]);
	cls_session_begin(worker, state);
	struct cls_packet p = {.payload = data, .payload_len = 1, .index = 0, .l4proto = s.key.proto};
	cls_session_packet(worker, state, &s, &p, &d);
	cls_session_end(worker, state);
	return 0;
}
