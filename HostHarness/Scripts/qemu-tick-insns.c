// QEMU TCG plugin for `make firmware-budget`: counts the guest instructions of every control-loop
// tick of the Cortex-M4F image, exactly (an inline add per executed instruction).
//
// A tick is the stretch from the first instruction of the image's `begin` marker function to the
// first instruction of its `end` marker (the bench calls them right before and after
// `ControlLoop.tick`, so a tick's count includes the few instructions of the two marker calls).
// Ticks are numbered from 0 in the order they run; tick k runs the 10 ms, 100 ms and 1 s slots
// when k is a multiple of 10, 100 and 1000 (Firmware/ControlLoop/Schedule.swift).
//
// Debian's qemu-system-arm 7.2 is built with plugin support but no Debian package ships
// <qemu/qemu-plugin.h> for it (Docs/firmware-budget.md), so the few functions of the plugin API
// (version 1, QEMU 7.x) this file uses are declared here.
//
// With `profile=FILE` it also writes how often each instruction address below 256 KiB (the
// image's flash) ran, as `address count` lines, for a per-function profile.
//
// Build: cc -shared -fPIC -O2 -o qemu-tick-insns.so qemu-tick-insns.c
// Use:   qemu-system-arm ... -plugin ./qemu-tick-insns.so,begin=0xADDR,end=0xADDR,outfile=FILE[,profile=FILE]
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// ---- QEMU plugin API, version 1 (include/qemu/qemu-plugin.h of QEMU 7.2) ----
typedef uint64_t qemu_plugin_id_t;
typedef struct qemu_info_t qemu_info_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };
typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t, struct qemu_plugin_tb *);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t, void *userdata);
void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t, qemu_plugin_vcpu_tb_trans_cb_t);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t, qemu_plugin_udata_cb_t, void *);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *, size_t);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *);
void qemu_plugin_register_vcpu_insn_exec_inline(struct qemu_plugin_insn *, enum qemu_plugin_op, void *, uint64_t);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *, qemu_plugin_vcpu_udata_cb_t,
                                            enum qemu_plugin_cb_flags, void *);
void qemu_plugin_outs(const char *);
__attribute__((visibility("default"))) int qemu_plugin_version = 1;
// ---- end of the API ----

static uint64_t executed;              // every guest instruction, incremented inline
static uint64_t begin_address, end_address;
static char outfile[512], profile[512];
#define PROFILED_BYTES 0x40000u
static uint64_t *counts;               // per halfword address, with profile=

static uint64_t started_at;            // `executed` at the open tick's begin marker
static int open;                       // inside a tick
static uint64_t ticks, sum, first;
static uint64_t worst, worst_index;    // over ticks 1...; tick 0 also starts every estimator filter
// Per slot class of the tick: 0 = 1 ms only, 1 = up to 10 ms, 2 = up to 100 ms, 3 = every slot.
static uint64_t class_count[4], class_sum[4], class_max[4];

static void begin(unsigned int vcpu, void *udata) {
    (void)vcpu; (void)udata;
    started_at = executed;
    open = 1;
}

static void end(unsigned int vcpu, void *udata) {
    (void)vcpu; (void)udata;
    if (!open) return;
    open = 0;
    uint64_t n = executed - started_at, k = ticks++;
    sum += n;
    if (k == 0) first = n;
    else if (n > worst) { worst = n; worst_index = k; }
    int c = k % 1000 == 0 ? 3 : k % 100 == 0 ? 2 : k % 10 == 0 ? 1 : 0;
    class_count[c]++;
    class_sum[c] += n;
    if (n > class_max[c]) class_max[c] = n;
}

static void translated(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    size_t n = qemu_plugin_tb_n_insns(tb);
    for (size_t i = 0; i < n; i++) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint64_t pc = qemu_plugin_insn_vaddr(insn);
        if (pc == begin_address) qemu_plugin_register_vcpu_insn_exec_cb(insn, begin, QEMU_PLUGIN_CB_NO_REGS, NULL);
        if (pc == end_address) qemu_plugin_register_vcpu_insn_exec_cb(insn, end, QEMU_PLUGIN_CB_NO_REGS, NULL);
        qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &executed, 1);
        if (counts && pc < PROFILED_BYTES)
            qemu_plugin_register_vcpu_insn_exec_inline(insn, QEMU_PLUGIN_INLINE_ADD_U64, &counts[pc >> 1], 1);
    }
}

static void finished(qemu_plugin_id_t id, void *udata) {
    (void)id; (void)udata;
    static const char *names[4] = {"1ms", "10ms", "100ms", "1s"};
    char text[1024];
    int at = snprintf(text, sizeof text,
                      "insns_total=%" PRIu64 "\nticks=%" PRIu64 "\ntick_insns_sum=%" PRIu64 "\ntick_insns_first=%" PRIu64
                      "\ntick_insns_worst=%" PRIu64 "\ntick_insns_worst_index=%" PRIu64 "\n",
                      executed, ticks, sum, first, worst, worst_index);
    for (int c = 0; c < 4 && at > 0 && at < (int)sizeof text; c++)
        at += snprintf(text + at, sizeof text - at, "slots_%s_ticks=%" PRIu64 "\nslots_%s_sum=%" PRIu64 "\nslots_%s_max=%" PRIu64 "\n",
                       names[c], class_count[c], names[c], class_sum[c], names[c], class_max[c]);
    FILE *f = outfile[0] ? fopen(outfile, "w") : NULL;
    if (f) { fputs(text, f); fclose(f); }
    else qemu_plugin_outs(text);
    if (counts && (f = fopen(profile, "w"))) {
        for (uint32_t i = 0; i < PROFILED_BYTES / 2; i++)
            if (counts[i]) fprintf(f, "%" PRIx32 " %" PRIu64 "\n", i << 1, counts[i]);
        fclose(f);
    }
}

__attribute__((visibility("default")))
int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info, int argc, char **argv) {
    (void)info;
    for (int i = 0; i < argc; i++) {
        // Thumb function symbols carry bit 0; instruction addresses do not.
        if (strncmp(argv[i], "begin=", 6) == 0) begin_address = strtoull(argv[i] + 6, NULL, 0) & ~1ull;
        else if (strncmp(argv[i], "end=", 4) == 0) end_address = strtoull(argv[i] + 4, NULL, 0) & ~1ull;
        else if (strncmp(argv[i], "outfile=", 8) == 0) snprintf(outfile, sizeof outfile, "%s", argv[i] + 8);
        else if (strncmp(argv[i], "profile=", 8) == 0) {
            snprintf(profile, sizeof profile, "%s", argv[i] + 8);
            counts = calloc(PROFILED_BYTES / 2, sizeof *counts);
        }
        else { fprintf(stderr, "qemu-tick-insns: unknown argument %s\n", argv[i]); return -1; }
    }
    if (begin_address == 0 || end_address == 0) { fprintf(stderr, "qemu-tick-insns: begin= and end= are needed\n"); return -1; }
    qemu_plugin_register_vcpu_tb_trans_cb(id, translated);
    qemu_plugin_register_atexit_cb(id, finished, NULL);
    return 0;
}
