// The ELF object side of the bpfvm CLI: `run`/`bench` of an object's program with its context,
// `inspect`, and `disasm` with source lines. Thin: the work is done by vm/runtime/object.h.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "vm/runtime/input.h"
#include "vm/runtime/object.h"

namespace bpfvm::cli {

bool is_elf_file(const std::string& path);
// --type: nullopt when absent; kBadInput for an unknown name.
Result<std::optional<ProgType>> type_option(const boost::program_options::variables_map& vm);

// A PROGRAM file as an object file: an ELF object, or one raw/asm/.data program (type raw unless
// `type`) wrapped as a single-program object named after the file.
struct InputFile {
  ObjectFile file;
  InputFormat format = InputFormat::Elf;
  std::optional<std::vector<uint8_t>> data_mem;  // a .data file's `-- mem`
};
Result<InputFile> load_input_file(const std::string& path, std::optional<ProgType> type);
// The same made runnable (maps created, programs linked).
struct InputObject {
  std::unique_ptr<Object> obj;
  InputFormat format = InputFormat::Elf;
  std::optional<std::vector<uint8_t>> data_mem;
};
Result<InputObject> open_input_object(const std::string& path, const ObjectOptions& opts);
// --mem / --mem-file: the bytes they give, nullopt when neither is given; kBadInput when both are.
Result<std::optional<std::vector<uint8_t>>> mem_option(const boost::program_options::variables_map& vm);
// The inputs of `run` and `bench` (both backends), read and checked in this order: --packet,
// --mem / --mem-file, --cpu, --repeat (1 to 4294967295).
struct RunInputs {
  std::vector<uint8_t> packet;
  std::optional<std::vector<uint8_t>> mem;
  uint32_t cpu = 0;
  uint32_t repeat = 1;
};
Result<RunInputs> run_inputs(const boost::program_options::variables_map& vm);
// --packet-out: writes the packet after the run to that file; false (with a message) when it cannot.
bool write_packet_out(const std::string& cmd,
                      const boost::program_options::variables_map& vm,
                      const std::vector<uint8_t>& packet);
// True when `run`/`bench` go through the runtime Object: ELF input, or --type/--packet given.
bool uses_object_path(const boost::program_options::variables_map& vm);
int run_object(const boost::program_options::variables_map& vm, bool bench);
int inspect_object(const boost::program_options::variables_map& vm);
int disasm_object(const boost::program_options::variables_map& vm);

}  // namespace bpfvm::cli
