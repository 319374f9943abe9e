// xdp_counter: a small XDP firewall and traffic counter, the bundled example of bpfvm.
//
// Counts packets and bytes per IP protocol (TCP, UDP, ICMP, other) and drops TCP SYNs to a blocked
// port (23, telnet, unless the .rodata constant is changed before the run). Its state lives in
// global data, which libbpf and bpfvm turn into array maps (.bss, .rodata), so
// `bpfvm run build/examples/xdp_counter.o --packet examples/tcp_syn.pkt --dump-maps` shows the
// counters after the run.
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

enum { SLOT_TCP, SLOT_UDP, SLOT_ICMP, SLOT_OTHER, NUM_SLOTS };

struct counter {
  __u64 packets;
  __u64 bytes;
};

struct counter counters[NUM_SLOTS];  // .bss
__u64 dropped;                       // .bss
const volatile __u16 blocked_port = 23;  // .rodata

SEC("xdp")
int xdp_counter(struct xdp_md* ctx) {
  void* data = (void*)(long)ctx->data;
  void* data_end = (void*)(long)ctx->data_end;
  __u64 len = data_end - data;
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return XDP_ABORTED;
  int slot = SLOT_OTHER;
  int verdict = XDP_PASS;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > data_end) return XDP_DROP;
    if (ip->protocol == IPPROTO_TCP) {
      slot = SLOT_TCP;
      struct tcphdr* tcp = (void*)ip + ip->ihl * 4;
      if ((void*)(tcp + 1) > data_end) return XDP_DROP;
      if (tcp->syn && !tcp->ack && tcp->dest == bpf_htons(blocked_port)) verdict = XDP_DROP;
    } else if (ip->protocol == IPPROTO_UDP) {
      slot = SLOT_UDP;
    } else if (ip->protocol == IPPROTO_ICMP) {
      slot = SLOT_ICMP;
    }
  }
  __sync_fetch_and_add(&counters[slot].packets, 1);
  __sync_fetch_and_add(&counters[slot].bytes, len);
  if (verdict == XDP_DROP) __sync_fetch_and_add(&dropped, 1);
  return verdict;
}

char LICENSE[] SEC("license") = "GPL";
