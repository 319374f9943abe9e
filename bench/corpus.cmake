# The performance corpus (bench/programs/*.c) as a library: the BPF objects (clang-19 -target bpf),
# the same sources compiled natively with clang -O2 behind the shim (bench/native), and the runners
# of bench/corpus.h. Included by bench/CMakeLists.txt (the benchmark) and tests/CMakeLists.txt (the
# corpus test, also in builds without the benchmarks).
include_guard(GLOBAL)

set(BPFVM_BENCH_DIR ${CMAKE_SOURCE_DIR}/bench)
set(BPFVM_BENCH_OBJECTS ${CMAKE_BINARY_DIR}/bench/programs)
file(GLOB bpfvm_bench_corpus_sources CONFIGURE_DEPENDS ${BPFVM_BENCH_DIR}/programs/*.c)
bpfvm_bpf_objects(bpfvm_bench_objects OUTPUT_DIR ${BPFVM_BENCH_OBJECTS} SOURCES ${bpfvm_bench_corpus_sources}
                  LABEL "bench program")

# Native: the host target, plain -O2 (no -march), position-independent like the executables.
set(bpfvm_bench_native_objects)
foreach(src ${bpfvm_bench_corpus_sources} ${BPFVM_BENCH_DIR}/native/shim.c)
  get_filename_component(name ${src} NAME_WE)
  set(obj ${CMAKE_BINARY_DIR}/bench/native/${name}.o)
  add_custom_command(
    OUTPUT ${obj}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/bench/native
    COMMAND ${BPFVM_BPF_CLANG} -O2 -fPIE -DBENCH_NATIVE -I${CMAKE_SOURCE_DIR} -MD -MF ${obj}.d -c ${src} -o ${obj}
    DEPENDS ${src}
    DEPFILE ${obj}.d
    COMMENT "bench program (native): ${name}.o"
    VERBATIM)
  list(APPEND bpfvm_bench_native_objects ${obj})
endforeach()
set_source_files_properties(${bpfvm_bench_native_objects} PROPERTIES EXTERNAL_OBJECT TRUE GENERATED TRUE)

add_library(bpfvm_bench_corpus STATIC ${BPFVM_BENCH_DIR}/corpus.cpp ${BPFVM_BENCH_DIR}/kernel_runner.cpp
                                      ${bpfvm_bench_native_objects})
target_link_libraries(bpfvm_bench_corpus PUBLIC bpfvm_runtime fmt::fmt PRIVATE PkgConfig::LIBBPF)
target_compile_definitions(bpfvm_bench_corpus PRIVATE BPFVM_BENCH_OBJECTS="${BPFVM_BENCH_OBJECTS}")
add_dependencies(bpfvm_bench_corpus bpfvm_bench_objects)
