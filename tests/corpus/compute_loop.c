// Loop-heavy compute: CRC-32 (bitwise, reflected, poly 0xEDB88320) and FNV-1a over up to 511
// packet bytes (copied into a per-CPU buffer with bpf_xdp_load_bytes and walked with bpf_loop),
// and a sieve of Eratosthenes counting primes below 1000 in a map value.
#include "corpus_common.h"

#define MAX_BYTES 512

struct buf {
  __u8 b[MAX_BYTES];
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __type(key, __u32);
  __type(value, struct buf);
  __uint(max_entries, 1);
} scratch SEC(".maps");

struct sieve {
  __u8 composite[1000];
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, struct sieve);
  __uint(max_entries, 1);
} sieve_map SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __type(key, __u32);
  __type(value, __u32);
  __uint(max_entries, 2);
} hashes SEC(".maps");

struct hash_ctx {
  struct buf* buf;
  __u32 crc;
  __u32 fnv;
};

static long hash_step(__u32 i, struct hash_ctx* c) {
  if (i >= MAX_BYTES) return 1;
  __u8 b = c->buf->b[i];
  c->fnv = (c->fnv ^ b) * 16777619u;
  __u32 crc = c->crc ^ b;
  for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
  c->crc = crc;
  return 0;
}

SEC("xdp")
int xdp_crc32(struct xdp_md* ctx) {
  __u32 zero = 0;
  struct buf* buf = bpf_map_lookup_elem(&scratch, &zero);
  if (!buf) return 0;
  __u32 len = ctx->data_end - ctx->data;
  if (len > MAX_BYTES - 1) len = MAX_BYTES - 1;  // at most 511 bytes are hashed
  asm volatile("%[len] &= 0x1ff" : [len] "+r"(len));
  if (len < ETH_HLEN) return 0;
  if (bpf_xdp_load_bytes(ctx, 0, buf->b, len)) return 0;
  struct hash_ctx hc = {.buf = buf, .crc = 0xffffffff, .fnv = 2166136261u};
  bpf_loop(len, hash_step, &hc, 0);
  __u32 k0 = 0, k1 = 1;
  __u32 out = ~hc.crc;
  bpf_map_update_elem(&hashes, &k0, &out, BPF_ANY);
  bpf_map_update_elem(&hashes, &k1, &hc.fnv, BPF_ANY);
  return out;
}

SEC("xdp")
int xdp_sieve(struct xdp_md* ctx) {
  __u32 zero = 0;
  struct sieve* s = bpf_map_lookup_elem(&sieve_map, &zero);
  if (!s) return 0;
  __u32 count = 0;
  for (__u32 i = 2; i < 1000; i++) {
    if (s->composite[i]) continue;
    count++;
    for (__u32 j = i * i; j < 1000; j += i) s->composite[j] = 1;
  }
  return count;
}

char LICENSE[] SEC("license") = "GPL";
