// The loader on small objects compiled from tests/elf/progs/*.c at build time.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <set>

#include "vm/elf/elf_loader.h"

namespace bpfvm {
namespace {

std::string prog_path(const char* stem) { return std::string(BPFVM_ELF_PROGS_DIR) + "/" + stem + ".o"; }

ObjectFile load(const char* stem, LoadOptions opts = {}) {
  opts.system_btf = false;
  Result<ObjectFile> r = load_object_file(prog_path(stem), opts);
  EXPECT_TRUE(r.ok()) << stem << ": " << (r.ok() ? "" : r.error().to_string());
  return r.ok() ? std::move(*r) : ObjectFile{};
}

const ElfProgram& prog(const ObjectFile& o, const char* name) {
  int i = o.find_program(name);
  EXPECT_GE(i, 0) << name;
  static const ElfProgram kNone;
  return i >= 0 ? o.programs[i] : kNone;
}

const MapDef& map(const ObjectFile& o, const char* name) {
  int i = o.find_map(name);
  EXPECT_GE(i, 0) << name;
  static const MapDef kNone;
  return i >= 0 ? o.maps[i] : kNone;
}

// Index of the first insn of each subprogram other than the entry.
std::vector<uint32_t> callees(const Program& p) {
  std::vector<uint32_t> out(p.subprogs.begin() + 1, p.subprogs.end());
  return out;
}

TEST(ElfLoader, BtfMapsWithMapInMapAndProgArrayValues) {
  ObjectFile o = load("maps");
  const MapDef& counts = map(o, "counts");
  EXPECT_EQ(counts.type, MapType::Hash);
  EXPECT_EQ(counts.key_size, 4u);
  EXPECT_EQ(counts.value_size, 8u);
  EXPECT_EQ(counts.max_entries, 128u);
  const MapDef& outer = map(o, "outer");
  EXPECT_EQ(outer.type, MapType::ArrayOfMaps);
  EXPECT_EQ(outer.value_size, 4u);
  ASSERT_EQ(outer.inner.size(), 1u);
  EXPECT_EQ(outer.inner[0].type, MapType::Array);
  EXPECT_EQ(outer.inner[0].value_size, 4u);
  EXPECT_EQ(outer.inner[0].max_entries, 4u);
  std::vector<std::pair<uint32_t, std::string>> want_outer = {{0, "inner_a"}, {1, "inner_b"}};
  EXPECT_EQ(outer.init_refs, want_outer);
  const MapDef& jumps = map(o, "jumps");
  EXPECT_EQ(jumps.type, MapType::ProgArray);
  std::vector<std::pair<uint32_t, std::string>> want_jumps = {{0, "tail_a"}, {2, "tail_b"}};
  EXPECT_EQ(jumps.init_refs, want_jumps);

  const ElfProgram& entry = prog(o, "entry");
  ASSERT_TRUE(entry.status.ok()) << entry.status.error().msg;
  EXPECT_EQ(entry.type, ProgType::Xdp);
  EXPECT_TRUE(entry.type_known);
  ASSERT_EQ(entry.map_relocs.size(), 3u);
  std::vector<std::string> referenced;
  for (const MapReloc& r : entry.map_relocs) {
    const Insn& in = entry.code.insns[r.insn];
    EXPECT_EQ(in.op, Op::LddwMapIdx);
    EXPECT_EQ(r.src, LddwSrc::MapIdx);
    EXPECT_EQ(in.imm64, r.map);
    referenced.push_back(o.maps[r.map].name);
  }
  EXPECT_EQ(referenced, (std::vector<std::string>{"counts", "outer", "jumps"}));
  EXPECT_EQ(entry.line_info.size(), entry.code.insns.size());
  EXPECT_NE(entry.line_info[0].file.find("maps.c"), std::string::npos);
  EXPECT_GT(entry.line_info[0].line, 0u);
  EXPECT_EQ(o.license, "GPL");
}

TEST(ElfLoader, GlobalDataBecomesOneElementArrays) {
  ObjectFile o = load("globals");
  const MapDef& data = map(o, ".data");
  EXPECT_EQ(data.type, MapType::Array);
  EXPECT_EQ(data.max_entries, 1u);
  ASSERT_EQ(data.value_size, 8u);
  int32_t vals[2];
  std::memcpy(vals, data.initial_value.data(), 8);
  EXPECT_EQ(vals[0] + vals[1], 16);  // counter = 7 and second = 9, in some order
  EXPECT_FALSE(data.read_only);
  const MapDef& ro = map(o, ".rodata");
  EXPECT_TRUE(ro.read_only);
  ASSERT_EQ(ro.initial_value.size(), 4u);
  EXPECT_EQ(ro.initial_value[0], 42);
  const MapDef& bss = map(o, ".bss");
  EXPECT_EQ(bss.value_size, 32u);
  EXPECT_EQ(bss.initial_value, std::vector<uint8_t>(32, 0));
  EXPECT_EQ(o.license, "Dual BSD/GPL");
  EXPECT_EQ(o.kernel_version, 0x050a00u);

  const ElfProgram& p = prog(o, "globals");
  ASSERT_TRUE(p.status.ok()) << p.status.error().msg;
  EXPECT_EQ(p.type, ProgType::SocketFilter);
  std::set<std::pair<std::string, uint32_t>> refs;
  for (const MapReloc& r : p.map_relocs) {
    const Insn& in = p.code.insns[r.insn];
    EXPECT_EQ(in.op, Op::LddwMapIdxValue);
    EXPECT_EQ(static_cast<uint32_t>(in.imm), r.map);
    EXPECT_EQ(in.imm64 >> 32, r.offset);
    refs.emplace(o.maps[r.map].name, r.offset);
  }
  EXPECT_TRUE(refs.count({".bss", 0}));  // zeroed (zeroed[2] is the ldx offset 16)
  EXPECT_TRUE(refs.count({".rodata", 0}));
  std::set<uint32_t> data_offsets;
  for (const auto& [n, off] : refs)
    if (n == ".data") data_offsets.insert(off);
  EXPECT_EQ(data_offsets, (std::set<uint32_t>{0, 4}));
}

TEST(ElfLoader, TextSubprogramIsLinkedIntoEachCaller) {
  ObjectFile o = load("subprog");
  std::vector<std::string> names;
  for (const ElfProgram& p : o.programs) names.push_back(p.section + "/" + p.name);
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{".text/helper_fn", ".text/leaf", "kprobe/do_sys_open/probe", "tc/first",
                                             "tc/second"}));
  const ElfProgram& leaf = prog(o, "leaf");
  ASSERT_TRUE(leaf.status.ok());
  for (const char* name : {"first", "second"}) {
    const ElfProgram& p = prog(o, name);
    ASSERT_TRUE(p.status.ok()) << p.status.error().msg;
    EXPECT_EQ(p.type, ProgType::SchedCls);
    // helper_fn and leaf, each appended once.
    ASSERT_EQ(callees(p.code).size(), 2u) << name;
    // Every local call lands on a subprogram entry; leaf's code appears verbatim after the entry.
    for (const Insn& in : p.code.insns) {
      if (in.op == Op::CallLocal) {
        EXPECT_TRUE(std::binary_search(p.code.subprogs.begin(), p.code.subprogs.end(), static_cast<uint32_t>(in.target)));
      }
    }
    uint32_t leaf_at = p.code.subprogs.back();
    for (size_t k = 0; k < leaf.code.insns.size(); ++k) EXPECT_EQ(p.code.insns[leaf_at + k].op, leaf.code.insns[k].op);
  }
  const ElfProgram& probe = prog(o, "probe");
  EXPECT_EQ(probe.type, ProgType::Kprobe);
  EXPECT_EQ(callees(probe.code).size(), 1u);
  EXPECT_FALSE(prog(o, "helper_fn").type_known);
}

TEST(ElfLoader, CallbackReferenceBecomesPseudoFunc) {
  ObjectFile o = load("callback");
  const ElfProgram& p = prog(o, "looper");
  ASSERT_TRUE(p.status.ok()) << p.status.error().msg;
  EXPECT_EQ(p.type, ProgType::Tracepoint);
  const ElfProgram& step = prog(o, "step");
  auto it = std::find_if(p.code.insns.begin(), p.code.insns.end(), [](const Insn& in) { return in.op == Op::LddwFunc; });
  ASSERT_NE(it, p.code.insns.end());
  // Kernel convention: target slot = pc + 1 + imm.
  EXPECT_EQ(p.code.insns[it->target].pc, it->pc + 1 + it->imm);
  ASSERT_EQ(callees(p.code), std::vector<uint32_t>{static_cast<uint32_t>(it->target)});
  for (size_t k = 0; k < step.code.insns.size(); ++k)
    EXPECT_EQ(p.code.insns[it->target + k].op, step.code.insns[k].op);
}

TEST(ElfLoader, CoreRelocationsResolveAgainstTargetBtf) {
  LoadOptions opts;
  opts.target_btf_path = prog_path("core_target");
  ObjectFile o = load("core", opts);
  const ElfProgram& p = prog(o, "core_prog");
  ASSERT_TRUE(p.status.ok()) << p.status.error().msg;
  EXPECT_EQ(p.type, ProgType::RawTracepoint);
  // tgid lives at offset 24 in the target (4 locally); missing_field does not exist; pid is 2 bytes.
  bool saw_tgid = false;
  for (const Insn& in : p.code.insns) {
    if ((in.info().form == Form::AluImm || in.info().form == Form::Ldx) && (in.imm == 24 || in.off == 24)) saw_tgid = true;
  }
  EXPECT_TRUE(saw_tgid);
  // bpf_core_field_exists(missing_field) is a `mov r1, 1` patched to 0: the slot after the 4-byte
  // size argument mov and the helper call.
  bool exists_zeroed = false;
  for (size_t k = 1; k < p.code.insns.size(); ++k)
    if (p.code.insns[k - 1].op == Op::Call && p.code.insns[k].op == Op::Mov64Imm && p.code.insns[k].dst == 1)
      exists_zeroed = p.code.insns[k].imm == 0;
  EXPECT_TRUE(exists_zeroed);
  bool saw_size = std::any_of(p.code.insns.begin(), p.code.insns.end(),
                              [](const Insn& in) { return in.info().form == Form::AluImm && in.imm == 2; });
  EXPECT_TRUE(saw_size);
}

TEST(ElfLoader, CoreWithoutTargetBtfNamesTheRelocation) {
  ObjectFile o = load("core");
  const ElfProgram& p = prog(o, "core_prog");
  ASSERT_FALSE(p.status.ok());
  EXPECT_EQ(p.status.error().code, ErrorCode::kElf);
  EXPECT_NE(p.status.error().msg.find("core_prog"), std::string::npos) << p.status.error().msg;
  EXPECT_NE(p.status.error().msg.find("access '0:1'"), std::string::npos) << p.status.error().msg;
  EXPECT_NE(p.status.error().msg.find("no target BTF"), std::string::npos) << p.status.error().msg;
  EXPECT_TRUE(p.code.insns.empty());
}

TEST(ElfLoader, TypeOverrideAndNames) {
  LoadOptions opts;
  opts.type_override = ProgType::Raw;
  ObjectFile o = load("subprog", opts);
  for (const ElfProgram& p : o.programs) EXPECT_EQ(p.type, ProgType::Raw);
  EXPECT_EQ(prog_type_from_section("xdp").type, ProgType::Xdp);
  EXPECT_EQ(prog_type_from_section("xdp/devmap").type, ProgType::Xdp);
  EXPECT_EQ(prog_type_from_section("classifier").type, ProgType::SchedCls);
  EXPECT_EQ(prog_type_from_section("kretprobe/foo").type, ProgType::Kprobe);
  EXPECT_EQ(prog_type_from_section("tp/a/b").type, ProgType::Tracepoint);
  EXPECT_EQ(prog_type_from_section("raw_tp/x").type, ProgType::RawTracepoint);
  EXPECT_EQ(prog_type_from_section("fentry/x").type, ProgType::Tracing);
  EXPECT_EQ(prog_type_from_section("cgroup/skb").type, ProgType::CgroupSkb);
  EXPECT_EQ(prog_type_from_section("cgroup_skb/ingress").type, ProgType::CgroupSkb);
  EXPECT_EQ(prog_type_from_section("cgroup/sock").type, ProgType::CgroupSock);
  EXPECT_EQ(prog_type_from_section("sk_msg").type, ProgType::SkMsg);
  EXPECT_EQ(prog_type_from_section("lwt_xmit").type, ProgType::LwtXmit);
  EXPECT_EQ(prog_type_from_section("xdp_prog").type, ProgType::Xdp);    // loose prefix
  EXPECT_EQ(prog_type_from_section("socket1").type, ProgType::SocketFilter);
  SectionType unknown = prog_type_from_section("test", ProgType::Raw);
  EXPECT_EQ(unknown.type, ProgType::Raw);
  EXPECT_FALSE(unknown.known);
  for (const char* n : {"xdp", "socket_filter", "sched_cls", "sched_act", "kprobe", "tracepoint", "raw_tracepoint",
                        "perf_event", "cgroup_skb", "cgroup_sock", "lwt_in", "sk_skb", "raw"}) {
    std::optional<ProgType> t = prog_type_from_name(n);
    ASSERT_TRUE(t.has_value()) << n;
    EXPECT_STREQ(prog_type_name(*t), n);
  }
  EXPECT_FALSE(prog_type_from_name("nonsense").has_value());
}

}  // namespace
}  // namespace bpfvm
