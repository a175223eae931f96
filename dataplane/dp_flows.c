/* dp_flows.c — flow record writer and per-application and per-service summaries (see
 * dp_flows.h). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <arpa/inet.h>

#include "dp_anon.h"
#include "dp_export.h"
#include "dp_flows.h"
#include "tide_log.h"
#include "tide_time.h"

#define NS_PER_S ((uint64_t)1000000000)
#define EXPORT_DRAIN_MS 5000         /* the collector's time to take what is queued at close */

struct app_count {
	uint64_t sessions, packets, bytes;
	uint64_t dataset_packets, dataset_bytes; /* what the dataset holds of them */
};

struct dp_flows {
	struct dp_flows_params p;
	char base[4096];             /* path without .csv/.jsonl, for cyclic names */
	char ext[16];
	char cur_path[4200];
	bool use_part;               /* a regular file: written as .part, renamed at close */
	FILE *f;
	char *buf;
	pthread_mutex_t mu;
	uint64_t interval_start;     /* cyclic: start of the current file's interval */
	uint64_t records;
	struct app_count *apps;      /* indexed by app id; summary of the current file */
	uint32_t n_apps;
	struct app_count *services;  /* indexed by service id (0: none); same file */
	uint32_t n_services;
	struct dp_anon *anon;        /* p.anon_key's mapping (used under mu) */
	struct dp_export *exp;       /* p.export's exporter thread (NULL: none) */
	FILE *json_mem;              /* json+ export: write_json into json_buf (under mu) */
	char json_buf[8192];
};

static const char *
proto_name(uint8_t p, char *buf)
{
	switch (p) {
	case 0: return "";
	case 1: return "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmp6";
	case 132: return "sctp";
	default: sprintf(buf, "%u", p); return buf;
	}
}

static void
addr_str(const struct cls_key *k, const uint8_t *a, char *out)
{
	if (k->family == 4)
		inet_ntop(AF_INET, a, out, INET6_ADDRSTRLEN);
	else
		inet_ntop(AF_INET6, a, out, INET6_ADDRSTRLEN);
}

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			fprintf(f, "\\%c", *c);
		else if (*c < 0x20 || *c >= 0x7f)
			fprintf(f, "\\u%04x", *c);
		else
			fputc(*c, f);
	}
	fputc('"', f);
}

static const char *
sub_name(const struct dp_flows *fl, uint16_t app, uint16_t sub)
{
	if (!sub || !fl->p.engine)
		return "";
	const char *n = cls_apps_name(cls_engine_apps(fl->p.engine), app, sub);
	const char *slash = strchr(n, '/');
	return slash ? slash + 1 : n;
}

static const char *
app_name(const struct dp_flows *fl, uint16_t app)
{
	return fl->p.engine ? cls_apps_name(cls_engine_apps(fl->p.engine), app, 0) : "";
}

/* "" for none, and without a service table */
static const char *
service_name(const struct dp_flows *fl, uint16_t id)
{
	return fl->p.engine ? cls_services_name(cls_engine_services(fl->p.engine), id) : "";
}

static void
write_header(struct dp_flows *fl)
{
	if (fl->p.jsonl)
		return;
	fputs("flow_id,proto,src_ip,src_port,dst_ip,dst_port,first_ts,last_ts,pkts_fwd,bytes_fwd,"
	      "pkts_bwd,bytes_bwd,app,sub_app,confidence,classifier,label,reason,end",
		fl->f);
	if (fl->p.truth)
		fputs(",truth_app,truth_sub_app", fl->f);
	if (fl->p.features)
		fputs(",pkt_sizes,pkt_dirs,pkt_iat_us", fl->f);
	if (fl->p.dataset)
		fputs(",dataset_pkts,dataset_bytes,dropped_pkts", fl->f);
	/* last, after the optional columns: columns are only ever added at the end */
	fputs(",tunnel,service", fl->f);
	fputc('\n', fl->f);
}

static int
open_file(struct dp_flows *fl, uint64_t ts_ns)
{
	if (fl->p.cyclic) {
		time_t s = (time_t)(ts_ns / NS_PER_S);
		struct tm tm;
		char when[32];
		gmtime_r(&s, &tm);
		strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(fl->cur_path, sizeof(fl->cur_path), "%s-%s%s", fl->base, when, fl->ext);
	} else {
		snprintf(fl->cur_path, sizeof(fl->cur_path), "%s", fl->p.path);
	}
	/* written as <name>.part and renamed when complete, as shards are: a file under its
	 * final name is never a crashed run's half (/dev/null and other non-files are used as is) */
	struct stat stt;
	fl->use_part = !(stat(fl->cur_path, &stt) == 0 && !S_ISREG(stt.st_mode));
	char part[4300];
	snprintf(part, sizeof(part), "%s%s", fl->cur_path, fl->use_part ? ".part" : "");
	fl->f = fopen(part, "w");
	if (!fl->f) {
		tide_error("dataplane", "cannot write %s: %s", part, strerror(errno));
		return -errno;
	}
	setvbuf(fl->f, fl->buf, _IOFBF, 1 << 20);
	write_header(fl);
	return 0;
}

static const char *const end_names[] = {"timeout", "closed", "evicted", "end", "classified"};

static int
write_summary(struct dp_flows *fl)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s.summary.csv", fl->cur_path);
	FILE *s = fopen(path, "w");
	if (!s)
		return -errno;
	/* packets, bytes: what the link carried in these sessions; dataset_*: what the shards
	 * hold of them (with shards only) */
	fputs(fl->p.dataset ? "app,group,sessions,packets,bytes,dataset_packets,dataset_bytes\n" :
		"app,group,sessions,packets,bytes\n", s);
	if (!fl->p.quiet)
		fprintf(stderr, "%-16s %-14s %10s %12s %14s\n", "app", "group", "sessions", "packets",
			"bytes");
	for (uint32_t a = 0; a < fl->n_apps; a++) {
		const struct app_count *c = &fl->apps[a];
		if (!c->sessions)
			continue;
		const char *name = fl->p.engine ? app_name(fl, (uint16_t)a) : "unclassified";
		const char *group = fl->p.engine ?
			cls_apps_group(cls_engine_apps(fl->p.engine), (uint16_t)a) : "";
		fprintf(s, "%s,%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64, name, group, c->sessions,
			c->packets, c->bytes);
		if (fl->p.dataset)
			fprintf(s, ",%" PRIu64 ",%" PRIu64, c->dataset_packets, c->dataset_bytes);
		fputc('\n', s);
		if (!fl->p.quiet)
			fprintf(stderr, "%-16s %-14s %10" PRIu64 " %12" PRIu64 " %14" PRIu64 "\n", name,
				group, c->sessions, c->packets, c->bytes);
	}
	return fclose(s) == 0 ? 0 : -errno;
}

/* <flows>.services.csv beside the per-application summary: the service mix of the same
 * sessions; the row "unknown" counts those without a service. */
static int
write_service_summary(struct dp_flows *fl)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s.services.csv", fl->cur_path);
	FILE *s = fopen(path, "w");
	if (!s)
		return -errno;
	fputs(fl->p.dataset ? "service,sessions,packets,bytes,dataset_packets,dataset_bytes\n" :
		"service,sessions,packets,bytes\n", s);
	for (uint32_t i = 0; i < fl->n_services; i++) {
		const struct app_count *c = &fl->services[i];
		if (!c->sessions)
			continue;
		fprintf(s, "%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64, i ?
			service_name(fl, (uint16_t)i) : "unknown", c->sessions, c->packets, c->bytes);
		if (fl->p.dataset)
			fprintf(s, ",%" PRIu64 ",%" PRIu64, c->dataset_packets, c->dataset_bytes);
		fputc('\n', s);
	}
	return fclose(s) == 0 ? 0 : -errno;
}

static int
close_file(struct dp_flows *fl)
{
	int rc = 0;
	if (!fl->f)
		return 0;
	if (fflush(fl->f) != 0 || ferror(fl->f))
		rc = -errno;
	if (fsync(fileno(fl->f)) != 0 && fl->use_part && rc == 0)
		rc = -errno;
	if (fclose(fl->f) != 0 && rc == 0)
		rc = -errno;
	fl->f = NULL;
	if (fl->use_part) {
		char part[4300];
		snprintf(part, sizeof(part), "%s.part", fl->cur_path);
		if (rc == 0 && rename(part, fl->cur_path) != 0)
			rc = -errno;
	}
	int src = write_summary(fl);
	int vrc = write_service_summary(fl);
	memset(fl->apps, 0, sizeof(*fl->apps) * fl->n_apps);
	memset(fl->services, 0, sizeof(*fl->services) * fl->n_services);
	return rc ? rc : src ? src : vrc;
}

struct dp_flows *
dp_flows_open(const struct dp_flows_params *p)
{
	struct dp_flows *fl = calloc(1, sizeof(*fl));
	if (!fl)
		return NULL;
	fl->p = *p;
	fl->n_apps = 65536;
	fl->apps = calloc(fl->n_apps, sizeof(*fl->apps));
	fl->n_services = (uint32_t)cls_services_max_id(p->engine ?
		cls_engine_services(p->engine) : NULL) + 1;
	fl->services = calloc(fl->n_services, sizeof(*fl->services));
	fl->buf = malloc(1 << 20);
	fl->anon = p->anon_key ? dp_anon_create(p->anon_key) : NULL;
	fl->p.anon_key = NULL; /* not kept: the mapping is */
	if (!fl->apps || !fl->services || !fl->buf || (p->anon_key && !fl->anon)) {
		dp_anon_free(fl->anon);
		free(fl->apps);
		free(fl->services);
		free(fl->buf);
		free(fl);
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&fl->mu, NULL);
	snprintf(fl->base, sizeof(fl->base), "%s", p->path);
	char *dot = strrchr(fl->base, '.');
	char *slash = strrchr(fl->base, '/');
	if (dot && (!slash || dot > slash)) {
		snprintf(fl->ext, sizeof(fl->ext), "%.15s", dot);
		*dot = '\0';
	} else {
		snprintf(fl->ext, sizeof(fl->ext), "%s", p->jsonl ? ".jsonl" : ".csv");
	}
	if (p->export) {
		char err[512];
		fl->exp = dp_export_open(p->export, 0, p->observation_domain, err, sizeof(err));
		if (!fl->exp)
			tide_error("dataplane", "%s", err);
		if (fl->exp && p->export->format == TIDE_EXPORT_JSON) {
			fl->json_mem = fmemopen(fl->json_buf, sizeof(fl->json_buf), "w");
			if (!fl->json_mem) {
				dp_export_close(fl->exp, 0, NULL);
				fl->exp = NULL;
			}
		}
	}
	if ((p->export && !fl->exp) || (!p->cyclic && open_file(fl, 0) != 0)) {
		int e = errno;
		dp_export_close(fl->exp, 0, NULL);
		if (fl->json_mem)
			fclose(fl->json_mem);
		dp_anon_free(fl->anon);
		free(fl->apps);
		free(fl->services);
		free(fl->buf);
		free(fl);
		errno = e ? e : EINVAL;
		return NULL;
	}
	fl->p.export = NULL; /* not kept: the exporter is */
	return fl;
}

/* A CSV record is assembled in a stack buffer with these appenders, not stdio's formatter:
 * one record per session ending, and vfprintf was a tenth of an offline classification run. */
struct out_buf {
	char *p, *end;
};

static inline void
ob_str(struct out_buf *b, const char *s)
{
	size_t n = strlen(s);
	if (n > (size_t)(b->end - b->p))
		n = (size_t)(b->end - b->p);
	memcpy(b->p, s, n);
	b->p += n;
}

static inline void
ob_chr(struct out_buf *b, char c)
{
	if (b->p < b->end)
		*b->p++ = c;
}

static inline void
ob_u64(struct out_buf *b, uint64_t v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && b->p < b->end)
		*b->p++ = tmp[--n];
}

/* seconds.nanoseconds, nine digits */
static inline void
ob_ts(struct out_buf *b, uint64_t ns)
{
	ob_u64(b, ns / NS_PER_S);
	ob_chr(b, '.');
	uint64_t f = ns % NS_PER_S;
	char tmp[9];
	for (int i = 8; i >= 0; i--) {
		tmp[i] = (char)('0' + f % 10);
		f /= 10;
	}
	for (int i = 0; i < 9; i++)
		ob_chr(b, tmp[i]);
}

static inline void
ob_csv(struct out_buf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		ob_str(b, s);
		return;
	}
	ob_chr(b, '"');
	for (; *s; s++) {
		if (*s == '"')
			ob_chr(b, '"');
		ob_chr(b, *s);
	}
	ob_chr(b, '"');
}

/* One record as a JSON object, no newline: the JSON Lines file and the json+ export share it. */
static void
write_json(const struct dp_flows *fl, FILE *f, const struct dp_flow_rec *r)
{
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], pbuf[8];
	addr_str(&r->key, r->key.src, src);
	addr_str(&r->key, r->key.dst, dst);
	const char *proto = proto_name(r->key.proto, pbuf);
	const char *classifier = fl->p.engine ? cls_engine_plugin_name(fl->p.engine, r->d.classifier) : "";
	const char *reason = r->d.app_id ? "" : cls_unknown_reasons[r->d.reason];
	const char *app = fl->p.engine ? app_name(fl, r->d.app_id) : "";
	const char *sub = sub_name(fl, r->d.app_id, r->d.sub_id);
	const char *tunnel = r->tunnel < DP_TUNNEL_MAX ? dp_tunnel_names[r->tunnel] : "";
	fprintf(f, "{\"flow_id\":%" PRIu64 ",\"proto\":\"%s\",\"src_ip\":\"%s\",\"src_port\":%u,"
		"\"dst_ip\":\"%s\",\"dst_port\":%u,\"first_ts\":%" PRIu64 ".%09" PRIu64
		",\"last_ts\":%" PRIu64 ".%09" PRIu64 ",\"pkts_fwd\":%u,\"bytes_fwd\":%" PRIu64
		",\"pkts_bwd\":%u,\"bytes_bwd\":%" PRIu64 ",\"app\":\"%s\",\"sub_app\":\"%s\","
		"\"confidence\":%u,\"classifier\":\"%s\",\"label\":",
		r->flow_id, proto, src, r->key.sport, dst, r->key.dport,
		r->first_ts / NS_PER_S, r->first_ts % NS_PER_S,
		r->last_ts / NS_PER_S, r->last_ts % NS_PER_S, r->pkts[0], r->bytes[0],
		r->pkts[1], r->bytes[1], app, sub, r->d.confidence, classifier);
	json_str(f, r->label);
	fprintf(f, ",\"reason\":\"%s\",\"end\":\"%s\"", reason, end_names[r->end]);
	if (fl->p.truth)
		fprintf(f, ",\"truth_app\":\"%s\",\"truth_sub_app\":\"%s\"",
			r->has_truth ? app_name(fl, r->truth_app) : "",
			r->has_truth ? sub_name(fl, r->truth_app, r->truth_sub) : "");
	if (fl->p.features) {
		fputs(",\"pkt_sizes\":[", f);
		for (unsigned int i = 0; i < r->n_feat; i++)
			fprintf(f, "%s%d", i ? "," : "", r->dirs[i] ? -(int)r->sizes[i] : r->sizes[i]);
		fputs("],\"pkt_dirs\":[", f);
		for (unsigned int i = 0; i < r->n_feat; i++)
			fprintf(f, "%s%u", i ? "," : "", r->dirs[i]);
		fputs("],\"pkt_iat_us\":[", f);
		for (unsigned int i = 0; i < r->n_feat; i++)
			fprintf(f, "%s%u", i ? "," : "", r->iat_us[i]);
		fputc(']', f);
	}
	if (fl->p.dataset)
		fprintf(f, ",\"dataset_pkts\":%u,\"dataset_bytes\":%" PRIu64
			",\"dropped_pkts\":%u", r->dataset_pkts, r->dataset_bytes, r->dropped_pkts);
	fprintf(f, ",\"tunnel\":\"%s\",\"service\":\"%s\"}", tunnel,
		service_name(fl, r->d.service_id));
}

static void
write_record(struct dp_flows *fl, const struct dp_flow_rec *r)
{
	if (fl->p.jsonl) {
		write_json(fl, fl->f, r);
		fputc('\n', fl->f);
		return;
	}
	char src[INET6_ADDRSTRLEN], dst[INET6_ADDRSTRLEN], pbuf[8];
	FILE *f = fl->f;
	addr_str(&r->key, r->key.src, src);
	addr_str(&r->key, r->key.dst, dst);
	const char *proto = proto_name(r->key.proto, pbuf);
	const char *classifier = fl->p.engine ? cls_engine_plugin_name(fl->p.engine, r->d.classifier) : "";
	const char *reason = r->d.app_id ? "" : cls_unknown_reasons[r->d.reason];
	const char *app = fl->p.engine ? app_name(fl, r->d.app_id) : "";
	const char *sub = sub_name(fl, r->d.app_id, r->d.sub_id);
	const char *tunnel = r->tunnel < DP_TUNNEL_MAX ? dp_tunnel_names[r->tunnel] : "";
	char buf[2048];
	struct out_buf o = {buf, buf + sizeof(buf)};
	ob_u64(&o, r->flow_id);
	ob_chr(&o, ',');
	ob_str(&o, proto);
	ob_chr(&o, ',');
	ob_str(&o, src);
	ob_chr(&o, ',');
	ob_u64(&o, r->key.sport);
	ob_chr(&o, ',');
	ob_str(&o, dst);
	ob_chr(&o, ',');
	ob_u64(&o, r->key.dport);
	ob_chr(&o, ',');
	ob_ts(&o, r->first_ts);
	ob_chr(&o, ',');
	ob_ts(&o, r->last_ts);
	for (int d = 0; d < 2; d++) {
		ob_chr(&o, ',');
		ob_u64(&o, r->pkts[d]);
		ob_chr(&o, ',');
		ob_u64(&o, r->bytes[d]);
	}
	ob_chr(&o, ',');
	ob_str(&o, app);
	ob_chr(&o, ',');
	ob_str(&o, sub);
	ob_chr(&o, ',');
	ob_u64(&o, r->d.confidence);
	ob_chr(&o, ',');
	ob_str(&o, classifier);
	ob_chr(&o, ',');
	ob_csv(&o, r->label);
	ob_chr(&o, ',');
	ob_str(&o, reason);
	ob_chr(&o, ',');
	ob_str(&o, end_names[r->end]);
	if (fl->p.truth) {
		ob_chr(&o, ',');
		ob_str(&o, r->has_truth ? app_name(fl, r->truth_app) : "");
		ob_chr(&o, ',');
		ob_str(&o, r->has_truth ? sub_name(fl, r->truth_app, r->truth_sub) : "");
	}
	if (fl->p.features) {
		ob_chr(&o, ',');
		for (unsigned int i = 0; i < r->n_feat; i++) {
			if (i)
				ob_chr(&o, ';');
			if (r->dirs[i] && r->sizes[i])
				ob_chr(&o, '-');
			ob_u64(&o, r->sizes[i]);
		}
		ob_chr(&o, ',');
		for (unsigned int i = 0; i < r->n_feat; i++) {
			if (i)
				ob_chr(&o, ';');
			ob_chr(&o, r->dirs[i] ? '1' : '0'); /* 0: from src, 1: to src */
		}
		ob_chr(&o, ',');
		for (unsigned int i = 0; i < r->n_feat; i++) {
			if (i)
				ob_chr(&o, ';');
			ob_u64(&o, r->iat_us[i]);
		}
	}
	if (fl->p.dataset) {
		ob_chr(&o, ',');
		ob_u64(&o, r->dataset_pkts);
		ob_chr(&o, ',');
		ob_u64(&o, r->dataset_bytes);
		ob_chr(&o, ',');
		ob_u64(&o, r->dropped_pkts);
	}
	ob_chr(&o, ',');
	ob_str(&o, tunnel);
	ob_chr(&o, ',');
	ob_str(&o, service_name(fl, r->d.service_id));
	ob_chr(&o, '\n');
	fwrite(buf, 1, (size_t)(o.p - buf), f);
}

static void
rotate_locked(struct dp_flows *fl, uint64_t now_ns)
{
	uint64_t iv = fl->p.interval_ns;
	uint64_t start = now_ns - now_ns % iv;
	if (fl->f && start <= fl->interval_start)
		return;
	close_file(fl);
	fl->interval_start = start;
	open_file(fl, start);
}

void
dp_flows_tick(struct dp_flows *fl, uint64_t now_ns)
{
	if (!fl->p.cyclic)
		return;
	pthread_mutex_lock(&fl->mu);
	rotate_locked(fl, now_ns);
	pthread_mutex_unlock(&fl->mu);
}

/* Hand the record to the exporter thread (under mu: json_mem is shared). */
static void
export_record(struct dp_flows *fl, const struct dp_flow_rec *rec)
{
	size_t json_len = 0;
	if (fl->json_mem) {
		rewind(fl->json_mem);
		write_json(fl, fl->json_mem, rec);
		long at = ftell(fl->json_mem);
		/* a record longer than the buffer is cut: send none rather than broken JSON */
		if (fflush(fl->json_mem) != 0 || at <= 0 || (size_t)at >= sizeof(fl->json_buf) - 1)
			at = 0;
		json_len = (size_t)at;
	}
	struct dp_export_names names = {
		.app = fl->p.engine ? app_name(fl, rec->d.app_id) : "",
		.sub = sub_name(fl, rec->d.app_id, rec->d.sub_id),
		.classifier = fl->p.engine ? cls_engine_plugin_name(fl->p.engine, rec->d.classifier)
			: "",
		.service = service_name(fl, rec->d.service_id),
	};
	dp_export_push(fl->exp, rec, &names, fl->json_buf, json_len);
}

void
dp_flows_emit(void *arg, const struct dp_flow_rec *rec)
{
	struct dp_flows *fl = arg;
	struct dp_flow_rec anon_rec;
	pthread_mutex_lock(&fl->mu);
	if (fl->anon) {
		/* a dataset of anonymised packets has anonymised flow records: the same mapping */
		anon_rec = *rec;
		if (rec->key.family == 4) {
			dp_anon_ip4(fl->anon, anon_rec.key.src);
			dp_anon_ip4(fl->anon, anon_rec.key.dst);
		} else if (rec->key.family == 6) {
			dp_anon_ip6(fl->anon, anon_rec.key.src);
			dp_anon_ip6(fl->anon, anon_rec.key.dst);
		}
		rec = &anon_rec;
	}
	if (fl->p.cyclic && !fl->f)
		rotate_locked(fl, rec->last_ts);
	if (fl->f) {
		write_record(fl, rec);
		struct app_count *c = &fl->apps[rec->d.app_id];
		c->sessions++;
		c->packets += (uint64_t)rec->pkts[0] + rec->pkts[1];
		c->bytes += rec->bytes[0] + rec->bytes[1];
		c->dataset_packets += rec->dataset_pkts;
		c->dataset_bytes += rec->dataset_bytes;
		if (rec->d.service_id < fl->n_services) {
			c = &fl->services[rec->d.service_id];
			c->sessions++;
			c->packets += (uint64_t)rec->pkts[0] + rec->pkts[1];
			c->bytes += rec->bytes[0] + rec->bytes[1];
			c->dataset_packets += rec->dataset_pkts;
			c->dataset_bytes += rec->dataset_bytes;
		}
		fl->records++;
	}
	if (fl->exp)
		export_record(fl, rec);
	pthread_mutex_unlock(&fl->mu);
}

int
dp_flows_close_export(struct dp_flows *fl, struct dp_export_stats *xs)
{
	struct dp_export_stats none;
	if (!xs)
		xs = &none;
	memset(xs, 0, sizeof(*xs));
	if (!fl)
		return 0;
	int rc = close_file(fl);
	if (rc)
		tide_error("dataplane", "writing %s: %s", fl->cur_path, strerror(-rc));
	/* the collector gets a few seconds to take what is queued; what it does not is counted */
	dp_export_close(fl->exp, EXPORT_DRAIN_MS, xs);
	if (fl->json_mem)
		fclose(fl->json_mem);
	pthread_mutex_destroy(&fl->mu);
	dp_anon_free(fl->anon);
	free(fl->apps);
	free(fl->services);
	free(fl->buf);
	free(fl);
	return rc;
}

int
dp_flows_close(struct dp_flows *fl)
{
	return dp_flows_close_export(fl, NULL);
}

uint64_t
dp_flows_records(const struct dp_flows *fl)
{
	return fl ? fl->records : 0;
}
