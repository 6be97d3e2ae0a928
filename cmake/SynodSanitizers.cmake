# -DSYNOD_SANITIZE=ON builds everything with AddressSanitizer and
# UndefinedBehaviorSanitizer; UB aborts instead of printing and going on.
option(SYNOD_SANITIZE "Build with ASan and UBSan" OFF)
if(SYNOD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()
