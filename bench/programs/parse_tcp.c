/* Ethernet / IPv4 / TCP parsing with checksums, as a firewall or load balancer does: check the
 * headers, verify the IPv4 header checksum, then the TCP checksum over the pseudo-header and the
 * whole segment. Returns a flow hash when both checksums hold, an error code otherwise. */
#include "bench_prog.h"

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/tcp.h>

#define MAX_SEGMENT 1480

static __always_inline __u16 be16(const __u8* p) {
  return (__u16)((p[0] << 8) | p[1]);
}

static __always_inline __u32 fold(__u32 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}

BENCH_PROG(bench_parse_tcp) {
  const __u8* data = PKT_START(ctx);
  const __u8* end = PKT_END(ctx);
  const struct ethhdr* eth = (const struct ethhdr*)data;
  if ((const __u8*)(eth + 1) > end) return 1;
  if (eth->h_proto != __builtin_bswap16(ETH_P_IP)) return 2;
  const struct iphdr* ip = (const struct iphdr*)(eth + 1);
  if ((const __u8*)(ip + 1) > end) return 3;
  if (ip->version != 4 || ip->ihl != 5) return 4;
  if (ip->protocol != IPPROTO_TCP) return 5;
  const __u8* iph = (const __u8*)ip;
  __u32 sum = 0;
  for (int i = 0; i < 20; i += 2) sum += be16(iph + i);
  if (fold(sum) != 0xffff) return 6;

  __u32 tot_len = __builtin_bswap16(ip->tot_len);
  if (tot_len < 40 || tot_len > 20 + MAX_SEGMENT) return 7;
  __u32 seg_len = tot_len - 20;
  const __u8* tcp = iph + 20;
  if (tcp + sizeof(struct tcphdr) > end) return 8;
  const struct tcphdr* th = (const struct tcphdr*)tcp;
  if (th->doff < 5) return 9;

  /* Pseudo-header: addresses, protocol, TCP length. */
  sum = be16(iph + 12) + be16(iph + 14) + be16(iph + 16) + be16(iph + 18) + IPPROTO_TCP + seg_len;
  for (__u32 i = 0; i < MAX_SEGMENT; i += 2) {
    if (i + 2 > seg_len) break;
    if (tcp + i + 2 > end) return 10;
    sum += be16(tcp + i);
  }
  if (seg_len & 1) {
    const __u8* last = tcp + (seg_len - 1);
    if (last + 1 > end) return 11;
    sum += (__u32)*last << 8;
  }
  if (fold(sum) != 0xffff) return 12;

  __u32 flow = ip->saddr ^ ip->daddr ^ ((__u32)th->source << 16 | th->dest);
  flow ^= flow >> 15;
  flow *= 0x2c1b3c6d;
  return (flow ^ (flow >> 12)) | 0x100;
}

BENCH_LICENSE;
