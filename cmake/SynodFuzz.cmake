# -DSYNOD_FUZZ=ON with clang builds the libFuzzer targets fuzz_frame and
# fuzz_codec (tests/fuzz). Everything is compiled with coverage
# instrumentation for libFuzzer plus ASan and UBSan, so the decoders and the
# libraries under them guide the fuzzer and any memory error or UB is a crash.
# Under another compiler the option only warns: the libFuzzer runtime ships
# with clang (Debian: libclang-rt-14-dev; scripts/deps -DSYNOD_FUZZ=ON
# installs it). The corpus regression tests (Fuzz.*) are built either way.
option(SYNOD_FUZZ "Build the libFuzzer targets (clang only)" OFF)
set(SYNOD_FUZZ_LIBFUZZER OFF)
if(SYNOD_FUZZ)
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    set(SYNOD_FUZZ_LIBFUZZER ON)
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
                        -fno-omit-frame-pointer)
    add_link_options(-fsanitize=address,undefined)
    # clang 14 with libstdc++ 12 needs this for Asio's coroutine support to
    # compile (transport.cpp); the fuzz targets themselves use no Asio.
    add_compile_definitions(BOOST_ASIO_HAS_CO_AWAIT=1)
  else()
    message(WARNING "SYNOD_FUZZ needs clang (CXX=clang++); the libFuzzer targets are not built")
  endif()
endif()
