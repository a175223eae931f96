/* dp_bpf.c — cBPF → eBPF conversion (see dp_bpf.h). Two passes: the first sizes each cBPF
 * instruction's translation (fixed per kind) to know where every cBPF instruction starts, the
 * second emits with the jump offsets resolved. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_mbuf.h>

#include "dp_bpf.h"

#define R_A 0
#define R_CTX_ARG 1
#define R_CTX 6
#define R_X 7
#define R_TMP 8
#define R_FP 10

#define INS(c, d, s, o, i) ((struct ebpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

struct emitter {
	struct ebpf_insn *out; /* NULL in the sizing pass */
	uint32_t n;
};

static void
put(struct emitter *e, struct ebpf_insn in)
{
	if (e->out)
		e->out[e->n] = in;
	e->n++;
}

static int16_t
scratch_off(uint32_t k)
{
	return (int16_t)(-4 * (int)(k + 1));
}

/* eBPF jump op for a cBPF conditional */
static uint8_t
jop(uint16_t code)
{
	switch (BPF_OP(code)) {
	case BPF_JEQ: return BPF_JEQ;
	case BPF_JGT: return BPF_JGT;
	case BPF_JGE: return BPF_JGE;
	default: return BPF_JSET;
	}
}

/* Translate instruction i. start[] maps cBPF indexes to eBPF indexes (valid in pass 2). */
static int
translate(struct emitter *e, const struct bpf_insn *f, uint32_t i, uint32_t len,
	const uint32_t *start, char *err, size_t errlen)
{
	const struct bpf_insn *in = &f[i];
	uint16_t code = in->code;
	uint32_t k = in->k;
	int32_t kk = (int32_t)k;

	switch (BPF_CLASS(code)) {
	case BPF_LD:
		switch (BPF_MODE(code)) {
		case BPF_ABS:
			put(e, INS(BPF_LD | BPF_ABS | BPF_SIZE(code), 0, 0, 0, kk));
			return 0;
		case BPF_IND:
			put(e, INS(BPF_LD | BPF_IND | BPF_SIZE(code), 0, R_X, 0, kk));
			return 0;
		case BPF_LEN:
			put(e, INS(BPF_LDX | BPF_MEM | BPF_W, R_A, R_CTX, offsetof(struct rte_mbuf, pkt_len), 0));
			return 0;
		case BPF_IMM:
			put(e, INS(BPF_ALU | EBPF_MOV | BPF_K, R_A, 0, 0, kk));
			return 0;
		case BPF_MEM:
			if (k >= BPF_MEMWORDS)
				break;
			put(e, INS(BPF_LDX | BPF_MEM | BPF_W, R_A, R_FP, scratch_off(k), 0));
			return 0;
		}
		break;
	case BPF_LDX:
		switch (BPF_MODE(code)) {
		case BPF_IMM:
			put(e, INS(BPF_ALU | EBPF_MOV | BPF_K, R_X, 0, 0, kk));
			return 0;
		case BPF_LEN:
			put(e, INS(BPF_LDX | BPF_MEM | BPF_W, R_X, R_CTX, offsetof(struct rte_mbuf, pkt_len), 0));
			return 0;
		case BPF_MEM:
			if (k >= BPF_MEMWORDS)
				break;
			put(e, INS(BPF_LDX | BPF_MEM | BPF_W, R_X, R_FP, scratch_off(k), 0));
			return 0;
		case BPF_MSH:
			/* X = 4 * (pkt[k] & 0xf); the byte load lands in R0, so A is parked */
			put(e, INS(EBPF_ALU64 | EBPF_MOV | BPF_X, R_TMP, R_A, 0, 0));
			put(e, INS(BPF_LD | BPF_ABS | BPF_B, 0, 0, 0, kk));
			put(e, INS(BPF_ALU | BPF_AND | BPF_K, R_A, 0, 0, 0xf));
			put(e, INS(BPF_ALU | BPF_LSH | BPF_K, R_A, 0, 0, 2));
			put(e, INS(BPF_ALU | EBPF_MOV | BPF_X, R_X, R_A, 0, 0));
			put(e, INS(EBPF_ALU64 | EBPF_MOV | BPF_X, R_A, R_TMP, 0, 0));
			return 0;
		}
		break;
	case BPF_ST:
	case BPF_STX:
		if (k >= BPF_MEMWORDS)
			break;
		put(e, INS(BPF_STX | BPF_MEM | BPF_W, R_FP, BPF_CLASS(code) == BPF_ST ? R_A : R_X,
			scratch_off(k), 0));
		return 0;
	case BPF_ALU: {
		uint8_t op = BPF_OP(code);
		if (op == BPF_NEG) {
			put(e, INS(BPF_ALU | BPF_NEG, R_A, 0, 0, 0));
			return 0;
		}
		if (op != BPF_ADD && op != BPF_SUB && op != BPF_MUL && op != BPF_DIV && op != BPF_OR &&
			op != BPF_AND && op != BPF_LSH && op != BPF_RSH && op != BPF_MOD && op != BPF_XOR)
			break;
		if (BPF_SRC(code) == BPF_X) {
			put(e, INS(BPF_ALU | op | BPF_X, R_A, R_X, 0, 0));
		} else {
			if ((op == BPF_DIV || op == BPF_MOD) && k == 0) {
				/* libpcap refuses this at compile time; be safe anyway: reject */
				put(e, INS(BPF_ALU | EBPF_MOV | BPF_K, R_A, 0, 0, 0));
				put(e, INS(BPF_JMP | EBPF_EXIT, 0, 0, 0, 0));
				return 0;
			}
			/* the constant through a register: 32-bit ops on a zero-extended value */
			put(e, INS(BPF_ALU | EBPF_MOV | BPF_K, R_TMP, 0, 0, kk));
			put(e, INS(BPF_ALU | op | BPF_X, R_A, R_TMP, 0, 0));
		}
		return 0;
	}
	case BPF_JMP: {
		if (BPF_OP(code) == BPF_JA) {
			uint32_t t = i + 1 + k;
			if (t >= len)
				break;
			put(e, INS(BPF_JMP | BPF_JA, 0, 0,
				(int16_t)(start ? (int32_t)start[t] - (int32_t)(e->n + 1) : 0), 0));
			return 0;
		}
		uint8_t op = jop(code);
		if (BPF_OP(code) != BPF_JEQ && BPF_OP(code) != BPF_JGT && BPF_OP(code) != BPF_JGE &&
			BPF_OP(code) != BPF_JSET)
			break;
		uint32_t t = i + 1 + in->jt, fl = i + 1 + in->jf;
		if (t >= len || fl >= len)
			break;
		uint8_t src = R_X;
		if (BPF_SRC(code) == BPF_K) {
			/* zero-extended into a register: an imm32 would be sign-extended to 64 bits
			 * and break unsigned compares, and JSET-with-immediate is what DPDK's JIT
			 * mis-encodes */
			put(e, INS(BPF_ALU | EBPF_MOV | BPF_K, R_TMP, 0, 0, kk));
			src = R_TMP;
		}
		put(e, INS(BPF_JMP | op | BPF_X, R_A, src,
			(int16_t)(start ? (int32_t)start[t] - (int32_t)(e->n + 1) : 0), 0));
		if (in->jf) /* fall-through is the false branch when jf == 0 */
			put(e, INS(BPF_JMP | BPF_JA, 0, 0,
				(int16_t)(start ? (int32_t)start[fl] - (int32_t)(e->n + 1) : 0), 0));
		return 0;
	}
	case BPF_RET:
		if (BPF_RVAL(code) == BPF_K)
			put(e, INS(BPF_ALU | EBPF_MOV | BPF_K, R_A, 0, 0, kk));
		else if (BPF_RVAL(code) == BPF_X)
			put(e, INS(BPF_ALU | EBPF_MOV | BPF_X, R_A, R_X, 0, 0));
		put(e, INS(BPF_JMP | EBPF_EXIT, 0, 0, 0, 0));
		return 0;
	case BPF_MISC:
		if (BPF_MISCOP(code) == BPF_TAX) {
			put(e, INS(BPF_ALU | EBPF_MOV | BPF_X, R_X, R_A, 0, 0));
			return 0;
		}
		if (BPF_MISCOP(code) == BPF_TXA) {
			put(e, INS(BPF_ALU | EBPF_MOV | BPF_X, R_A, R_X, 0, 0));
			return 0;
		}
		break;
	}
	snprintf(err, errlen, "unsupported cBPF instruction %u (code 0x%04x)", i, code);
	return -1;
}

struct rte_bpf_prm *
dp_bpf_convert(const struct bpf_program *prog, char *err, size_t errlen)
{
	uint32_t len = prog->bf_len;
	const struct bpf_insn *f = prog->bf_insns;
	if (len == 0 || len > 4096 /* BPF_MAXINSNS */) {
		snprintf(err, errlen, "empty or oversized cBPF program (%u instructions)", len);
		return NULL;
	}
	uint32_t *start = malloc(sizeof(uint32_t) * (len + 1));
	if (!start) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	/* prologue: the mbuf argument to the LD_ABS context register; A = X = 0 */
	struct emitter e = {.out = NULL, .n = 3};
	for (uint32_t i = 0; i < len; i++) {
		start[i] = e.n;
		if (translate(&e, f, i, len, NULL, err, errlen) != 0) {
			free(start);
			return NULL;
		}
	}
	start[len] = e.n;
	if (e.n > INT16_MAX) {
		snprintf(err, errlen, "program too long once converted");
		free(start);
		return NULL;
	}
	struct rte_bpf_prm *prm = calloc(1, sizeof(*prm) + sizeof(struct ebpf_insn) * e.n);
	if (!prm) {
		free(start);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	struct ebpf_insn *ins = (struct ebpf_insn *)(prm + 1);
	e.out = ins;
	e.n = 0;
	put(&e, INS(EBPF_ALU64 | EBPF_MOV | BPF_X, R_CTX, R_CTX_ARG, 0, 0));
	put(&e, INS(BPF_ALU | EBPF_MOV | BPF_K, R_A, 0, 0, 0));
	put(&e, INS(BPF_ALU | EBPF_MOV | BPF_K, R_X, 0, 0, 0));
	for (uint32_t i = 0; i < len; i++)
		translate(&e, f, i, len, start, err, errlen);
	free(start);
	prm->ins = ins;
	prm->nb_ins = e.n;
	prm->prog_arg.type = RTE_BPF_ARG_PTR_MBUF;
	prm->prog_arg.size = sizeof(struct rte_mbuf);
	prm->prog_arg.buf_size = RTE_MBUF_DEFAULT_BUF_SIZE;
	return prm;
}
