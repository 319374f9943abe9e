// Global data in .data, .rodata and .bss.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

int counter = 7;              // .data
const volatile int limit = 42;  // .rodata
long zeroed[4];               // .bss
int second = 9;               // .data, offset 4

SEC("socket") int globals(void* ctx) {
  zeroed[2] += counter + second;
  return limit;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
__u32 _version SEC("version") = 0x050a00;
