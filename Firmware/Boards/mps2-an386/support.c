// The few C-level symbols the Embedded Swift image needs without a C library: putchar (for
// Swift's print, over ARM semihosting), memset/memcpy/memmove/memcmp and the ARM EABI aliases
// LLVM lowers struct copies to, and the semihosting calls QEMU understands.
// Built with -ffreestanding -fno-builtin so the byte loops are not turned back into calls.
#include <stddef.h>
#include <stdint.h>

static inline int semihost(int op, void *arg) {
    register int r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

#define SYS_WRITE0 0x04
#define SYS_GET_CMDLINE 0x15
#define SYS_EXIT_EXTENDED 0x20

void semihost_write0(const char *s) { semihost(SYS_WRITE0, (void *)s); }

// SYS_EXIT_EXTENDED carries the exit code (plain SYS_EXIT on AArch32 only knows success/failure).
__attribute__((noreturn)) void semihost_exit(int code) {
    uint32_t block[2] = {0x20026u /* ADP_Stopped_ApplicationExit */, (uint32_t)code};
    semihost(SYS_EXIT_EXTENDED, block);
    for (;;) {}
}

// The last whole number on the semihosting command line (QEMU's -append), or `fallback`.
uint32_t semihost_number_argument(uint32_t fallback) {
    static char buf[128];
    struct { char *p; int len; } block = {buf, sizeof buf - 1};
    if (semihost(SYS_GET_CMDLINE, &block) != 0) return fallback;
    buf[block.len < 0 ? 0 : block.len] = 0;
    const char *last = 0;
    for (const char *c = buf; *c; c++)
        if ((c == buf || c[-1] == ' ') && *c >= '0' && *c <= '9') last = c;
    if (!last) return fallback;
    uint32_t n = 0;
    while (*last >= '0' && *last <= '9') n = n * 10 + (uint32_t)(*last++ - '0');
    return n;
}

// Line-buffered putchar over SYS_WRITE0.
static char line[128];
static unsigned position;
int putchar(int c) {
    line[position++] = (char)c;
    if (c == '\n' || position == sizeof line - 1) {
        line[position] = 0;
        semihost_write0(line);
        position = 0;
    }
    return c & 0xff;
}

// Struct copies are the bulk of what an Embedded Swift image moves, so memcpy and memset work a
// word (4 bytes, 16 per round) at a time when both ends are word-aligned, and a byte at a time
// otherwise (a byte loop made copies cost ~4 instructions per byte).
static void copy_words(uint32_t *d, const uint32_t *s, size_t n) {
    while (n >= 16) {
        uint32_t a = s[0], b = s[1], c = s[2], e = s[3];
        d[0] = a; d[1] = b; d[2] = c; d[3] = e;
        d += 4; s += 4; n -= 16;
    }
    while (n >= 4) { *d++ = *s++; n -= 4; }
    unsigned char *p = (unsigned char *)d;
    const unsigned char *q = (const unsigned char *)s;
    while (n--) *p++ = *q++;
}

static void set_words(uint32_t *d, unsigned char c, size_t n) {
    uint32_t w = c * 0x01010101u;
    while (n >= 16) { d[0] = w; d[1] = w; d[2] = w; d[3] = w; d += 4; n -= 16; }
    while (n >= 4) { *d++ = w; n -= 4; }
    unsigned char *p = (unsigned char *)d;
    while (n--) *p++ = c;
}

void *memset(void *d, int c, size_t n) {
    unsigned char *p = d;
    if (((uintptr_t)p & 3) == 0) { set_words(d, (unsigned char)c, n); return d; }
    while (n--) *p++ = (unsigned char)c;
    return d;
}
void *memcpy(void *restrict d, const void *restrict s, size_t n) {
    if ((((uintptr_t)d | (uintptr_t)s) & 3) == 0) { copy_words(d, s, n); return d; }
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--) *p++ = *q++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    unsigned char *p = d;
    const unsigned char *q = s;
    if (p < q || p >= q + n) return memcpy(d, s, n);   // no overlap that a forward copy would spoil
    p += n; q += n; while (n--) *--p = *--q;
    return d;
}
int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *p = a, *q = b;
    for (; n; n--, p++, q++) if (*p != *q) return *p - *q;
    return 0;
}

// ARM run-time ABI memory helpers (note the argument order of __aeabi_memset).
void __aeabi_memcpy(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy4(void *d, const void *s, size_t n) { copy_words(d, s, n); }
void __aeabi_memcpy8(void *d, const void *s, size_t n) { copy_words(d, s, n); }
void __aeabi_memmove(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove4(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove8(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memset(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset4(void *d, size_t n, int c) { set_words(d, (unsigned char)c, n); }
void __aeabi_memset8(void *d, size_t n, int c) { set_words(d, (unsigned char)c, n); }
void __aeabi_memclr(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr4(void *d, size_t n) { set_words(d, 0, n); }
void __aeabi_memclr8(void *d, size_t n) { set_words(d, 0, n); }
