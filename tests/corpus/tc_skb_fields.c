// tc classifier on __sk_buff fields: reads len, protocol, mark, priority and cb[], writes mark,
// priority, cb[] and tc_classid, walks data/data_end and rewrites the IPv4 TOS byte.
#include "corpus_common.h"

SEC("tc")
int tc_classify(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* data_end = (void*)(long)skb->data_end;
  __u32 in_mark = skb->mark;
  skb->cb[0] = skb->len;
  skb->cb[1] = skb->protocol;
  skb->cb[2] = skb->cb[3] + skb->cb[4];
  skb->priority = skb->priority + 1;
  struct iphdr* ip = parse_ipv4(data, data_end);
  if (!ip) {
    skb->mark = 0xbad;
    return TC_ACT_UNSPEC;
  }
  skb->mark = in_mark | ((__u32)ip->protocol << 16);
  if (ip->protocol == IPPROTO_ICMP) return TC_ACT_SHOT;
  ip->tos = 0x10;  // checksum deliberately left stale: the test compares bytes
  skb->tc_classid = 0x10002;
  return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
