# cmake -DIN=file -DOUT=file.c -DNAME=symbol -P cmake/embed.cmake
# Writes IN's bytes as `const char NAME[]` (NUL-terminated) and
# `const size_t NAME_len` (without the NUL): a file built into the binary.
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
get_filename_component(src "${IN}" NAME)
file(WRITE "${OUT}" "/* ${src}, built in by cmake/embed.cmake: edit that file, not this one */\n"
  "#include <stddef.h>\n"
  "extern const char ${NAME}[];\nextern const size_t ${NAME}_len;\n"
  "const char ${NAME}[] = { ${bytes} 0 };\n"
  "const size_t ${NAME}_len = sizeof(${NAME}) - 1;\n")
