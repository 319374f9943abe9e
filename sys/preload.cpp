// libbpfvm-preload.so: serves bpf(2) of unmodified processes from bpfvm (sys/bpf_sys.h).
//
// LD_PRELOAD=libbpfvm-preload.so interposes:
//  - syscall(SYS_bpf, ...) and bpf(): emulated commands go to bpfvm_bpf; the others fail with
//    ENOTSUP, or go to the kernel when BPFVM_PASSTHROUGH=1.
//  - close(2): closing one of our fds releases objects no fd refers to any more.
//  - readlink/readlinkat of /proc/self/fd/N (and /proc/<pid>/fd/N) for our fds:
//    "anon_inode:bpf-map", "anon_inode:bpf-prog", "anon_inode:btf" as the kernel shows them.
//  - open/open64/openat/fopen/fopen64 of /proc/self/fdinfo/N for our fds: the kernel's fdinfo text.
//  - statfs/statfs64/fstatfs-free paths on the emulated bpffs report BPF_FS_MAGIC; mount(2) of
//    a bpf file system there succeeds without doing anything; unlink/unlinkat/remove of a pin
//    removes it; stat/lstat/access of a pin see a regular file.
//  - setrlimit/prlimit64 of RLIMIT_MEMLOCK succeed for unprivileged users (the emulation charges
//    no locked memory), as libbpf and bpftool raise the limit before loading.
#include <dlfcn.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "sys/bpf_sys.h"

namespace {

constexpr long kBpfFsMagic = 0xcafe4a11;

template <class F>
F real(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_NEXT, name));
}

bool passthrough() {
  const char* p = getenv("BPFVM_PASSTHROUGH");
  return p != nullptr && *p != 0 && *p != '0';
}

long do_bpf(int cmd, union bpf_attr* attr, unsigned int size) {
  if (bpfvm::sys::emulates(cmd)) return bpfvm_bpf(cmd, attr, size);
  if (passthrough()) {
    using SyscallFn = long (*)(long, ...);
    static SyscallFn sys = real<SyscallFn>("syscall");
    return sys(SYS_bpf, cmd, attr, size);
  }
  errno = ENOTSUP;
  return -1;
}

// The fd number of "/proc/self/fd/N", "/proc/<our pid>/fd/N" (dir = "fd") or the fdinfo variant.
int proc_fd(const char* path, const char* dir) {
  if (path == nullptr || strncmp(path, "/proc/", 6) != 0) return -1;
  const char* p = path + 6;
  if (strncmp(p, "self/", 5) == 0 || strncmp(p, "thread-self/", 12) == 0) {
    p = strchr(p, '/') + 1;
  } else {
    char* end;
    long pid = strtol(p, &end, 10);
    if (end == p || *end != '/' || pid != getpid()) return -1;
    p = end + 1;
  }
  size_t n = strlen(dir);
  if (strncmp(p, dir, n) != 0 || p[n] != '/') return -1;
  p += n + 1;
  char* end;
  long fd = strtol(p, &end, 10);
  if (end == p || *end != 0 || fd < 0) return -1;
  return int(fd);
}

// A memfd holding our fdinfo text for `path`, or -2 when the path is not about one of our fds.
int fdinfo_fd(const char* path) {
  int fd = proc_fd(path, "fdinfo");
  if (fd < 0) return -2;
  auto text = bpfvm::sys::fdinfo_text(fd);
  if (!text) return -2;
  int m = memfd_create("bpf-fdinfo", MFD_CLOEXEC);
  if (m < 0) return -1;
  if (write(m, text->data(), text->size()) != ssize_t(text->size())) {
    close(m);
    return -1;
  }
  lseek(m, 0, SEEK_SET);
  return m;
}

ssize_t fake_link(const char* path, char* buf, size_t size) {
  int fd = proc_fd(path, "fd");
  if (fd < 0) return -2;
  auto kind = bpfvm::sys::fd_kind(fd);
  if (!kind) return -2;
  std::string link = *kind == "bpf-btf" ? "anon_inode:btf" : "anon_inode:" + *kind;
  size_t n = std::min(size, link.size());
  memcpy(buf, link.data(), n);
  return ssize_t(n);
}

int fake_statfs(const char* path, void* out, size_t size) {
  if (path == nullptr || !bpfvm::sys::on_bpffs(path)) return -2;
  memset(out, 0, size);
  auto* sf = static_cast<struct statfs*>(out);
  sf->f_type = kBpfFsMagic;
  sf->f_bsize = 4096;
  sf->f_namelen = 255;
  sf->f_frsize = 4096;
  return 0;
}

// A pin seen through stat(2): a regular file owned by the caller (bpffs shows pins that way).
int fake_stat(const char* path, struct stat* sb) {
  if (path == nullptr || !bpfvm::sys::on_bpffs(path)) return -2;
  bool dir = false;
  if (!bpfvm::sys::pin_exists(path, &dir)) return -2;
  memset(sb, 0, sizeof *sb);
  sb->st_mode = dir ? (S_IFDIR | 0700) : (S_IFREG | 0600);
  sb->st_uid = getuid();
  sb->st_gid = getgid();
  sb->st_nlink = 1;
  return 0;
}

}  // namespace

extern "C" {

long syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& x : a)
    x = va_arg(ap, long);
  va_end(ap);
  if (number == SYS_bpf)
    return do_bpf(int(a[0]), reinterpret_cast<union bpf_attr*>(a[1]), static_cast<unsigned>(a[2]));
  using SyscallFn = long (*)(long, ...);
  static SyscallFn sys = real<SyscallFn>("syscall");
  return sys(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

__attribute__((visibility("default"))) int bpf(int cmd, union bpf_attr* attr, unsigned int size) {
  return int(do_bpf(cmd, attr, size));
}

int close(int fd) {
  static auto next = real<int (*)(int)>("close");
  const bool ours = bpfvm::sys::fd_kind(fd).has_value();
  int rc = next(fd);
  if (ours && rc == 0) bpfvm::sys::gc();
  return rc;
}

ssize_t readlink(const char* path, char* buf, size_t size) {
  static auto next = real<ssize_t (*)(const char*, char*, size_t)>("readlink");
  ssize_t n = fake_link(path, buf, size);
  return n != -2 ? n : next(path, buf, size);
}

ssize_t readlinkat(int dirfd, const char* path, char* buf, size_t size) {
  static auto next = real<ssize_t (*)(int, const char*, char*, size_t)>("readlinkat");
  ssize_t n = path != nullptr && path[0] == '/' ? fake_link(path, buf, size) : -2;
  return n != -2 ? n : next(dirfd, path, buf, size);
}

// open(2) and open64(2): our fdinfo text, else the real call (mode only matters with O_CREAT).
#define BPFVM_OPEN_WRAPPER(name)                                    \
  int name(const char* path, int flags, ...) {                      \
    static auto next = real<int (*)(const char*, int, ...)>(#name); \
    int fd = fdinfo_fd(path);                                       \
    if (fd != -2) return fd;                                        \
    va_list ap;                                                     \
    va_start(ap, flags);                                            \
    mode_t mode = va_arg(ap, mode_t);                               \
    va_end(ap);                                                     \
    return next(path, flags, mode);                                 \
  }
BPFVM_OPEN_WRAPPER(open)
BPFVM_OPEN_WRAPPER(open64)
#undef BPFVM_OPEN_WRAPPER

int openat(int dirfd, const char* path, int flags, ...) {
  static auto next = real<int (*)(int, const char*, int, ...)>("openat");
  int fd = path != nullptr && path[0] == '/' ? fdinfo_fd(path) : -2;
  if (fd != -2) return fd;
  va_list ap;
  va_start(ap, flags);
  mode_t mode = va_arg(ap, mode_t);
  va_end(ap);
  return next(dirfd, path, flags, mode);
}

FILE* fopen(const char* path, const char* mode) {
  static auto next = real<FILE* (*)(const char*, const char*)>("fopen");
  int fd = fdinfo_fd(path);
  if (fd >= 0) return fdopen(fd, "r");
  return next(path, mode);
}

FILE* fopen64(const char* path, const char* mode) {
  static auto next = real<FILE* (*)(const char*, const char*)>("fopen64");
  int fd = fdinfo_fd(path);
  if (fd >= 0) return fdopen(fd, "r");
  return next(path, mode);
}

int statfs(const char* path, struct statfs* buf) {
  static auto next = real<int (*)(const char*, struct statfs*)>("statfs");
  int rc = fake_statfs(path, buf, sizeof *buf);
  return rc != -2 ? rc : next(path, buf);
}

int statfs64(const char* path, struct statfs64* buf) {
  static auto next = real<int (*)(const char*, struct statfs64*)>("statfs64");
  int rc = fake_statfs(path, buf, sizeof *buf);
  return rc != -2 ? rc : next(path, buf);
}

int mount(const char* src, const char* target, const char* type, unsigned long flags, const void* data) {
  static auto next =
      real<int (*)(const char*, const char*, const char*, unsigned long, const void*)>("mount");
  if (target != nullptr && bpfvm::sys::on_bpffs(target) && type != nullptr && strcmp(type, "bpf") == 0)
    return 0;
  return next(src, target, type, flags, data);
}

int unlink(const char* path) {
  static auto next = real<int (*)(const char*)>("unlink");
  bool dir = false;
  if (path != nullptr && bpfvm::sys::on_bpffs(path) && bpfvm::sys::pin_exists(path, &dir) && !dir)
    return bpfvm::sys::unpin(path);
  return next(path);
}

int unlinkat(int dirfd, const char* path, int flags) {
  static auto next = real<int (*)(int, const char*, int)>("unlinkat");
  bool dir = false;
  if (path != nullptr && path[0] == '/' && bpfvm::sys::on_bpffs(path) && bpfvm::sys::pin_exists(path, &dir) &&
      !dir)
    return bpfvm::sys::unpin(path);
  return next(dirfd, path, flags);
}

int remove(const char* path) {
  static auto next = real<int (*)(const char*)>("remove");
  bool dir = false;
  if (path != nullptr && bpfvm::sys::on_bpffs(path) && bpfvm::sys::pin_exists(path, &dir) && !dir)
    return bpfvm::sys::unpin(path);
  return next(path);
}

int stat(const char* path, struct stat* sb) {
  static auto next = real<int (*)(const char*, struct stat*)>("stat");
  int rc = fake_stat(path, sb);
  return rc != -2 ? rc : next(path, sb);
}

int lstat(const char* path, struct stat* sb) {
  static auto next = real<int (*)(const char*, struct stat*)>("lstat");
  int rc = fake_stat(path, sb);
  return rc != -2 ? rc : next(path, sb);
}

int access(const char* path, int mode) {
  static auto next = real<int (*)(const char*, int)>("access");
  bool dir = false;
  if (path != nullptr && bpfvm::sys::on_bpffs(path) && bpfvm::sys::pin_exists(path, &dir)) return 0;
  return next(path, mode);
}

int setrlimit(__rlimit_resource_t resource, const struct rlimit* rl) {
  static auto next = real<int (*)(__rlimit_resource_t, const struct rlimit*)>("setrlimit");
  int rc = next(resource, rl);
  if (rc != 0 && resource == RLIMIT_MEMLOCK && errno == EPERM) return 0;
  return rc;
}

int prlimit64(pid_t pid, enum __rlimit_resource resource, const struct rlimit64* nl, struct rlimit64* old) {
  static auto next =
      real<int (*)(pid_t, enum __rlimit_resource, const struct rlimit64*, struct rlimit64*)>("prlimit64");
  int rc = next(pid, resource, nl, old);
  if (rc != 0 && resource == RLIMIT_MEMLOCK && errno == EPERM && (pid == 0 || pid == getpid())) {
    if (old != nullptr) next(pid, resource, nullptr, old);
    return 0;
  }
  return rc;
}

}  // extern "C"
