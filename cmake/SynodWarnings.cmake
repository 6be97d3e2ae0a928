# Our own targets build with every warning as an error; third-party headers are
# included as SYSTEM so their warnings do not count against us.
#
# -Wmaybe-uninitialized is off: g++ 12 reports it falsely for std::variant
# moves at -O2 (GCC bug 105562 and relatives); ASan/UBSan builds and
# valgrind cover real uninitialised reads.
function(synod_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor
                                           $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized>)
endfunction()
