# Regenerates the corpus specs (*.json) from packet builders and independently computed
# expectations (zlib CRC, checksums, hand-traced program logic). The JSON files are the source
# of truth checked into the repo; run `python3 tests/corpus/gen_specs.py` after editing this.
import json, struct, zlib, os
OUT = os.path.dirname(os.path.abspath(__file__))
def h(b): return b.hex()
def u16(v): return struct.pack('<H', v & 0xffff)
def u32(v): return struct.pack('<I', v & 0xffffffff)
def u64(v): return struct.pack('<Q', v & 0xffffffffffffffff)
def ip(s): return bytes(int(x) for x in s.split('.'))
MAC_D = bytes.fromhex('020000000002'); MAC_S = bytes.fromhex('020000000001')
def eth(t, dst=MAC_D, src=MAC_S): return dst + src + struct.pack('>H', t)
def csum(b):
    if len(b) % 2: b += b'\0'
    s = sum(struct.unpack('>%dH' % (len(b)//2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
def ipv4(src, dst, proto, payload, ttl=64, tos=0, ident=0x1234, opts=b'', tot_len=None):
    ihl = 5 + len(opts)//4
    tl = tot_len if tot_len is not None else 4*ihl + len(payload)
    hdr = struct.pack('>BBHHHBBH4s4s', 0x40 | ihl, tos, tl, ident, 0, ttl, proto, 0, ip(src), ip(dst)) + opts
    c = csum(hdr)
    return hdr[:10] + struct.pack('>H', c) + hdr[12:] + payload
def udp(src, dst, sport, dport, data, check=True):
    l = 8 + len(data)
    u = struct.pack('>HHHH', sport, dport, l, 0) + data
    if check:
        ph = ip(src) + ip(dst) + struct.pack('>BBH', 0, 17, l)
        c = csum(ph + u) or 0xffff
        u = u[:6] + struct.pack('>H', c) + u[8:]
    return u
def tcp(sport, dport, flags, data=b''):
    return struct.pack('>HHIIBBHHH', sport, dport, 1, 0, 5 << 4, flags, 1024, 0, 0) + data
def udp_pkt(src='10.0.0.1', dst='10.0.0.2', sport=1000, dport=2000, data=b'x'*18, **kw):
    return eth(0x0800) + ipv4(src, dst, 17, udp(src, dst, sport, dport, data), **kw)
def tcp_pkt(src='10.0.0.1', dst='10.0.0.2', sport=1000, dport=80, flags=0x10, data=b'', **kw):
    return eth(0x0800) + ipv4(src, dst, 6, tcp(sport, dport, flags, data), **kw)
ARP = eth(0x0806) + bytes(28)
XDP_ABORTED, XDP_DROP, XDP_PASS, XDP_TX = 0, 1, 2, 3
SPECS = {}
def spec(obj, desc, runs): SPECS[obj] = {'object': obj, 'description': desc, 'runs': runs}
def run(name, prog, ptype, data=None, expect=None, **kw):
    r = {'name': name, 'program': prog, 'prog_type': ptype}
    if data is not None: r['data_in'] = h(data)
    r.update(kw); r['expect'] = expect or {}
    return r
def E(k, v): return {'key': h(k), 'value': h(v)}
def M(m, k, v): return {'map': m, 'key': h(k), 'value': h(v)}
def SKB(size=192, **f):
    offs = {'len': 0, 'mark': 8, 'priority': 32, 'cb0': 48, 'cb1': 52, 'cb2': 56, 'cb3': 60, 'cb4': 64}
    return {'size': size, 'at': [{'offset': offs[k], 'hex': h(u32(v)), 'field': k} for k, v in f.items()]}
def CTX(**f):
    offs = {'len': 0, 'mark': 8, 'priority': 32, 'cb0': 48, 'cb1': 52, 'cb2': 56, 'cb3': 60, 'cb4': 64}
    return [{'offset': offs[k], 'hex': h(u32(v)), 'field': k} for k, v in f.items()]

# 1 LPM firewall
def lpm(plen, a): return u32(plen) + ip(a)
fw_maps = [M('blocklist', lpm(16, '10.1.0.0'), u32(XDP_DROP)), M('blocklist', lpm(24, '10.1.2.0'), u32(XDP_PASS))]
def verd(d): return {'map': 'verdicts', 'entries': [E(u32(i), u64(d.get(i, 0))) for i in range(4)]}
spec('xdp_lpm_firewall', 'XDP source-prefix firewall with an LPM trie; longest prefix wins', [
    run('blocked_16', 'xdp_firewall', 'xdp', udp_pkt(src='10.1.5.5'), {'retval': XDP_DROP, 'maps': [verd({1: 1})]}, maps_before=fw_maps),
    run('allowed_by_longer_24', 'xdp_firewall', 'xdp', udp_pkt(src='10.1.2.9'), {'retval': XDP_PASS, 'maps': [verd({2: 1})]}, maps_before=fw_maps),
    run('no_match', 'xdp_firewall', 'xdp', tcp_pkt(src='192.168.0.1'), {'retval': XDP_PASS, 'maps': [verd({2: 1})]}, maps_before=fw_maps),
    run('empty_trie_repeat', 'xdp_firewall', 'xdp', udp_pkt(src='10.1.5.5'), {'retval': XDP_PASS, 'maps': [verd({2: 5})]}, repeat=5),
    run('arp_not_counted', 'xdp_firewall', 'xdp', ARP, {'retval': XDP_PASS, 'maps': [verd({})]}, maps_before=fw_maps),
])
# 2 per-CPU counters
tp = tcp_pkt(); up = udp_pkt(data=b'y'*40)
def stats(d): return {'map': 'proto_stats', 'entries': [E(u32(i), u64(d.get(i, (0, 0))[0]) + u64(d.get(i, (0, 0))[1])) for i in range(4)]}
spec('percpu_counters', 'Per-CPU array counters by protocol; the run is pinned to a CPU, values compared on that CPU, others must stay zero', [
    run('tcp_repeat3', 'xdp_count', 'xdp', tp, {'retval': XDP_PASS, 'maps': [stats({1: (3, 3*len(tp))})]}, repeat=3),
    run('udp_seeded', 'xdp_count', 'xdp', up, {'retval': XDP_PASS, 'maps': [stats({2: (11, 1000+len(up))})]},
        maps_before=[M('proto_stats', u32(2), u64(10) + u64(1000))]),
    run('arp_on_cpu1', 'xdp_count', 'xdp', ARP, {'retval': XDP_PASS, 'maps': [stats({0: (1, len(ARP))})]}, cpu=1),
])
# 3 LRU flow table
fp = udp_pkt(src='10.0.0.1', dst='10.0.0.2', sport=1111, dport=2222)
fk = ip('10.0.0.1') + ip('10.0.0.2') + struct.pack('>HH', 1111, 2222) + bytes([17, 0, 0, 0])
tk = tcp_pkt(src='10.9.9.9', dst='10.0.0.2', sport=5, dport=443)
tkk = ip('10.9.9.9') + ip('10.0.0.2') + struct.pack('>HH', 5, 443) + bytes([6, 0, 0, 0])
last = ip('10.0.0.63') + ip('10.0.0.254') + bytes(4) + bytes([17, 0, 0, 0])
spec('lru_flow_table', 'LRU hash flow table keyed by 5-tuple; flooding a 16-entry table evicts instead of failing', [
    run('udp_flow_twice', 'tc_flow_track', 'sched_cls', fp, {'retval': 0, 'maps': [{'map': 'flows', 'entries': [E(fk, u64(2) + u64(2*len(fp)))]}]}, repeat=2),
    run('existing_flow_updated', 'tc_flow_track', 'sched_cls', tk, {'retval': 0, 'maps': [{'map': 'flows', 'entries': [E(fk, u64(5) + u64(500)), E(tkk, u64(8) + u64(10+len(tk)))]}]},
        maps_before=[M('flows', fk, u64(5) + u64(500)), M('flows', tkk, u64(7) + u64(10))]),
    run('flood_evicts', 'tc_flow_flood', 'sched_cls', fp, {'retval': 0, 'maps': [{'map': 'flows', 'contains': [E(last, u64(63) + u64(0))], 'max_count': 16}]}),
])
# 4 ringbuf
rp = udp_pkt(src='10.0.0.1', dst='10.0.0.2', ttl=33)
ev1 = u32(1) + ip('10.0.0.1') + ip('10.0.0.2') + u16(len(rp)) + bytes([17, 33])
ev2 = u32(2) + ip('10.0.0.2') + ip('10.0.0.1') + u16(0) + bytes([17, 0])
spec('ringbuf_events', 'Ring buffer: reserve/submit, discard, and output records', [
    run('ipv4_two_records', 'xdp_ringbuf', 'xdp', rp, {'retval': XDP_TX, 'ringbufs': [{'map': 'events', 'records': [h(ev1), h(ev2)]}]}),
    run('repeat2_four_records', 'xdp_ringbuf', 'xdp', rp, {'retval': XDP_TX, 'ringbufs': [{'map': 'events', 'records': [h(ev1), h(ev2), h(ev1), h(ev2)]}]}, repeat=2),
    run('arp_no_records', 'xdp_ringbuf', 'xdp', ARP, {'retval': XDP_PASS, 'ringbufs': [{'map': 'events', 'records': []}]}),
])
# 5 tail calls
def hb(a, b): return {'map': 'handled_by', 'entries': [E(u32(0), u32(a)), E(u32(1), u32(b)), E(u32(2), u32(0)), E(u32(3), u32(0))]}
spec('tail_calls', 'Tail-call dispatch through a declaratively initialised prog array', [
    run('tcp_to_handler', 'dispatch', 'xdp', tcp_pkt(), {'retval': XDP_DROP, 'maps': [hb(6, 0)]}),
    run('udp_to_handler', 'dispatch', 'xdp', udp_pkt(), {'retval': XDP_TX, 'maps': [hb(17, 0)]}),
    run('icmp_empty_slot_falls_through', 'dispatch', 'xdp', eth(0x0800) + ipv4('1.1.1.1', '2.2.2.2', 1, bytes(8)), {'retval': XDP_PASS, 'maps': [hb(0, 0xdead)]}),
    run('handler_run_directly', 'handle_udp', 'xdp', ARP, {'retval': XDP_TX, 'maps': [hb(17, 0)]}),
    run('tcp_handler_directly', 'handle_tcp', 'xdp', ARP, {'retval': XDP_DROP, 'maps': [hb(6, 0)]}),
])
# 6 global data
gp = udp_pkt(ttl=64, tos=2)
spec('global_data', 'Global variables in .data/.rodata/.bss; maps named by section suffix', [
    run('defaults', 'xdp_globals', 'xdp', gp, {'retval': 30, 'maps': [
        {'map': '.data', 'entries': [E(u32(0), u64(101) + u32(10) + u32(20) + u32(30) + u32(40))]},
        {'map': '.bss', 'entries': [E(u32(0), u32(len(gp)*3) + u32(0) + u64(64))]},
        {'map': '.rodata', 'entries': [E(u32(0), u32(3) + bytes([1]))]}]}),
    run('rodata_and_data_overridden', 'xdp_globals', 'xdp', gp, {'retval': XDP_DROP, 'maps': [
        {'map': '.data', 'entries': [E(u32(0), u64(8) + u32(1) + u32(2) + u32(3) + u32(4))]},
        {'map': '.bss', 'entries': [E(u32(0), u32(len(gp)*5) + u32(0) + u64(64))]}]},
        maps_before=[M('.rodata', u32(0), u32(5) + bytes([70])), M('.data', u32(0), u64(7) + u32(1) + u32(2) + u32(3) + u32(4))]),
    run('non_ip', 'xdp_globals', 'xdp', ARP, {'retval': XDP_PASS, 'maps': [
        {'map': '.bss', 'entries': [E(u32(0), u32(len(ARP)*3) + u32(0) + u64(0))]}]}),
])
# 7 loops
def res4(a, b, c, d): return {'map': 'results', 'entries': [E(u32(0), u64(a)), E(u32(1), u64(b)), E(u32(2), u64(c)), E(u32(3), u64(d))]}
spec('loop_foreach', 'bpf_loop with early stop and bpf_for_each_map_elem over array and hash maps', [
    run('seeded', 'xdp_loops', 'xdp', ARP, {'retval': XDP_PASS, 'maps': [res4(285, 10, 37 + (8 << 32), 60 + (3 << 32))]},
        maps_before=[M('values', u32(0), u64(1)), M('values', u32(3), u64(5)), M('values', u32(7), u64(2)),
                     M('weights', u32(1), u64(10)), M('weights', u32(2), u64(20)), M('weights', u32(3), u64(30))]),
    run('empty', 'xdp_loops', 'xdp', ARP, {'retval': XDP_PASS, 'maps': [res4(285, 10, 8 << 32, 0)]}),
])
# 8 map in map
def arr4(name, d): return {'map': name, 'entries': [E(u32(i), u64(d.get(i, 0))) for i in range(4)]}
spec('map_in_map', 'Array-of-maps and hash-of-maps with declarative inner maps', [
    run('tenant_a_and_hash', 'xdp_tenants', 'xdp', udp_pkt(tos=0, ttl=65, ident=7), {'retval': XDP_TX, 'maps': [arr4('tenant_a', {1: 1}), arr4('tenant_b', {1: 100})]}),
    run('empty_outer_slot', 'xdp_tenants', 'xdp', udp_pkt(tos=1, ttl=65), {'retval': XDP_DROP, 'maps': [arr4('tenant_a', {}), arr4('tenant_b', {})]}),
    run('tenant_b_no_hash', 'xdp_tenants', 'xdp', udp_pkt(tos=2, ttl=2, ident=0), {'retval': XDP_PASS, 'maps': [arr4('tenant_a', {}), arr4('tenant_b', {2: 1})]}),
])
# 9 queue/stack
spec('queue_stack', 'Queue and stack maps: push, pop, peek; leftovers listed in pop order (empty key)', [
    run('push_pop_peek', 'xdp_queue_stack', 'xdp', ARP, {'retval': 11 + 33*100 + 22*10000 + 22*1000000, 'maps': [
        {'map': 'fifo', 'entries': [{'key': '', 'value': h(u32(22))}, {'key': '', 'value': h(u32(33))}]},
        {'map': 'lifo', 'entries': [{'key': '', 'value': h(u32(22))}, {'key': '', 'value': h(u32(11))}]}]}),
    run('drain_prefilled', 'xdp_drain_queue', 'xdp', ARP, {'retval': 3 | (18 << 8), 'maps': [{'map': 'fifo', 'count': 0}]},
        maps_before=[{'map': 'fifo', 'value': h(u32(5))}, {'map': 'fifo', 'value': h(u32(6))}, {'map': 'fifo', 'value': h(u32(7))}]),
])
# 10 CO-RE
cp = udp_pkt(src='10.0.0.1', dst='10.0.0.2', ttl=64)
spec('core_reloc', 'CO-RE relocations against kernel BTF (__sk_buff, iphdr): offsets, field exists/size, type exists', [
    run('reads', 'tc_core', 'sched_cls', cp, {'retval': 0, 'maps': [{'map': 'out', 'entries': [
        E(u32(0), u64(len(cp))), E(u32(1), u64(0x11)), E(u32(2), u64(0x22)), E(u32(3), u64(0)), E(u32(4), u64(4)),
        E(u32(5), u64(2)), E(u32(6), u64((0x0a000001 << 32) | 0x0a000002)), E(u32(7), u64(64017))]}]},
        ctx_in=SKB(mark=0x11, priority=0x22)),
])
# 11 socket filter
dns = udp_pkt(dport=53, data=b'q'*58)
spec('socket_filter', 'Socket filter: keep DNS, truncate other IPv4 to 64 bytes, drop non-IPv4. The kernel pulls the Ethernet header before a socket filter runs: skb->len excludes it', [
    run('dns_kept_whole', 'sock_dns_filter', 'socket_filter', dns, {'retval': len(dns) - 14}),
    run('tcp_truncated', 'sock_dns_filter', 'socket_filter', tcp_pkt(data=b'z'*60), {'retval': 64}),
    run('short_udp', 'sock_dns_filter', 'socket_filter', udp_pkt(data=b''), {'retval': 28}),
    run('arp_dropped', 'sock_dns_filter', 'socket_filter', ARP, {'retval': 0}),
])
# 12 tc skb fields
tu = udp_pkt()
tu_out = bytearray(tu); tu_out[15] = 0x10
spec('tc_skb_fields', 'tc classifier reading and writing __sk_buff fields (mark, priority, cb[]) and packet bytes', [
    run('udp', 'tc_classify', 'sched_cls', tu, {'retval': 0, 'data_out': h(bytes(tu_out)),
        'ctx_out': CTX(mark=0x110100, priority=6, cb0=len(tu), cb1=0x0008, cb2=15, cb3=7, cb4=8)},
        ctx_in=SKB(mark=0x100, priority=5, cb3=7, cb4=8)),
    run('icmp_shot', 'tc_classify', 'sched_cls', eth(0x0800) + ipv4('1.1.1.1', '2.2.2.2', 1, bytes(8)), {'retval': 2, 'ctx_out': CTX(mark=0x10000)},
        ctx_in=SKB()),
    run('arp_unspec', 'tc_classify', 'sched_cls', ARP, {'retval': 0xffffffff, 'data_out': h(ARP), 'ctx_out': CTX(mark=0xbad, priority=1, cb0=len(ARP), cb1=0x0608)},
        ctx_in=SKB()),
])
# 13 xdp adjust
inner = ipv4('192.168.1.1', '192.168.1.2', 17, udp('192.168.1.1', '192.168.1.2', 7, 9, b'inner!'))
outer = eth(0x0800) + ipv4('10.0.0.1', '10.0.0.2', 4, inner)
padded = udp_pkt(data=b'ab')
padded_frame = padded + bytes(20)
spec('xdp_adjust', 'bpf_xdp_adjust_head (IPIP decap) and bpf_xdp_adjust_tail (trim and grow)', [
    run('decap', 'xdp_decap_ipip', 'xdp', outer, {'retval': XDP_TX, 'data_out': h(eth(0x0800) + inner)}),
    run('decap_not_ipip', 'xdp_decap_ipip', 'xdp', padded, {'retval': XDP_PASS, 'data_out': h(padded)}),
    run('trim', 'xdp_trim_padding', 'xdp', padded_frame, {'retval': XDP_TX, 'data_out': h(padded)}),
    run('trim_nothing', 'xdp_trim_padding', 'xdp', padded, {'retval': XDP_PASS, 'data_out': h(padded)}),
    run('grow', 'xdp_add_trailer', 'xdp', padded, {'retval': XDP_TX, 'data_out': h(padded + bytes.fromhex('deadbeef'))}),
])
# 14 csum
cs = udp_pkt(ttl=64)
cs_out = eth(0x0800) + ipv4('10.0.0.1', '10.0.0.2', 17, udp('10.0.0.1', '10.0.0.2', 1000, 2000, b'x'*18), ttl=63)
bad = bytearray(cs); bad[24] ^= 0x5a; bad[25] ^= 0xa5
spec('csum_ttl', 'bpf_csum_diff: incremental IPv4 checksum update after TTL decrement, and full recomputation', [
    run('ttl_dec', 'xdp_ttl_dec', 'xdp', cs, {'retval': XDP_TX, 'data_out': h(cs_out)}),
    run('ttl_expired', 'xdp_ttl_dec', 'xdp', udp_pkt(ttl=1), {'retval': XDP_DROP}),
    run('full_recompute', 'xdp_csum_full', 'xdp', bytes(bad), {'retval': XDP_TX, 'data_out': h(cs)}),
])
# 15 strncmp
def sres(a, b): return {'map': 'cmp_results', 'contains': [E(u32(0), u64(a)), E(u32(1), u64(b))]}
spec('strncmp_payload', 'bpf_strncmp on UDP payload copied into a map value (kernel strncmp returns -1/0/1)', [
    run('get', 'xdp_match_payload', 'xdp', udp_pkt(data=b'GET /abc'), {'retval': XDP_TX, 'maps': [sres(0, -1)]}),
    run('ping_nul', 'xdp_match_payload', 'xdp', udp_pkt(data=b'PING\0\0\0\0'), {'retval': XDP_DROP, 'maps': [sres(1, 0)]}),
    run('pingpong', 'xdp_match_payload', 'xdp', udp_pkt(data=b'PINGPONG'), {'retval': XDP_PASS, 'maps': [sres(1, 1)]}),
    run('short_payload', 'xdp_match_payload', 'xdp', udp_pkt(data=b'GET'), {'retval': XDP_PASS, 'maps': [sres(0, 0)]}),
])
# 16 parse l4
def pv(d): return {'map': 'port_verdicts', 'entries': [E(u16(k), u32(v)) for k, v in sorted(d.items())]}
ipv6_frame = eth(0x86dd) + bytes(40)
spec('parse_l4', 'Ethernet/IPv4(+options)/TCP/UDP parser; verdict per destination port', [
    run('tcp_syn', 'xdp_parse_l4', 'xdp', tcp_pkt(dport=80, flags=0x02), {'retval': 4, 'maps': [pv({80: 4})]}),
    run('http_8080', 'xdp_parse_l4', 'xdp', tcp_pkt(dport=8080, flags=0x18), {'retval': 2, 'maps': [pv({8080: 2})]}),
    run('dns', 'xdp_parse_l4', 'xdp', udp_pkt(dport=53), {'retval': 3, 'maps': [pv({53: 3})]}),
    run('udp_other', 'xdp_parse_l4', 'xdp', udp_pkt(dport=1234), {'retval': 1, 'maps': [pv({1234: 1})]}),
    run('ipv4_options_dns', 'xdp_parse_l4', 'xdp', eth(0x0800) + ipv4('10.0.0.1', '10.0.0.2', 17, udp('10.0.0.1', '10.0.0.2', 9, 53, b'abcd'), opts=bytes([1, 1, 1, 0])), {'retval': 3, 'maps': [pv({53: 3})]}),
    run('ipv6_other', 'xdp_parse_l4', 'xdp', ipv6_frame, {'retval': 1, 'maps': [pv({})]}),
    run('truncated', 'xdp_parse_l4', 'xdp', eth(0x0800) + bytes(10), {'retval': 5, 'maps': [pv({})]}),
    run('udp_bad_len', 'xdp_parse_l4', 'xdp', eth(0x0800) + ipv4('10.0.0.1', '10.0.0.2', 17, struct.pack('>HHHH', 1, 53, 4, 0)), {'retval': 5, 'maps': [pv({})]}),
])
# 17 compute
big = udp_pkt(data=bytes(range(256)) * 2)  # 554 bytes: only the first 511 are hashed
small = udp_pkt(data=b'hello world')
def fnv(b):
    x = 2166136261
    for c in b: x = ((x ^ c) * 16777619) & 0xffffffff
    return x
def crc_run(name, p):
    n = min(len(p), 511); c = zlib.crc32(p[:n])
    return run(name, 'xdp_crc32', 'xdp', p, {'retval': c, 'maps': [{'map': 'hashes', 'entries': [E(u32(0), u32(c)), E(u32(1), u32(fnv(p[:n])))]}]})
spec('compute_loop', 'Loop-heavy compute: CRC-32 and FNV-1a via bpf_loop, sieve of Eratosthenes', [
    crc_run('crc_small', small), crc_run('crc_big_capped', big),
    run('sieve', 'xdp_sieve', 'xdp', ARP, {'retval': 168}, repeat=3),
])
# 18 hash ops
spec('hash_ops', 'Hash map update flags, lookup, delete, full map', [
    run('sequence', 'xdp_hash_ops', 'xdp', ARP, {'retval': 0xfff, 'maps': [{'map': 'kv', 'entries': [E(u32(1), u64(200)), E(u32(2), u64(2)), E(u32(4), u64(4)), E(u32(5), u64(5))]}]}),
])
# 19 bpf2bpf
def calls(n):
    M32 = 0xffffffff
    acc = 1
    for i in range(8):
        a = (n + i) & M32; b = acc & M32
        acc = (acc + ((((a * 31) & M32) ^ ((b + 7) & M32)) & M32)) & 0xffffffffffffffff
    def clamp(v, lo, hi): return lo if v < lo else hi if v > hi else v
    cl = clamp((acc & 0xff) - 100, 0, 50)
    return ((((acc >> 8) & M32) & 0xfff0) | (cl & 0xf) | (clamp(n, 0, 1000) << 16)) & M32
spec('bpf2bpf_calls', 'bpf-to-bpf calls: static subprograms, stack pointer arguments, a global function', [
    run('len_%d' % len(p), 'xdp_calls', 'xdp', p, {'retval': calls(len(p))}) for p in (ARP, small, big)
])
# 20 spin lock
def acct(bal, ops): return u32(0) + u32(0) + u64(bal) + u64(ops)
sp = udp_pkt(data=b's'*58)
spec('spin_lock', 'bpf_spin_lock-protected read-modify-write in array and hash map values', [
    run('first', 'tc_locked_add', 'sched_cls', sp, {'retval': 0, 'maps': [
        {'map': 'accounts', 'entries': [E(u32(0), acct(0, 0)), E(u32(1), acct(len(sp), 1))]},
        {'map': 'by_src', 'entries': [E(u32(9), acct(1, 2))]}]}, ctx_in=SKB(mark=1, priority=9)),
    run('over_limit', 'tc_locked_add', 'sched_cls', sp, {'retval': 2, 'maps': [
        {'map': 'accounts', 'entries': [E(u32(0), acct(950 + 3*len(sp), 4)), E(u32(1), acct(0, 0))]},
        {'map': 'by_src', 'entries': [E(u32(0), acct(13, 26))]}]},
        ctx_in=SKB(mark=2, priority=0), repeat=3, maps_before=[M('accounts', u32(0), acct(950, 1)), M('by_src', u32(0), acct(10, 20))]),
])
# 21 nondet
spec('helpers_nondet', 'ktime_get_ns, ktime_get_boot_ns, get_prandom_u32, get_smp_processor_id: properties only', [
    run('properties', 'xdp_nondet', 'xdp', ARP, {'retval': 31}, repeat=4),
])
# 22 percpu hash
pp = udp_pkt(src='10.0.0.1', dst='10.0.0.2')
spec('percpu_hash', 'Per-CPU hash and LRU per-CPU hash counters (values on the run CPU)', [
    run('repeat2', 'xdp_percpu_hash', 'xdp', pp, {'retval': XDP_PASS, 'maps': [
        {'map': 'src_packets', 'entries': [E(u32(0x0a000001), u64(2))]}, {'map': 'dst_bytes', 'entries': [E(u32(0x0a000002), u64(2*len(pp)))]}]}, repeat=2),
    run('seeded_cpu1', 'xdp_percpu_hash', 'xdp', pp, {'retval': XDP_PASS, 'maps': [
        {'map': 'src_packets', 'entries': [E(u32(0x0a000001), u64(41))]}, {'map': 'dst_bytes', 'entries': [E(u32(0x0a000002), u64(len(pp)))]}]},
        cpu=1, maps_before=[M('src_packets', u32(0x0a000001), u64(40))]),
])
# 23 array bounds
spec('array_bounds', 'Array map edge cases: out-of-range lookups/updates, delete refused, NOEXIST refused', [
    run('edges', 'xdp_array_bounds', 'xdp', ARP, {'retval': 255, 'maps': [{'map': 'arr', 'entries': [E(u32(0), u32(0)), E(u32(1), u32(0)), E(u32(2), u32(7))]}]}),
])
# 24 vlan
def vlan(t, vid, inner_t): return struct.pack('>HH', vid, inner_t)
qinq = MAC_D + MAC_S + struct.pack('>H', 0x88a8) + struct.pack('>HH', 100, 0x8100) + struct.pack('>HH', 0x2000 | 200, 0x0800) + ipv4('1.1.1.1', '2.2.2.2', 17, udp('1.1.1.1', '2.2.2.2', 1, 2, b''))
spec('vlan_parse', '802.1ad/802.1Q VLAN tag walking with a bounded loop', [
    run('qinq', 'xdp_vlan', 'xdp', qinq, {'retval': 200 | (0x0800 << 16), 'maps': [{'map': 'per_vlan', 'entries': [E(u16(200), u32(1))]}]}),
    run('untagged', 'xdp_vlan', 'xdp', udp_pkt(), {'retval': 0x0800 << 16, 'maps': [{'map': 'per_vlan', 'entries': [E(u16(0), u32(3))]}]}, repeat=3),
    run('truncated_tag', 'xdp_vlan', 'xdp', MAC_D + MAC_S + struct.pack('>H', 0x8100) + b'\x00', {'retval': 0, 'maps': [{'map': 'per_vlan', 'count': 0}]}),
])
# 25 icmp echo
def icmp(t, ident, seq, data):
    b = struct.pack('>BBHHH', t, 0, 0, ident, seq) + data
    return b[:2] + struct.pack('>H', csum(b)) + b[4:]
req = eth(0x0800, MAC_D, MAC_S) + ipv4('10.0.0.1', '10.0.0.2', 1, icmp(8, 0x42, 1, b'abcdefgh'), ttl=17)
rep = eth(0x0800, MAC_S, MAC_D) + ipv4('10.0.0.2', '10.0.0.1', 1, icmp(0, 0x42, 1, b'abcdefgh'), ttl=64)
spec('icmp_echo', 'XDP ICMP echo responder rewriting the request into a reply with fixed checksums', [
    run('echo', 'xdp_icmp_echo', 'xdp', req, {'retval': XDP_TX, 'data_out': h(rep)}),
    run('udp_passes', 'xdp_icmp_echo', 'xdp', udp_pkt(), {'retval': XDP_PASS}),
])
# 26 ipv6
def ip6(nh, hl, payload): return struct.pack('>IHBB', 0x60000000, len(payload), nh, hl) + bytes(16) + bytes(15) + b'\x01' + payload
hbh = bytes([17, 0]) + bytes(6)
p6 = eth(0x86dd) + ip6(0, 64, hbh + bytes(8))
p6_out = eth(0x86dd) + ip6(0, 63, hbh + bytes(8))
p6b = eth(0x86dd) + ip6(43, 64, bytes([60, 1]) + bytes(14) + bytes([6, 0]) + bytes(6) + bytes(20))
spec('ipv6_hoplimit', 'IPv6 hop-limit decrement and extension-header walk', [
    run('hop_by_hop_udp', 'xdp_ipv6', 'xdp', p6, {'retval': 0x111, 'data_out': h(p6_out)}),
    run('routing_destopts_tcp', 'xdp_ipv6', 'xdp', p6b, {'retval': 0x106}),
    run('hop_limit_1', 'xdp_ipv6', 'xdp', eth(0x86dd) + ip6(17, 1, bytes(8)), {'retval': XDP_DROP}),
    run('ipv4', 'xdp_ipv6', 'xdp', udp_pkt(), {'retval': XDP_PASS}),
])
# 27 raw tp
spec('raw_tp_args', 'Raw tracepoint program run with a context of u64 arguments (no data, no ctx_out, no repeat)', [
    run('args', 'raw_tp_sum', 'raw_tracepoint', None, {'retval': 42, 'maps': [{'map': 'arg_sum', 'entries': [E(u32(0), u64(121))]}]},
        ctx_in=h(u64(21) + u64(100))),
    run('seeded', 'raw_tp_sum', 'raw_tracepoint', None, {'retval': 0xfffffffe, 'maps': [{'map': 'arg_sum', 'entries': [E(u32(0), u64(1000 - 1 + 5))]}]},
        ctx_in=h(u64(0xffffffffffffffff) + u64(5)), maps_before=[M('arg_sum', u32(0), u64(1000))]),
])
# 28 tc rewrite
nat_in = udp_pkt(src='10.0.0.1', dst='10.0.0.9', sport=1000, dport=5353, data=b'dnsq')
nat_out = udp_pkt(src='10.0.0.1', dst='10.0.0.53', sport=1000, dport=53, data=b'dnsq')
long_pkt = udp_pkt(data=b'L'*70)
spec('tc_rewrite', 'skb_store_bytes with l3/l4_csum_replace (NAT), skb_change_tail', [
    run('nat', 'tc_nat_udp', 'sched_cls', nat_in, {'retval': 7, 'data_out': h(nat_out)}),
    run('nat_other_port', 'tc_nat_udp', 'sched_cls', udp_pkt(dport=53), {'retval': 0, 'data_out': h(udp_pkt(dport=53))}),
    run('trim', 'tc_trim', 'sched_cls', long_pkt, {'retval': 60, 'data_out': h(long_pkt[:60])}),
    run('short_untouched', 'tc_trim', 'sched_cls', ARP, {'retval': len(ARP)}),
])

# 29 legacy packet loads (LD_ABS/LD_IND, SKF_NET_OFF, SKF_LL_OFF)
SKF_NET_OFF, SKF_LL_OFF = -0x100000, -0x200000
ll_pkt = udp_pkt(src='10.0.0.1', dst='10.0.0.2', sport=1000, dport=2000, data=b'legacy-load!')
def be(b): return int.from_bytes(b, 'big')
def load_runs(prog, data_at):
    # data_at: where the program's data starts in the frame (0: tc, 14: socket filter).
    cases = [  # (name, offset, size, frame offset read or None when the load must fail)
        ('data_0', 0, 1, data_at), ('data_word', 2, 4, data_at + 2),
        ('data_last', len(ll_pkt) - data_at - 2, 2, len(ll_pkt) - 2),
        ('data_past_end', len(ll_pkt) - data_at - 1, 2, None),
        ('net_src', SKF_NET_OFF + 12, 4, 14 + 12), ('net_dport', SKF_NET_OFF + 22, 2, 14 + 22),
        ('net_last', SKF_NET_OFF + len(ll_pkt) - 15, 1, len(ll_pkt) - 1),
        ('net_past_end', SKF_NET_OFF + len(ll_pkt) - 14, 1, None),
        ('ll_type', SKF_LL_OFF + 12, 2, 12), ('ll_dst', SKF_LL_OFF + 30, 4, 30), ('ll_mac', SKF_LL_OFF, 4, 0),
        ('ll_past_end', SKF_LL_OFF + len(ll_pkt) - 3, 4, None),
        ('ll_top', SKF_NET_OFF - 1, 1, None), ('below_ll', SKF_LL_OFF - 1, 1, None),
    ]
    out = []
    for name, off, size, at in cases:
        want = 0 if at is None else be(ll_pkt[at:at + size]) + 1
        out.append(run(name + '_' + prog[:2], prog, 'socket_filter' if data_at else 'sched_cls', ll_pkt,
                       {'retval': want & 0xffffffff}, ctx_in=SKB(cb0=off & 0xffffffff, cb1=size)))
    return out
spec('legacy_loads', 'LD_ABS/LD_IND from the data, from SKF_NET_OFF (network header) and SKF_LL_OFF (MAC header), in a socket filter (data = network header) and a tc program (data = MAC header); a load outside the packet ends the program with 0',
     load_runs('sock_load_at', 14) + load_runs('tc_load_at', 0) + [
    run('addr_sum', 'tc_addr_sum', 'sched_cls', ll_pkt, {'retval': (be(ip('10.0.0.1')) + be(ip('10.0.0.2')) + 0x0800) & 0xffffffff}),
])

for name, s in SPECS.items():
    with open(os.path.join(OUT, name + '.json'), 'w') as f:
        json.dump(s, f, indent=2); f.write('\n')
print(len(SPECS), sum(len(s['runs']) for s in SPECS.values()))
