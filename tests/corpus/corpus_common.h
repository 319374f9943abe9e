// Shared includes and small packet-parsing helpers for the corpus programs.
#pragma once

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

// From <linux/pkt_cls.h>, which drags in libc headers that do not build for the BPF target.
#define TC_ACT_UNSPEC (-1)
#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define TC_ACT_REDIRECT 7

// From <linux/icmp.h>, which includes <linux/if.h> and with it libc's <sys/socket.h>.
#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
struct icmphdr {
  __u8 type;
  __u8 code;
  __sum16 checksum;
  __be16 id;
  __be16 sequence;
};

#ifndef offsetof
#define offsetof(type, member) __builtin_offsetof(type, member)
#endif

// Returns the IPv4 header of an Ethernet frame, or NULL when the frame is not IPv4 or too short.
static __always_inline struct iphdr* parse_ipv4(void* data, void* data_end) {
  struct ethhdr* eth = data;
  if ((void*)(eth + 1) > data_end) return 0;
  if (eth->h_proto != bpf_htons(ETH_P_IP)) return 0;
  struct iphdr* ip = (void*)(eth + 1);
  if ((void*)(ip + 1) > data_end) return 0;
  if (ip->ihl != 5) return 0;
  return ip;
}
