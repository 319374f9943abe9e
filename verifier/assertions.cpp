// The checks: initialized reads, in-bounds accesses per region, helper arguments against the
// prototypes, return values and released resources at exit.
#include <fmt/format.h>

#include "helpers/proto.h"
#include "verifier/analyzer.h"

namespace bpfvm::verifier {
namespace {

constexpr int64_t kMaxOff = int64_t{1} << 40;
constexpr uint64_t kMaxHelperSize = uint64_t{1} << 29;
constexpr uint32_t kMapLookupHelper = 1;
constexpr uint32_t kInnerMapFlag = 1u << 12;  // BPF_F_INNER_MAP: inner maps may differ in max_entries

// Does map_lookup_elem(m, key in r2) always find its element? True for an array (or per-CPU array)
// and a key on the stack known to be below max_entries: array elements always exist (the kernel
// elides the null check too). Inner maps declared with BPF_F_INNER_MAP may have another size than
// their template: excluded.
bool lookup_always_finds(const MapDef& m, const State& s) {
  if ((m.type != MapType::Array && m.type != MapType::PercpuArray) || m.key_size != 4 ||
      (m.map_flags & kInnerMapFlag))
    return false;
  const RegValue& key = s.reg(2);
  if (key.kind != RegKind::Stack || !key.v.is_const()) return false;
  // check_helper_args proved the 4 bytes in bounds and initialized.
  const RegValue k = s.frames()[key.frame].stack.load(static_cast<int>(key.v.value()), 4, false);
  return k.kind == RegKind::Scalar && k.v.is_const() && k.v.value() < m.max_entries;
}

}  // namespace

// Which map types a helper takes (the kernel's check_map_func_compatibility, for the helpers bpfvm
// implements): nullptr when `type` fits helper `id`, else the reason.
static const char* map_helper_mismatch(uint32_t id, MapType type) {
  auto is = [type](std::initializer_list<MapType> ts) {
    for (MapType t : ts)
      if (t == type) return true;
    return false;
  };
  switch (id) {
    case 12:  // tail_call
      return is({MapType::ProgArray}) ? nullptr : "is not a prog_array: bpf_tail_call needs one";
    case 25:  // perf_event_output
      return is({MapType::PerfEventArray}) ? nullptr : "is not a perf_event_array";
    case 130:
    case 131:
    case 134:  // ringbuf_output, ringbuf_reserve, ringbuf_query
      return is({MapType::Ringbuf}) ? nullptr : "is not a ringbuf";
    case 87:
    case 88:
    case 89:  // map_push/pop/peek_elem
      return is({MapType::Queue, MapType::Stack, MapType::BloomFilter})
                 ? nullptr
                 : "is not a queue, stack or bloom filter";
    case 27:  // get_stackid
      return is({MapType::StackTrace}) ? nullptr : "is not a stack_trace map";
    case 22:
    case 55:  // perf_event_read, perf_event_read_value
      return is({MapType::PerfEventArray}) ? nullptr : "is not a perf_event_array";
    case 33:
    case 37:  // skb_under_cgroup, current_task_under_cgroup
      return is({MapType::CgroupArray}) ? nullptr : "is not a cgroup_array";
    case 51:  // redirect_map
      return is({MapType::Devmap, MapType::DevmapHash, MapType::Cpumap, MapType::Xskmap})
                 ? nullptr
                 : "is not a devmap, cpumap or xskmap";
    case 52:
    case 53:
    case 60:  // sk_redirect_map, sock_map_update, msg_redirect_map
      return is({MapType::Sockmap}) ? nullptr : "is not a sockmap";
    case 1:  // map_lookup_elem: these maps hold no plain values (kernel objects or stack traces);
             // devmap entries are read-only values (bpf_devmap_val)
      if (is({MapType::StackTrace, MapType::CgroupArray, MapType::Sockmap, MapType::Sockhash, MapType::Xskmap,
              MapType::Cpumap}))
        return "holds no values a program may read with map_lookup_elem";
      [[fallthrough]];
    case 2:
    case 3:  // map_lookup/update/delete_elem
      if (id != 1 && is({MapType::StackTrace, MapType::CgroupArray, MapType::Xskmap, MapType::Cpumap,
                         MapType::Devmap, MapType::DevmapHash}))
        return "holds kernel objects: programs may not update or delete its entries";
      if (is({MapType::ArrayOfMaps, MapType::HashOfMaps}) && id != 1)
        return "is a map of maps: programs may only look it up";
      if (is({MapType::ProgArray, MapType::Ringbuf, MapType::PerfEventArray, MapType::Queue, MapType::Stack,
              MapType::BloomFilter}))
        return "cannot be used with map_lookup_elem/update_elem/delete_elem";
      return nullptr;
    default:
      return nullptr;
  }
}

bool Analyzer::check_init(uint32_t idx, const State& s, int reg) {
  if (s.reg(reg).is_init()) return true;
  fail(ErrorKind::UninitRegister, idx, s, {reg},
       fmt::format("r{} is read but not initialized on this path (or holds values of conflicting types)",
                   reg));
  return false;
}

void Analyzer::note_stack(const State& s, int frame, int64_t lo) {
  uint32_t f = cfg_.func_of_insn(s.frames()[frame].entry);
  if (-lo > stack_depth_[f]) stack_depth_[f] = -lo;
}

bool Analyzer::check_access(uint32_t idx,
                            State& s,
                            int reg,
                            int64_t off,
                            uint64_t size,
                            bool write,
                            bool helper_arg,
                            Access* out) {
  const RegValue& r = s.reg(reg);
  const char* what = write ? "write" : "read";
  switch (r.kind) {
    case RegKind::Uninit:
      check_init(idx, s, reg);
      return false;
    case RegKind::Scalar:
      if (helper_arg && size == 0) return true;
      if (r.v.is_zero())
        fail(ErrorKind::NullDeref, idx, s, {reg},
             fmt::format("{} through a NULL pointer (r{} is 0)", what, reg));
      else
        fail(ErrorKind::InvalidMemAccess, idx, s, {reg}, fmt::format("r{} is a scalar, not a pointer", reg));
      return false;
    case RegKind::MapValueOrNull:
    case RegKind::MemOrNull:
    case RegKind::MapPtrOrNull:
    case RegKind::SockOrNull:
      fail(ErrorKind::NullDeref, idx, s, {reg},
           fmt::format("r{} may be NULL: compare it with 0 before the {}", reg, what));
      return false;
    case RegKind::MapPtr:
    case RegKind::PacketEnd:
    case RegKind::Func:
      fail(ErrorKind::InvalidMemAccess, idx, s, {reg},
           fmt::format("a {} pointer cannot be dereferenced", reg_kind_name(r.kind)));
      return false;
    case RegKind::TruncPtr:
      fail(ErrorKind::InvalidMemAccess, idx, s, {reg},
           fmt::format("r{} holds the low 32 bits of a pointer ({}), which cannot be dereferenced; use "
                       "64-bit arithmetic on pointers",
                       reg, format_reg(r)));
      return false;
    default:
      break;
  }
  if (r.v.smin < -kMaxOff || r.v.smax > kMaxOff) {
    fail(ErrorKind::OutOfBounds, idx, s, {reg},
         fmt::format("the offset of r{} ({}) is unbounded", reg, format_reg(r)));
    return false;
  }
  Access a;
  a.kind = r.kind;
  a.frame = r.frame;
  a.const_off = r.v.is_const();
  a.lo = r.v.smin + off;
  a.hi = r.v.smax + off + static_cast<int64_t>(size);
  if (size == 0) {
    *out = a;
    return true;
  }
  auto oob = [&](int64_t limit, const std::string& region) {
    fail(ErrorKind::OutOfBounds, idx, s, {reg},
         fmt::format("{} of {} bytes at offset [{}, {}) is outside {} (size {})", what, size, a.lo,
                     a.hi - static_cast<int64_t>(size), region, limit));
    return false;
  };
  switch (r.kind) {
    case RegKind::Stack: {
      if (a.lo < -static_cast<int64_t>(kStackSize) || a.hi > 0)
        return oob(kStackSize, fmt::format("the stack of frame {}", r.frame));
      note_stack(s, r.frame, a.lo);
      if (!write) {
        const StackFrame& st = s.frames()[r.frame].stack;
        int bad = st.first_uninit(static_cast<int>(a.lo), static_cast<int>(a.hi - a.lo));
        if (bad != 1) {
          fail(ErrorKind::UninitStack, idx, s, {reg},
               fmt::format("stack byte fp{} of frame {} is read but not initialized", bad, r.frame));
          return false;
        }
      }
      break;
    }
    case RegKind::Ctx: {
      if (ctx_.raw) {
        if (a.lo < 0 || a.hi > ctx_.size) return oob(ctx_.size, ctx_.name);
        if (write && !ctx_.raw_writable) {
          fail(ErrorKind::WriteToReadOnly, idx, s, {reg}, "the input memory is read-only");
          return false;
        }
        break;
      }
      if (helper_arg) {
        fail(ErrorKind::BadHelperArg, idx, s, {reg}, "the context cannot be passed as memory to a helper");
        return false;
      }
      if (!a.const_off) {
        fail(ErrorKind::InvalidCtxAccess, idx, s, {reg},
             fmt::format("context accesses need a constant offset ({})", format_reg(r)));
        return false;
      }
      CtxAccess c = check_ctx_access(ctx_, a.lo, static_cast<uint32_t>(size), write);
      if (!c.ok) {
        fail(c.read_only ? ErrorKind::WriteToReadOnly : ErrorKind::InvalidCtxAccess, idx, s, {reg},
             fmt::format("invalid context {}: {}", what, c.why));
        return false;
      }
      a.field = c.kind;
      break;
    }
    case RegKind::MapValue: {
      const MapDef& m = maps_[r.map];
      if (a.lo < 0 || a.hi > m.value_size)
        return oob(m.value_size, fmt::format("the value of map '{}'", m.name));
      if (write && m.read_only) {
        fail(ErrorKind::WriteToReadOnly, idx, s, {reg}, fmt::format("map '{}' is read-only", m.name));
        return false;
      }
      break;
    }
    case RegKind::Packet:
    case RegKind::PacketMeta: {
      const char* region = r.kind == RegKind::Packet ? "the packet" : "the packet metadata";
      if (a.lo < 0) return oob(0, region);
      if (r.range == kNoRange || int64_t{r.fixed} + off + static_cast<int64_t>(size) > r.range) {
        fail(ErrorKind::OutOfBounds, idx, s, {reg},
             fmt::format("{} of {} bytes at offset {} of {} is not proven below {} (r{}={})", what, size, off,
                         region, r.kind == RegKind::Packet ? "data_end" : "data", reg, format_reg(r)));
        return false;
      }
      if (write && !ctx_.packet_writable) {
        fail(ErrorKind::WriteToReadOnly, idx, s, {reg},
             fmt::format("{} programs may not write the packet", ctx_.name));
        return false;
      }
      break;
    }
    case RegKind::Mem:
      if (a.lo < 0 || a.hi > r.size) return oob(r.size, "the helper memory");
      break;
    case RegKind::Sock: {
      // struct bpf_sock, read-only, like the fields of a context (constant offsets).
      if (helper_arg || !a.const_off) {
        fail(helper_arg ? ErrorKind::BadHelperArg : ErrorKind::InvalidCtxAccess, idx, s, {reg},
             helper_arg ? std::string("a socket cannot be passed as memory to a helper")
                        : fmt::format("socket accesses need a constant offset ({})", format_reg(r)));
        return false;
      }
      if (write) {
        fail(ErrorKind::WriteToReadOnly, idx, s, {reg},
             "the fields of a socket (struct bpf_sock) are read-only");
        return false;
      }
      CtxAccess c = check_ctx_access(socket_descriptor(), a.lo, static_cast<uint32_t>(size), false);
      if (!c.ok) {
        fail(ErrorKind::InvalidCtxAccess, idx, s, {reg}, fmt::format("invalid socket read: {}", c.why));
        return false;
      }
      break;
    }
    default:
      break;
  }
  *out = a;
  return true;
}

bool Analyzer::check_helper_args(uint32_t idx,
                                 State& s,
                                 const HelperProto& proto,
                                 int* map,
                                 uint32_t* alloc) {
  *map = -1;
  *alloc = 0;
  auto bad = [&](int reg, std::string msg) {
    fail(ErrorKind::BadHelperArg, idx, s, {reg}, fmt::format("{} argument {}: {}", proto.name, reg, msg));
    return false;
  };
  auto mem_arg = [&](int reg, uint64_t size, bool write, bool or_null) {
    const RegValue& r = s.reg(reg);
    if (or_null && r.kind == RegKind::Scalar && r.v.is_zero()) return true;
    if (!r.is_pointer())
      return bad(reg, fmt::format("expected a pointer to {} bytes of memory, got {}", size, format_reg(r)));
    Access a;
    if (!check_access(idx, s, reg, 0, size, write, true, &a)) return false;
    // The helper may write any byte it was given: spills and zero bytes there are lost (the bytes
    // it surely writes become initialized below).
    if (write && a.kind == RegKind::Stack)
      s.frames()[a.frame].stack.store_somewhere(static_cast<int>(a.lo), static_cast<int>(a.hi));
    // Memory a helper reads must not hold spilled pointers: it may copy them into a map or out.
    if (!write && a.kind == RegKind::Stack && size > 0 &&
        s.frames()[a.frame].stack.holds_pointer(static_cast<int>(a.lo), static_cast<int>(a.hi - a.lo))) {
      fail(ErrorKind::PointerLeak, idx, s, {reg},
           fmt::format("{} argument {}: the stack memory passed holds a spilled pointer", proto.name, reg));
      return false;
    }
    return true;
  };
  for (int i = 0; i < 5; ++i) {
    ArgKind k = proto.args[i];
    int reg = i + 1;
    if (k == ArgKind::None) continue;
    // The kernel declares only the first two arguments of trace_printk; r3-r5 are read as they are.
    if (proto.id == 6 && i >= 2 && !s.reg(reg).is_init()) continue;
    if (!check_init(idx, s, reg)) return false;
    const RegValue& r = s.reg(reg);
    const MapDef* md = *map >= 0 ? &maps_[*map] : nullptr;
    switch (k) {
      case ArgKind::ConstMapPtr:
        if (r.kind != RegKind::MapPtr) return bad(reg, fmt::format("expected a map, got {}", format_reg(r)));
        *map = static_cast<int>(r.map);
        if (const char* why = map_helper_mismatch(proto.id, maps_[r.map].type))
          return bad(
              reg, fmt::format("map '{}' ({}) {}", maps_[r.map].name, map_type_name(maps_[r.map].type), why));
        break;
      case ArgKind::PtrToMapKey:
      case ArgKind::PtrToMapValue:
      case ArgKind::PtrToUninitMapValue: {
        if (!md) return bad(reg, "no map argument precedes it");
        uint32_t size = k == ArgKind::PtrToMapKey ? md->key_size : md->value_size;
        bool write = k == ArgKind::PtrToUninitMapValue;
        if (!mem_arg(reg, size, write, false)) return false;
        if (write && r.kind == RegKind::Stack && r.v.is_const())
          s.frames()[r.frame].stack.mark_init(static_cast<int>(r.v.value()), static_cast<int>(size));
        break;
      }
      case ArgKind::PtrToMem:
      case ArgKind::PtrToMemOrNull:
      case ArgKind::PtrToUninitMem:
      case ArgKind::PtrToUninitMemOrNull: {
        if (i == 4) return bad(reg, "memory argument without a size");
        const RegValue& sz = s.reg(reg + 1);
        if (!check_init(idx, s, reg + 1)) return false;
        if (sz.kind != RegKind::Scalar) return bad(reg + 1, "the size must be a scalar");
        if (sz.v.umax > kMaxHelperSize)
          return bad(reg + 1,
                     fmt::format("the size is unbounded ({}); bound it before the call", format_reg(sz)));
        bool zero_ok = proto.args[i + 1] != ArgKind::ConstSize;
        if (!zero_ok && sz.v.umin == 0)
          return bad(reg + 1, fmt::format("the size may be 0 ({})", format_reg(sz)));
        bool write = k == ArgKind::PtrToUninitMem || k == ArgKind::PtrToUninitMemOrNull;
        bool or_null = k == ArgKind::PtrToMemOrNull || k == ArgKind::PtrToUninitMemOrNull;
        if (!mem_arg(reg, sz.v.umax, write, or_null)) return false;
        if (write && r.kind == RegKind::Stack && r.v.is_const() && sz.v.umin > 0)
          s.frames()[r.frame].stack.mark_init(static_cast<int>(r.v.value()), static_cast<int>(sz.v.umin));
        break;
      }
      case ArgKind::ConstSize:
      case ArgKind::ConstSizeOrZero:
        if (r.kind != RegKind::Scalar) return bad(reg, "the size must be a scalar");
        break;
      case ArgKind::ConstAllocSizeOrZero:
        if (r.kind != RegKind::Scalar || !r.v.is_const() || r.v.value() > kMaxHelperSize)
          return bad(reg, fmt::format("the allocation size must be a known constant, got {}", format_reg(r)));
        *alloc = static_cast<uint32_t>(r.v.value());
        break;
      case ArgKind::PtrToCtx:
        if (r.kind != RegKind::Ctx || !r.v.is_zero())
          return bad(reg, fmt::format("expected the context pointer, got {}", format_reg(r)));
        break;
      case ArgKind::PtrToStackOrNull:
        if (!(r.kind == RegKind::Stack || (r.kind == RegKind::Scalar && r.v.is_zero())))
          return bad(reg, fmt::format("expected a stack pointer or NULL, got {}", format_reg(r)));
        break;
      case ArgKind::PtrToFunc:
        if (r.kind != RegKind::Func)
          return bad(reg, fmt::format("expected a function, got {}", format_reg(r)));
        break;
      case ArgKind::PtrToSpinLock:
        if (r.kind != RegKind::MapValue) return bad(reg, "expected a pointer into a map value");
        // The runtime's lock word must be 4-byte aligned (the kernel asks for the BTF field's
        // exact offset; without BTF a constant, aligned offset is the closest rule).
        if (!r.v.is_const() || r.v.value() % 4 != 0)
          return bad(reg, fmt::format("the lock must be at a constant 4-byte aligned offset, got {}",
                                      format_reg(r)));
        if (!mem_arg(reg, 4, true, false)) return false;
        break;
      case ArgKind::PtrToAllocMem:
        if (r.kind != RegKind::Mem || r.ref == 0 || !r.v.is_zero())
          return bad(reg,
                     fmt::format("expected a ringbuf record from ringbuf_reserve, got {}", format_reg(r)));
        break;
      case ArgKind::PtrToConstStr: {
        if (r.kind != RegKind::MapValue || !maps_[r.map].read_only || !r.v.is_const())
          return bad(reg, "expected a constant string in a read-only map");
        if (!mem_arg(reg, 1, false, false)) return false;
        break;
      }
      case ArgKind::PtrToLong:
        if (!mem_arg(reg, 8, true, false)) return false;
        if (r.kind == RegKind::Stack && r.v.is_const())
          s.frames()[r.frame].stack.mark_init(static_cast<int>(r.v.value()), 8);
        break;
      case ArgKind::Anything:
        // Any value, but the low half of a pointer is an address: a leak, as a pointer stored
        // into a map would be.
        if (r.kind == RegKind::TruncPtr) {
          fail(ErrorKind::PointerLeak, idx, s, {reg},
               fmt::format("{} argument {}: the low 32 bits of a pointer ({}) would leak the address",
                           proto.name, reg, format_reg(r)));
          return false;
        }
        break;
      case ArgKind::None:
        break;
    }
  }
  return true;
}

bool Analyzer::exec_helper(uint32_t idx, State& s) {
  const Insn& in = prog_.insns[idx];
  const HelperProto* proto = in.src == 0 ? find_proto(static_cast<uint32_t>(in.imm)) : nullptr;
  if (!proto) {
    std::string_view kname = kernel_helper_name(static_cast<uint32_t>(in.imm));
    fail(ErrorKind::UnknownHelper, idx, s, {},
         kname.empty() ? fmt::format("helper {} does not exist", in.imm)
                       : fmt::format("helper {} ({}) has no prototype in bpfvm's verifier", in.imm, kname));
    return false;
  }
  if (const char* which = helper_restricted_for(proto->id, opts_.type)) {
    fail(ErrorKind::UnknownHelper, idx, s, {},
         fmt::format("helper {} ({}) is not available to this program type ({}); only to {} programs", in.imm,
                     proto->name, static_cast<uint32_t>(opts_.type), which));
    return false;
  }
  int map = -1;
  uint32_t alloc = 0;
  if (!check_helper_args(idx, s, *proto, &map, &alloc)) return false;
  // Callbacks: analyze the function once from a state where the caller's spilled values are
  // forgotten (the callback may run any number of times and change them through its context).
  if (proto->callback) {
    const RegValue fn = s.reg(2);
    RegValue args[5];
    if (proto->id == 181) {  // loop(nr, fn, ctx, flags): fn(u32 index, void *ctx)
      args[0] = RegValue::scalar(Scalar::of_size(4));
      args[1] = s.reg(3);
    } else {  // for_each_map_elem(map, fn, ctx, flags): fn(map, key, value, ctx)
      const MapDef& md = maps_[map];
      args[0] = s.reg(1);
      args[1] = RegValue::pointer(RegKind::Mem);
      args[1].size = md.key_size;
      args[2] = RegValue::pointer(RegKind::MapValue);
      args[2].map = static_cast<uint32_t>(map);
      args[3] = s.reg(3);
    }
    for (Frame& f : s.frames())
      f.stack.forget_spills();
    State out;
    if (!call_function(idx, fn.map, s, args, &out)) return false;
    if (!out.bottom()) {
      const RegValue& r0 = out.reg(0);
      if (r0.kind != RegKind::Scalar || r0.v.smin < 0 || r0.v.smax > 1) {
        fail(ErrorKind::BadReturnValue, idx, out, {0},
             fmt::format("the callback of {} must return 0 or 1", proto->name));
        return false;
      }
      if (out.refs() != s.refs()) {
        fail(ErrorKind::UnreleasedResource, idx, out, {},
             "the callback leaks or releases a reference of its caller");
        return false;
      }
    }
  }
  // A successful tail call ends this program: whatever it holds would never be released.
  if (proto->id == kTailCallHelper && !s.refs().empty()) {
    fail(ErrorKind::UnreleasedResource, idx, s, {},
         s.refs().front() == kSpinLockRef
             ? std::string("tail_call while a spin lock is held: the lock would never be released")
             : fmt::format("tail_call while the ringbuf reservation made at pc {} is held: it would leak",
                           prog_.insns[s.refs().front() - 2].pc));
    return false;
  }
  // Spin locks: at most one held (a second one would deadlock), released before exit.
  if (proto->id == kSpinLockHelper) {
    if (s.holds(kSpinLockRef)) {
      fail(ErrorKind::UnreleasedResource, idx, s, {1},
           "spin_lock while a spin lock may already be held: the program would deadlock");
      return false;
    }
    s.acquire(kSpinLockRef);
  } else if (proto->id == kSpinUnlockHelper) {
    if (!s.holds(kSpinLockRef)) {
      fail(ErrorKind::BadHelperArg, idx, s, {1}, "spin_unlock without a held spin lock");
      return false;
    }
    s.release(kSpinLockRef);
  }
  if (proto->releases_arg1) {
    uint32_t ref = s.reg(1).ref;
    s.release(ref);
    s.for_each_value([ref](RegValue& r) {
      if (r.ref == ref) r = RegValue::scalar(Scalar::top());
    });
  }
  // Helpers that move or resize the packet invalidate every packet pointer (and the low halves of
  // packet pointers become of unknown origin: no longer comparable with new ones).
  if (proto->changes_packet) {
    s.for_each_value([](RegValue& r) {
      if (r.is_packet() || r.kind == RegKind::PacketEnd) r = RegValue::scalar(Scalar::top());
      if (r.kind == RegKind::TruncPtr &&
          (r.base == RegKind::Packet || r.base == RegKind::PacketMeta || r.base == RegKind::PacketEnd))
        r.base = RegKind::Uninit;
    });
  }
  const bool always_found = proto->id == kMapLookupHelper && map >= 0 && lookup_always_finds(maps_[map], s);
  for (int r = 1; r <= 5; ++r)
    s.reg(r) = RegValue::uninit();
  RegValue r0 = RegValue::scalar(Scalar::top());
  switch (proto->ret) {
    case RetKind::PtrToMapValueOrNull:
      if (maps_[map].type == MapType::ArrayOfMaps || maps_[map].type == MapType::HashOfMaps) {
        // The kernel's PTR_TO_MAP_VALUE_OR_NULL with inner_map_meta: the runtime returns the inner
        // Map*, usable where a map is expected after the null check. Without an inner definition
        // nothing is known about the inner maps: an unusable scalar.
        if (inner_map_[map] < 0) break;
        r0 = RegValue::pointer(RegKind::MapPtrOrNull);
        r0.map = static_cast<uint32_t>(inner_map_[map]);
        r0.id = fresh_id(s, idx);
        break;
      }
      r0 = RegValue::pointer(always_found ? RegKind::MapValue : RegKind::MapValueOrNull);
      r0.map = static_cast<uint32_t>(map);
      r0.id = fresh_id(s, idx);
      break;
    case RetKind::PtrToAllocMemOrNull: {
      uint32_t ref = idx + 2;
      if (s.holds(ref)) {
        fail(ErrorKind::UnreleasedResource, idx, s, {},
             "a reservation made here on an earlier iteration is still held: it would leak");
        return false;
      }
      r0 = RegValue::pointer(RegKind::MemOrNull);
      r0.size = alloc;
      r0.ref = ref;
      r0.id = fresh_id(s, idx);
      s.acquire(ref);
      break;
    }
    default:
      break;
  }
  s.reg(0) = r0;
  return true;
}

bool Analyzer::check_exit(uint32_t idx, State& s) {
  const RegValue& r0 = s.reg(0);
  if (!r0.is_init()) {
    fail(ErrorKind::UninitRegister, idx, s, {0}, "r0 is not initialized at exit");
    return false;
  }
  if (r0.is_pointer()) {
    fail(ErrorKind::PointerLeak, idx, s, {0},
         r0.kind == RegKind::TruncPtr ? "the program returns the low 32 bits of a pointer"
                                      : "the program returns a pointer");
    return false;
  }
  if (ctx_.ret_checked && (r0.v.smin < ctx_.ret_min || r0.v.smax > ctx_.ret_max)) {
    fail(ErrorKind::BadReturnValue, idx, s, {0},
         fmt::format("{} programs must return a value in [{}, {}]", ctx_.name, ctx_.ret_min, ctx_.ret_max));
    return false;
  }
  if (!s.refs().empty()) {
    uint32_t ref = s.refs().front();
    fail(ErrorKind::UnreleasedResource, idx, s, {},
         ref == kSpinLockRef
             ? std::string("a spin lock is still held at exit on this path")
             : fmt::format("the ringbuf reservation made at pc {} is not released on this path",
                           prog_.insns[ref - 2].pc));
    return false;
  }
  return true;
}

bool Analyzer::check_subprog_exit(uint32_t idx, State& s) {
  if (!check_init(idx, s, 0)) return false;
  int callee = static_cast<int>(s.frames().size()) - 1;
  bool leak = false;
  auto points_into_callee = [&](const RegValue& r) { return r.kind == RegKind::Stack && r.frame == callee; };
  if (points_into_callee(s.reg(0))) leak = true;
  for (int f = 0; f < callee; ++f) {
    for (const RegValue& r : s.frames()[f].regs)
      leak |= points_into_callee(r);
    s.frames()[f].stack.for_each_spill([&](RegValue& r) { leak |= points_into_callee(r); });
  }
  if (leak) {
    fail(ErrorKind::PointerLeak, idx, s, {0},
         "a pointer to the returning function's stack escapes to its caller");
    return false;
  }
  return true;
}

}  // namespace bpfvm::verifier
