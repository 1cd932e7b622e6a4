// Startup code for QEMU's mps2-an386 (Cortex-M4F): the vector table and a reset handler that
// copies .data, zeroes .bss, paints the free RAM below the stack (to measure the stack's peak),
// enables the FPU, runs the Swift entry point and exits QEMU through semihosting with its return code.
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

// The non-volatile store's memory (link.ld's .flash_emulation: flash on a real board, NOLOAD).
// The section needs a symbol in it to exist; the bench erases it before it starts.
__attribute__((section(".flash_emulation"), used)) uint32_t bms_flash_emulation[1024];

int bms_main(uint32_t ticks, uint32_t *store, uint32_t store_words);   // Swift, @c(bms_main)
uint32_t semihost_number_argument(uint32_t fallback);
void semihost_write0(const char *s);
__attribute__((noreturn)) void semihost_exit(int code);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)
#define STACK_PAINT 0x5AFE5AFEu

/// The deepest the stack has reached (bytes below its top): the first painted word, from the end
/// of .bss upwards, that was overwritten.
uint32_t bms_stack_peak_bytes(void) {
    uint32_t *p = &_ebss;
    while (p < &_estack && *p == STACK_PAINT) p++;
    return (uint32_t)((char *)&_estack - (char *)p);
}

__attribute__((noreturn)) void Reset_Handler(void) {
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    uint32_t *sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    for (dst = &_ebss; dst < sp - 16;) *dst++ = STACK_PAINT;   // leave this frame alone
#if defined(__ARM_FP)
    SCB_CPACR |= 0xFu << 20;                   // CP10/CP11 full access: enable the FPU
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    int code = bms_main(semihost_number_argument(10000), bms_flash_emulation,
                        sizeof bms_flash_emulation / sizeof bms_flash_emulation[0]);
    // The deepest the stack went over the run: what the 16 KiB reserve of link.ld must hold.
    char line[40] = "stack_peak_bytes=", *end = line + 17;
    uint32_t peak = bms_stack_peak_bytes(), digits = 1;
    for (uint32_t v = peak; v >= 10; v /= 10) digits++;
    for (uint32_t k = digits, v = peak; k > 0; k--, v /= 10) end[k - 1] = (char)('0' + v % 10);
    end[digits] = '\n';
    end[digits + 1] = 0;
    semihost_write0(line);
    semihost_exit(code);
}

__attribute__((noreturn)) void Fault_Handler(void) {
    semihost_write0("FAULT\n");
    semihost_exit(99);
}

__attribute__((section(".isr_vector"), used))
const void *const vector_table[16] = {
    &_estack,        // initial stack pointer
    Reset_Handler,   // reset
    Fault_Handler,   // NMI
    Fault_Handler,   // HardFault
    Fault_Handler,   // MemManage
    Fault_Handler,   // BusFault
    Fault_Handler,   // UsageFault
    0, 0, 0, 0,
    Fault_Handler,   // SVCall
    Fault_Handler,   // DebugMon
    0,
    Fault_Handler,   // PendSV
    Fault_Handler,   // SysTick
};
