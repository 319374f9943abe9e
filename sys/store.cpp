// The emulated bpffs and its persistent store (sys/bpf_sys.h). Layout of the state directory:
//   next_id           the id counter (flock'ed), shared by the processes using the directory
//   obj/<kind>-<id>   a persisted object: map (definition + entries), prog (instructions + map ids), btf
//   pins/<path>       a pin: "<kind> <id>", at its path relative to the bpffs prefix
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "sys/objects.h"

namespace bpfvm::sys {

namespace {

int mkdirs(const std::string& path) {
  for (size_t i = 1; i <= path.size(); i++) {
    if (i < path.size() && path[i] != '/') continue;
    std::string p = path.substr(0, i);
    if (mkdir(p.c_str(), 0700) != 0 && errno != EEXIST) return -errno;
  }
  return 0;
}

// Little-endian record writer/reader.
struct Writer {
  std::vector<uint8_t> b;
  void u32(uint32_t v) { bytes(&v, 4); }
  void u64(uint64_t v) { bytes(&v, 8); }
  void bytes(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    b.insert(b.end(), c, c + n);
  }
  void str(const std::string& s) {
    u32(uint32_t(s.size()));
    bytes(s.data(), s.size());
  }
};
struct Reader {
  std::vector<uint8_t> b;
  size_t pos = 0;
  bool ok = true;
  void bytes(void* p, size_t n) {
    if (pos + n > b.size()) {
      ok = false;
      std::memset(p, 0, n);
      return;
    }
    std::memcpy(p, b.data() + pos, n);
    pos += n;
  }
  uint32_t u32() {
    uint32_t v;
    bytes(&v, 4);
    return v;
  }
  uint64_t u64() {
    uint64_t v;
    bytes(&v, 8);
    return v;
  }
  std::string str() {
    uint32_t n = u32();
    if (!ok || n > b.size() - pos) {
      ok = false;
      return {};
    }
    std::string s(reinterpret_cast<const char*>(b.data() + pos), n);
    pos += n;
    return s;
  }
};

bool read_all(const std::string& path, std::vector<uint8_t>* out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  out->assign(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
  return true;
}

// Writes through a temporary file and rename(2): readers see the old or the new copy, and a new
// inode tells other processes that the copy changed. Returns the new inode (0 on failure).
ino_t write_atomic(const std::string& path, const std::vector<uint8_t>& data) {
  std::string tmp = fmt::format("{}.tmp{}", path, getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return 0;
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = write(fd, data.data() + off, data.size() - off);
    if (n <= 0) break;
    off += size_t(n);
  }
  struct stat sb;
  fstat(fd, &sb);
  close(fd);
  if (off != data.size() || rename(tmp.c_str(), path.c_str()) != 0) {
    unlink(tmp.c_str());
    return 0;
  }
  return sb.st_ino;
}

std::string obj_path(State& s, Kind k, uint32_t id) {
  return fmt::format("{}/obj/{}-{}", store_dir(s), kind_word(k), id);
}

bool hash_like(MapType t) {
  return t == MapType::Hash || t == MapType::PercpuHash || t == MapType::LruHash ||
         t == MapType::LruPercpuHash || t == MapType::LpmTrie;
}
bool array_like(MapType t) {
  return t == MapType::Array || t == MapType::PercpuArray;
}

// The entries the store keeps: arrays and hash-like maps (others persist their definition only).
std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> entries_of(Map& m) {
  std::vector<std::pair<std::vector<uint8_t>, std::vector<uint8_t>>> out;
  if (!hash_like(m.type()) && !array_like(m.type())) return out;
  std::vector<uint8_t> key(m.def().key_size), next(m.def().key_size);
  const void* k = nullptr;
  for (uint64_t i = 0; i <= m.def().max_entries; i++) {
    if (m.get_next_key(k, next.data()) != 0) break;
    std::vector<uint8_t> value(m.copy_value_size());
    if (m.lookup_copy(next.data(), value.data()) == 0) out.emplace_back(next, std::move(value));
    key = next;
    k = key.data();
  }
  return out;
}

std::vector<uint8_t> encode_map(const MapObj& m) {
  Writer w;
  w.bytes("BPFVMMAP", 8);
  w.u32(uint32_t(m.def.type));
  w.u32(m.def.key_size);
  w.u32(m.def.value_size);
  w.u32(m.def.max_entries);
  w.u32(m.def.map_flags);
  w.u64(m.def.map_extra);
  w.str(m.def.name);
  w.u32(m.frozen ? 1 : 0);
  w.u32(m.btf ? m.btf->id : 0);
  w.u32(m.btf_key_type_id);
  w.u32(m.btf_value_type_id);
  auto entries = entries_of(*m.map);
  w.u32(uint32_t(entries.size()));
  for (const auto& [k, v] : entries) {
    w.bytes(k.data(), k.size());
    w.bytes(v.data(), v.size());
  }
  return w.b;
}

// The fields encode_map writes before the entries.
struct MapHeader {
  MapDef def;
  bool frozen = false;
  uint32_t btf_id = 0, btf_key_type_id = 0, btf_value_type_id = 0;
};
MapHeader read_map_header(Reader& r) {
  MapHeader h;
  h.def.type = static_cast<MapType>(r.u32());
  h.def.key_size = r.u32();
  h.def.value_size = r.u32();
  h.def.max_entries = r.u32();
  h.def.map_flags = r.u32();
  h.def.map_extra = r.u64();
  h.def.name = r.str();
  h.def.read_only = (h.def.map_flags & kBpfFRdonlyProg) != 0;
  h.frozen = r.u32() != 0;
  h.btf_id = r.u32();
  h.btf_key_type_id = r.u32();
  h.btf_value_type_id = r.u32();
  return h;
}

// The fields of a stored program before its instructions.
struct ProgHeader {
  LoadRequest req;
  std::vector<uint32_t> map_ids;
};
ProgHeader read_prog_header(Reader& r) {
  ProgHeader h;
  h.req.type = static_cast<ProgType>(r.u32());
  h.req.expected_attach_type = r.u32();
  h.req.name = r.str();
  h.req.license = r.str();
  uint32_t n = r.u32();
  for (uint32_t i = 0; i < n && r.ok; i++)
    h.map_ids.push_back(r.u32());
  return h;
}

// Replaces the entries of `m` by those in the reader.
void load_entries(MapObj& m, Reader& r) {
  Map& map = *m.map;
  if (hash_like(map.type())) {
    std::vector<std::vector<uint8_t>> keys;
    std::vector<uint8_t> next(map.def().key_size);
    const void* k = nullptr;
    while (map.get_next_key(k, next.data()) == 0 && keys.size() <= map.def().max_entries) {
      keys.push_back(next);
      k = keys.back().data();
    }
    for (const auto& key : keys)
      map.remove(key.data());
  }
  uint32_t n = r.u32();
  std::vector<uint8_t> key(map.def().key_size), value(map.copy_value_size());
  for (uint32_t i = 0; i < n && r.ok; i++) {
    r.bytes(key.data(), key.size());
    r.bytes(value.data(), value.size());
    if (r.ok) map.update_copy(key.data(), value.data(), 0);
  }
}

}  // namespace

std::string store_dir(State& s) {
  ensure_configured(s);
  const std::string& d = s.cfg.state_dir;
  if (mkdirs(d + "/obj") != 0 || mkdirs(d + "/pins") != 0) return "";
  return d;
}

uint32_t alloc_id(State& s) {
  std::string d = store_dir(s);
  if (!d.empty()) {
    int fd = open((d + "/next_id").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock(fd, LOCK_EX) == 0) {
      char buf[32] = {};
      ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
      uint32_t id = n > 0 ? uint32_t(strtoul(buf, nullptr, 10)) : 0;
      if (id == 0) id = 1;
      std::string next = fmt::format("{}\n", id + 1);
      if (ftruncate(fd, 0) == 0 && pwrite(fd, next.data(), next.size(), 0) == ssize_t(next.size())) {
        close(fd);
        return id;
      }
    }
    if (fd >= 0) close(fd);
  }
  return s.local_next_id++;
}

int persist(State& s, const std::shared_ptr<Obj>& o) {
  if (o->persisted) return 0;
  if (store_dir(s).empty()) return -EACCES;
  std::vector<uint8_t> data;
  if (o->kind == Kind::Btf) {
    Writer w;
    w.bytes("BPFVMBTF", 8);
    auto& b = static_cast<BtfObj&>(*o);
    w.bytes(b.data.data(), b.data.size());
    data = std::move(w.b);
  } else if (o->kind == Kind::Map) {
    auto& m = static_cast<MapObj&>(*o);
    if (m.btf)
      if (int e = persist(s, m.btf)) return e;
    data = encode_map(m);
  } else {
    auto& p = static_cast<ProgObj&>(*o);
    for (const auto& m : p.maps)
      if (int e = persist(s, m)) return e;
    Writer w;
    w.bytes("BPFVMPRG", 8);
    w.u32(uint32_t(p.type));
    w.u32(p.expected_attach_type);
    w.str(p.name);
    w.str(p.license);
    w.u32(uint32_t(p.maps.size()));
    for (const auto& m : p.maps)
      w.u32(m->id);
    w.u32(uint32_t(p.insns.size()));
    w.bytes(p.insns.data(), p.insns.size() * sizeof(RawInsn));
    data = std::move(w.b);
  }
  ino_t ino = write_atomic(obj_path(s, o->kind, o->id), data);
  if (ino == 0) return -EIO;
  o->persisted = true;
  if (o->kind == Kind::Map) static_cast<MapObj&>(*o).file_ino = ino;
  return 0;
}

void sync_in(State& s, MapObj& m) {
  if (!m.persisted) return;
  std::string path = obj_path(s, Kind::Map, m.id);
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0 || sb.st_ino == m.file_ino) return;
  Reader r;
  if (!read_all(path, &r.b)) return;
  char magic[8];
  r.bytes(magic, 8);
  m.frozen = read_map_header(r).frozen;
  if (!r.ok) return;
  load_entries(m, r);
  m.file_ino = sb.st_ino;
}

void sync_out(State& s, MapObj& m) {
  if (!m.persisted) return;
  ino_t ino = write_atomic(obj_path(s, Kind::Map, m.id), encode_map(m));
  if (ino != 0) m.file_ino = ino;
}

std::shared_ptr<Obj> load_persisted(State& s, Kind k, uint32_t id) {
  if (store_dir(s).empty()) return nullptr;
  std::string path = obj_path(s, k, id);
  Reader r;
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0 || !read_all(path, &r.b)) return nullptr;
  char magic[8];
  r.bytes(magic, 8);
  if (!r.ok) return nullptr;
  std::shared_ptr<Obj> out;
  if (k == Kind::Btf && std::memcmp(magic, "BPFVMBTF", 8) == 0) {
    auto b = std::make_shared<BtfObj>();
    b->data.assign(r.b.begin() + 8, r.b.end());
    out = b;
  } else if (k == Kind::Map && std::memcmp(magic, "BPFVMMAP", 8) == 0) {
    MapHeader h = read_map_header(r);
    MapDef& def = h.def;
    if (!r.ok) return nullptr;
    if (def.type == MapType::ArrayOfMaps || def.type == MapType::HashOfMaps) {
      // The inner definition is not stored: an array of the same sizes stands for it.
      MapDef in;
      in.type = MapType::Array;
      in.key_size = 4;
      in.value_size = 4;
      in.max_entries = 1;
      def.inner.push_back(in);
    }
    auto made = s.maps.create(def);
    if (!made) return nullptr;
    auto m = std::make_shared<MapObj>();
    m->map = *made;
    m->def = def;
    m->frozen = h.frozen;
    m->btf_key_type_id = h.btf_key_type_id;
    m->btf_value_type_id = h.btf_value_type_id;
    if (h.btf_id != 0) m->btf = std::static_pointer_cast<BtfObj>(obj_by_id(s, Kind::Btf, h.btf_id));
    if (!m->btf) m->btf_key_type_id = m->btf_value_type_id = 0;
    load_entries(*m, r);
    m->file_ino = sb.st_ino;
    out = m;
  } else if (k == Kind::Prog && std::memcmp(magic, "BPFVMPRG", 8) == 0) {
    ProgHeader h = read_prog_header(r);
    LoadRequest& req = h.req;
    for (uint32_t mid : h.map_ids) {
      auto m = std::static_pointer_cast<MapObj>(obj_by_id(s, Kind::Map, mid));
      if (!m) return nullptr;
      req.maps.push_back(std::move(m));
    }
    uint32_t n = r.u32();
    if (!r.ok || n > (r.b.size() - r.pos) / sizeof(RawInsn)) return nullptr;
    req.insns.resize(n);
    r.bytes(req.insns.data(), n * sizeof(RawInsn));
    req.id = id;
    std::shared_ptr<ProgObj> p;
    std::string log;
    if (load_program(s, std::move(req), &p, &log) != 0) return nullptr;
    out = p;
  } else {
    return nullptr;
  }
  out->id = id;
  out->persisted = true;
  register_id(s, out);
  return out;
}

std::vector<uint32_t> persisted_ids(State& s, Kind k) {
  std::vector<uint32_t> ids;
  std::string d = store_dir(s);
  if (d.empty()) return ids;
  DIR* dir = opendir((d + "/obj").c_str());
  if (dir == nullptr) return ids;
  std::string prefix = fmt::format("{}-", kind_word(k));
  while (dirent* e = readdir(dir)) {
    std::string n = e->d_name;
    if (n.rfind(prefix, 0) != 0 || n.find(".tmp") != std::string::npos) continue;
    ids.push_back(uint32_t(strtoul(n.c_str() + prefix.size(), nullptr, 10)));
  }
  closedir(dir);
  return ids;
}

bool on_bpffs(const std::string& path) {
  std::string p;
  if (State* st = peek_state()) {
    std::lock_guard<std::recursive_mutex> g(st->mu);
    ensure_configured(*st);
    p = st->cfg.bpffs_prefix;
  } else {
    p = env_bpffs_prefix();  // stat(2) and friends of every path ask: no state built for them
  }
  return path == p || path == p + "/" ||
         (path.size() > p.size() && path.compare(0, p.size(), p) == 0 && path[p.size()] == '/');
}

namespace {
// The store path of a pin, or "" when `path` is not below the bpffs prefix.
std::string pin_file(State& s, const std::string& path) {
  ensure_configured(s);
  const std::string& p = s.cfg.bpffs_prefix;
  if (path.size() <= p.size() + 1 || path.compare(0, p.size(), p) != 0 || path[p.size()] != '/') return "";
  std::string rel = path.substr(p.size() + 1);
  if (rel.find("..") != std::string::npos) return "";
  std::string d = store_dir(s);
  if (d.empty()) return "";
  return d + "/pins/" + rel;
}

bool read_pin(const std::string& file, Kind* k, uint32_t* id) {
  std::ifstream f(file);
  std::string word;
  if (!(f >> word >> *id)) return false;
  if (word == "map")
    *k = Kind::Map;
  else if (word == "prog")
    *k = Kind::Prog;
  else if (word == "btf")
    *k = Kind::Btf;
  else
    return false;
  return true;
}

// Persisted objects no pin reaches any more are removed from the store.
void sweep_store(State& s) {
  std::string d = store_dir(s);
  if (d.empty()) return;
  std::set<std::string> keep;
  std::vector<std::string> stack;
  std::vector<std::string> pins;
  std::vector<std::string> dirs{d + "/pins"};
  while (!dirs.empty()) {
    std::string dir = dirs.back();
    dirs.pop_back();
    DIR* h = opendir(dir.c_str());
    if (h == nullptr) continue;
    while (dirent* e = readdir(h)) {
      if (e->d_name[0] == '.') continue;
      std::string p = dir + "/" + e->d_name;
      struct stat sb;
      if (stat(p.c_str(), &sb) != 0) continue;
      if (S_ISDIR(sb.st_mode))
        dirs.push_back(p);
      else
        pins.push_back(p);
    }
    closedir(h);
  }
  for (const auto& p : pins) {
    Kind k;
    uint32_t id;
    if (read_pin(p, &k, &id)) stack.push_back(fmt::format("{}-{}", kind_word(k), id));
  }
  while (!stack.empty()) {
    std::string name = stack.back();
    stack.pop_back();
    if (!keep.insert(name).second) continue;
    Reader r;
    if (!read_all(d + "/obj/" + name, &r.b)) continue;
    char magic[8];
    r.bytes(magic, 8);
    if (std::memcmp(magic, "BPFVMPRG", 8) == 0) {
      for (uint32_t id : read_prog_header(r).map_ids)
        stack.push_back(fmt::format("map-{}", id));
    } else if (std::memcmp(magic, "BPFVMMAP", 8) == 0) {
      uint32_t btf = read_map_header(r).btf_id;
      if (r.ok && btf != 0) stack.push_back(fmt::format("btf-{}", btf));
    }
  }
  for (Kind k : {Kind::Map, Kind::Prog, Kind::Btf}) {
    for (uint32_t id : persisted_ids(s, k)) {
      std::string name = fmt::format("{}-{}", kind_word(k), id);
      if (keep.count(name)) continue;
      unlink((d + "/obj/" + name).c_str());
      auto it = s.ids.find(id);
      if (it != s.ids.end())
        if (auto o = it->second.lock()) o->persisted = false;
    }
  }
}
}  // namespace

int pin_object(State& s, const std::shared_ptr<Obj>& o, const std::string& path) {
  std::string file = pin_file(s, path);
  if (file.empty()) {
    struct stat sb;
    return stat(path.c_str(), &sb) == 0 ? -EEXIST : -EPERM;  // not on (the emulated) bpffs
  }
  if (int e = mkdirs(file.substr(0, file.rfind('/')))) return e;
  if (int e = persist(s, o)) return e;
  int fd = open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return -errno;
  std::string text = fmt::format("{} {}\n", kind_word(o->kind), o->id);
  ssize_t n = write(fd, text.data(), text.size());
  close(fd);
  return n == ssize_t(text.size()) ? 0 : -EIO;
}

std::shared_ptr<Obj> get_pinned(State& s, const std::string& path, int* err) {
  std::string file = pin_file(s, path);
  Kind k;
  uint32_t id;
  if (file.empty() || !read_pin(file, &k, &id)) {
    *err = ENOENT;
    return nullptr;
  }
  auto o = obj_by_id(s, k, id);
  if (!o) *err = ENOENT;
  return o;
}

int unpin(const std::string& path) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  std::string file = pin_file(s, path);
  if (file.empty() || unlink(file.c_str()) != 0) {
    errno = ENOENT;
    return -1;
  }
  sweep_store(s);
  return 0;
}

bool pin_exists(const std::string& path, bool* is_dir) {
  State& s = state();
  std::lock_guard<std::recursive_mutex> g(s.mu);
  std::string file = pin_file(s, path);
  struct stat sb;
  if (file.empty() || stat(file.c_str(), &sb) != 0) return false;
  *is_dir = S_ISDIR(sb.st_mode);
  return true;
}

}  // namespace bpfvm::sys
