// Startup code for QEMU's mps2-an386 (Cortex-M4F): the vector table and a reset handler that
// copies .data, zeroes .bss, enables the FPU, runs the Swift entry point and exits QEMU through
// semihosting with its return code.
#include <stdint.h>

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;

int bms_main(uint32_t ticks);                  // Swift, @c(bms_main)
uint32_t semihost_number_argument(uint32_t fallback);
void semihost_write0(const char *s);
__attribute__((noreturn)) void semihost_exit(int code);

#define SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

__attribute__((noreturn)) void Reset_Handler(void) {
    uint32_t *src = &_sidata, *dst = &_sdata;
    while (dst < &_edata) *dst++ = *src++;
    for (dst = &_sbss; dst < &_ebss;) *dst++ = 0;
#if defined(__ARM_FP)
    SCB_CPACR |= 0xFu << 20;                   // CP10/CP11 full access: enable the FPU
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
    semihost_exit(bms_main(semihost_number_argument(10000)));
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
