# Use ccache when the machine has it: a warm cache turns a 10 s Asio+RocksDB
# translation unit into a sub-second one.
find_program(SYNOD_CCACHE ccache)
if(SYNOD_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${SYNOD_CCACHE})
endif()
