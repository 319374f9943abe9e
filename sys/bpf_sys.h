// bpf(2) in user space: the kernel's BPF syscall interface (union bpf_attr commands) served by bpfvm.
//
// bpfvm_bpf(cmd, attr, size) behaves like syscall(__NR_bpf, cmd, attr, size): it returns a file
// descriptor or 0 on success, and -1 with errno set (to the value the kernel gives for the same
// request) on failure. Maps are bpfvm's user-space maps (maps/), programs are checked by bpfvm's
// verifier and run on the interpreter (BPF_PROG_TEST_RUN), BTF is parsed and validated by libbpf.
//
// File descriptors: every object is served through a real file descriptor (a memfd named
// "bpf-map", "bpf-prog" or "bpf-btf", close-on-exec as the kernel's). An fd is recognised by the
// inode it refers to, so dup(2), dup2(2), fd passing within the process and fork keep working, and
// close(2) of the last fd releases the object (detected lazily: sys_gc() scans /proc/self/fd; the
// preload library calls it from its close(2) wrapper; ids and commands that list objects call it
// too). Objects are kept alive by their fds, by pins, by the programs that use them (maps) and by
// prog arrays and maps of maps that hold them, as in the kernel.
//
// The emulated bpffs: OBJ_PIN/OBJ_GET take paths under the bpffs prefix (BPFVM_BPFFS, default
// /sys/fs/bpf). Pinned objects persist in the state directory (BPFVM_STATE_DIR, default
// /tmp/bpfvm-<uid>) so that other processes (the next bpftool command) find them: a pinned map's
// contents are written back there after every change and re-read when another process changed
// them; a pinned program is stored with its instructions and the ids of its maps. Object ids come
// from a counter in the state directory, so they are unique across the processes sharing it.
#pragma once

#include <linux/bpf.h>

#include <optional>
#include <string>

extern "C" {
// The bpf(2) system call, emulated. Thread-safe (one lock serialises the commands).
long bpfvm_bpf(int cmd, union bpf_attr* attr, unsigned int size);
}

namespace bpfvm::sys {

struct SysConfig {
  std::string state_dir;     // pins and persisted objects; empty: BPFVM_STATE_DIR or /tmp/bpfvm-<uid>
  std::string bpffs_prefix;  // empty: BPFVM_BPFFS or /sys/fs/bpf
  // Load programs bpfvm's verifier rejects (they run in checked mode); BPFVM_ALLOW_UNVERIFIED=1.
  bool allow_unverified = false;
};
// Replaces the configuration (taken from the environment at the first call otherwise). Objects
// already created stay; tests use this to work in a private state directory.
void configure(const SysConfig& cfg);
// The effective configuration.
SysConfig config();

// True for the commands bpfvm_bpf emulates; the others fail with EOPNOTSUPP (or, in the preload
// library with BPFVM_PASSTHROUGH=1, go to the kernel).
bool emulates(int cmd);
// What the emulation knows about file descriptor `fd`, for the preload library's wrappers:
// "bpf-map", "bpf-prog" or "bpf-btf" when fd is one of ours, nullopt otherwise.
std::optional<std::string> fd_kind(int fd);
// The text of /proc/self/fdinfo/<fd> the kernel would show for our fd (pos, flags, map_type,
// key_size, ... or prog_type, prog_tag, ...), nullopt when fd is not ours.
std::optional<std::string> fdinfo_text(int fd);
// True when `path` lies on the emulated bpffs (the prefix itself or below it).
bool on_bpffs(const std::string& path);
// Removes a pin (unlink(2) of a pinned path). 0, or -1 with errno (ENOENT).
int unpin(const std::string& path);
// True when `path` is a pin or a directory of the emulated bpffs that holds pins.
bool pin_exists(const std::string& path, bool* is_dir);
// Releases the objects whose last file descriptor was closed (scans /proc/self/fd).
void gc();

}  // namespace bpfvm::sys
