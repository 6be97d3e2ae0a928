# Use ccache when the machine has it: a warm cache turns a 10 s Asio+RocksDB
# translation unit into a sub-second one. CCACHE_BASEDIR makes paths relative
# to the source tree, so a fresh clone in another directory (as CI makes)
# still hits the cache.
find_program(SYNOD_CCACHE ccache)
if(SYNOD_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${CMAKE_SOURCE_DIR} ${SYNOD_CCACHE})
endif()
