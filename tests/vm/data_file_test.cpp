#include <gtest/gtest.h>

#include "tests/test_util.h"
#include "vm/data_file.h"

namespace bpfvm {
namespace {

TEST(DataFile, EveryConformanceFileParses) {
  std::vector<std::string> files = conformance_files();
  ASSERT_EQ(files.size(), 313u);
  int with_asm = 0, with_result = 0, with_mem = 0, with_raw = 0, with_error = 0;
  for (const std::string& path : files) {
    Result<DataFile> f = parse_data_file(read_text(path));
    ASSERT_TRUE(f.ok()) << path << ": " << f.error().to_string();
    with_asm += f->asm_line != 0 && f->asm_text.find_first_not_of(" \t\n") != std::string::npos;
    with_result += f->result.has_value();
    with_mem += !f->mem.empty();
    with_raw += f->raw_bytes.has_value();
    with_error += f->error.has_value();
  }
  // Section counts documented in conformance/README.md.
  EXPECT_EQ(with_asm, 313);
  EXPECT_EQ(with_result, 313);
  EXPECT_EQ(with_mem, 40);
  EXPECT_EQ(with_raw, 1);
  EXPECT_EQ(with_error, 0);
}

TEST(DataFile, MemLenFile) {
  Result<DataFile> f = parse_data_file(read_text(shared_dir() + "/conformance/tests/mem-len.data"));
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->mem, (std::vector<uint8_t>{0, 0, 0, 1, 0, 0, 0, 2}));
  EXPECT_EQ(f->result, 8u);
}

TEST(DataFile, SectionsCommentsAndLineNumbers) {
  std::string text =
      "# header comment\r\n"
      "-- asm\r\n"
      "mov %r0, 1 # trailing comment\r\n"
      "\n"
      "exit\n"
      "-- mem\n"
      "00 01\n"
      "ff  7f # comment\n"
      "-- no register offset\n"
      "anything goes here\n"
      "-- c\n"
      "int main() { return 0; }\n"
      "-- result\n"
      "0x10\n"
      "0X2a\n"
      "\n"
      "-- error\n"
      "first\n"
      "  last error  \n";
  Result<DataFile> f = parse_data_file(text);
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  EXPECT_EQ(f->asm_line, 2u);
  // Line k of asm_text is line k of the file.
  EXPECT_EQ(f->asm_text, "\n\nmov %r0, 1 \n\nexit\n");
  EXPECT_EQ(f->mem, (std::vector<uint8_t>{0x00, 0x01, 0xff, 0x7f}));
  EXPECT_EQ(f->result, 0x2au);  // the last non-empty line
  EXPECT_EQ(f->error, "last error");
  EXPECT_FALSE(f->raw_bytes.has_value());
}

TEST(DataFile, ResultIsDecimalWithoutHexPrefix) {
  Result<DataFile> f = parse_data_file("-- asm\nexit\n-- result\n18446744073709551615\n");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->result, UINT64_MAX);
  f = parse_data_file("-- asm\nexit\n-- result\n0xffffffffffffffff\n");
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->result, UINT64_MAX);
}

TEST(DataFile, RawWordsAreLittleEndianSlots) {
  Result<DataFile> f = parse_data_file("-- raw\n0x5566778800000018 0x1122334400000000\n149\n-- result\n1\n");
  ASSERT_TRUE(f.ok()) << f.error().to_string();
  ASSERT_TRUE(f->raw_bytes.has_value());
  EXPECT_EQ(*f->raw_bytes,
            (std::vector<uint8_t>{0x18, 0,    0,    0,    0x88, 0x77, 0x66, 0x55, 0, 0, 0, 0,
                                  0x44, 0x33, 0x22, 0x11, 0x95, 0,    0,    0,    0, 0, 0, 0}));
  Result<std::vector<uint8_t>> bytes = program_bytes(*f);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, *f->raw_bytes);
}

TEST(DataFile, ProgramBytesAssemblesAsm) {
  Result<DataFile> f = parse_data_file("-- asm\nmov %r0, 1\nexit\n-- result\n1\n");
  ASSERT_TRUE(f.ok());
  Result<std::vector<uint8_t>> bytes = program_bytes(*f);
  ASSERT_TRUE(bytes.ok());
  EXPECT_EQ(*bytes, (std::vector<uint8_t>{0xb7, 0, 0, 0, 1, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0}));
}

TEST(DataFile, AssemblerErrorsNameTheFileLine) {
  Result<DataFile> f = parse_data_file("# c\n# c\n-- asm\nmov %r0, 1\nad %r0, 1\nexit\n-- result\n1\n");
  ASSERT_TRUE(f.ok());
  Result<std::vector<uint8_t>> bytes = program_bytes(*f);
  ASSERT_FALSE(bytes.ok());
  EXPECT_EQ(bytes.error().code, ErrorCode::kAsmSyntax);
  EXPECT_EQ(bytes.error().pc, 5u);
  EXPECT_EQ(bytes.error().to_string(), "line 5: unknown mnemonic 'ad'");
}

void expect_bad(std::string_view text, std::string_view needle) {
  Result<DataFile> f = parse_data_file(text);
  ASSERT_FALSE(f.ok()) << text;
  EXPECT_EQ(f.error().code, ErrorCode::kBadInput);
  EXPECT_NE(f.error().to_string().find(needle), std::string::npos) << f.error().to_string();
}

TEST(DataFile, Errors) {
  expect_bad("-- asm\nexit\n-- jit\n", "line 3: unknown section header '-- jit'");
  expect_bad("-- asm\nexit\n-- mem\n00 zz\n", "line 4: bad memory byte 'zz'");
  expect_bad("-- asm\nexit\n-- mem\n0x00\n", "line 4: bad memory byte '0x00'");
  expect_bad("-- raw\n0x18 0xg\n", "line 2: bad raw instruction word '0xg'");
  expect_bad("-- asm\nexit\n-- result\n0x\n", "line 4: bad result '0x'");
  expect_bad("-- asm\nexit\n-- result\n-1\n", "line 4: bad result '-1'");
  expect_bad("-- asm\nexit\n-- result\n18446744073709551616\n", "bad result");
  expect_bad("exit\n-- asm\n", "line 1: text outside of any section");
}

}  // namespace
}  // namespace bpfvm
