# Our own targets build with every warning as an error; third-party headers are
# included as SYSTEM so their warnings do not count against us.
function(synod_warnings target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wshadow -Wnon-virtual-dtor)
endfunction()
