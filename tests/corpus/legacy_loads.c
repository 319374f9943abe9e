// Legacy packet loads (LD_ABS/LD_IND: load_byte/half/word as samples/bpf declares them) at the
// offset in cb[0], of the size in cb[1] (1, 2 or 4 bytes): offsets from the skb's data, and the
// kernel's negative bases SKF_NET_OFF (from the network header) and SKF_LL_OFF (from the MAC
// header). A socket filter's data is the network header, a tc program's the MAC header. Returns
// the value + 1; a load outside the packet ends the program with 0.
#include "corpus_common.h"

unsigned long long load_byte(void* skb, unsigned long long off) asm("llvm.bpf.load.byte");
unsigned long long load_half(void* skb, unsigned long long off) asm("llvm.bpf.load.half");
unsigned long long load_word(void* skb, unsigned long long off) asm("llvm.bpf.load.word");

static __always_inline __u32 load_at(struct __sk_buff* skb) {
  __u32 off = skb->cb[0];
  if (skb->cb[1] == 1) return load_byte(skb, off) + 1;
  if (skb->cb[1] == 2) return load_half(skb, off) + 1;
  return load_word(skb, off) + 1;
}

SEC("socket")
int sock_load_at(struct __sk_buff* skb) {
  return load_at(skb);
}

SEC("tc")
int tc_load_at(struct __sk_buff* skb) {
  return load_at(skb);
}

// LD_ABS with constant offsets: the IPv4 source and destination through each base, summed (as
// suricata's lb.o hashes them).
SEC("tc")
int tc_addr_sum(struct __sk_buff* skb) {
  return load_word(skb, -0x200000 + 26) + load_word(skb, -0x100000 + 16) + load_half(skb, 12);
}

char LICENSE[] SEC("license") = "GPL";
