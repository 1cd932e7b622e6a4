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

void *memset(void *d, int c, size_t n) {
    unsigned char *p = d;
    while (n--) *p++ = (unsigned char)c;
    return d;
}
void *memcpy(void *restrict d, const void *restrict s, size_t n) {
    unsigned char *p = d;
    const unsigned char *q = s;
    while (n--) *p++ = *q++;
    return d;
}
void *memmove(void *d, const void *s, size_t n) {
    unsigned char *p = d;
    const unsigned char *q = s;
    if (p < q) { while (n--) *p++ = *q++; }
    else { p += n; q += n; while (n--) *--p = *--q; }
    return d;
}
int memcmp(const void *a, const void *b, size_t n) {
    const unsigned char *p = a, *q = b;
    for (; n; n--, p++, q++) if (*p != *q) return *p - *q;
    return 0;
}

// ARM run-time ABI memory helpers (note the argument order of __aeabi_memset).
void __aeabi_memcpy(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy4(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memcpy8(void *d, const void *s, size_t n) { memcpy(d, s, n); }
void __aeabi_memmove(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove4(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memmove8(void *d, const void *s, size_t n) { memmove(d, s, n); }
void __aeabi_memset(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset4(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memset8(void *d, size_t n, int c) { memset(d, c, n); }
void __aeabi_memclr(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr4(void *d, size_t n) { memset(d, 0, n); }
void __aeabi_memclr8(void *d, size_t n) { memset(d, 0, n); }
