// Restricted C cases: contexts whose rules depend on the attach point the section names
// (cgroup sock_addr and sockopt hooks), sk_msg, and socket pointers.
#include <linux/bpf.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

SEC("cgroup/connect4")
int connect4_redirects_port_80(struct bpf_sock_addr *ctx) {
  // expect accept
  if (ctx->user_port == bpf_htons(80)) {
    ctx->user_ip4 = bpf_htonl(0x7f000001);
    ctx->user_port = bpf_htons(8080);
  }
  return 1;
}

SEC("cgroup/connect6")
int connect6_reads_the_ipv4_address(struct bpf_sock_addr *ctx) {
  return ctx->user_ip4 == 0;  // expect reject InvalidCtxAccess
}

SEC("cgroup/sendmsg4")
int sendmsg4_reads_the_socket(struct bpf_sock_addr *ctx) {
  // expect accept
  struct bpf_sock *sk = ctx->sk;
  if (sk->protocol == 17) ctx->msg_src_ip4 = bpf_htonl(0x7f000001);
  return 1;
}

SEC("cgroup/getsockopt")
int getsockopt_clears_the_option(struct bpf_sockopt *ctx) {
  // expect accept
  __u8 *v = ctx->optval, *end = ctx->optval_end;
  if (v + 1 > end) return 1;
  if (ctx->optname == 1) {
    v[0] = 0;
    ctx->retval = 0;
  }
  return 1;
}

SEC("cgroup/setsockopt")
int setsockopt_has_no_retval(struct bpf_sockopt *ctx) {
  return ctx->retval == 0;  // expect reject InvalidCtxAccess
}

SEC("sk_msg")
int msg_reads_checked_data(struct sk_msg_md *msg) {
  // expect accept
  __u8 *data = msg->data, *end = msg->data_end;
  if (data + 4 > end) return SK_PASS;
  return data[3] == 0 ? SK_PASS : SK_DROP;
}

SEC("sk_msg")
int msg_reads_unchecked_data(struct sk_msg_md *msg) {
  __u8 *data = msg->data;
  return data[3] == 0 ? SK_PASS : SK_DROP;  // expect reject OutOfBounds
}

SEC("sockops")
int sockops_reads_the_socket(struct bpf_sock_ops *skops) {
  // expect accept
  struct bpf_sock *sk = skops->sk;
  if (!sk) return 1;
  return sk->state == 1;
}

char LICENSE[] SEC("license") = "GPL";
