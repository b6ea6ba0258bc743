# cmake -DDIR=db/migrations -DOUT=file.c -P cmake/embed_migrations.cmake
# Writes every DIR/NNN_name.sql, in order, as the table fw_migrations
# (src/console/migrations.h): the schema's versions built into the binary.
file(GLOB files "${DIR}/*.sql")
list(SORT files)
string(CONCAT body "/* db/migrations, built in by cmake/embed_migrations.cmake: "
       "edit those files */\n#include \"migrations.h\"\n")
set(table "")
set(n 0)
foreach(f ${files})
  get_filename_component(name "${f}" NAME)
  if(NOT name MATCHES "^([0-9]+)_[a-z0-9_]+\\.sql$")
    message(FATAL_ERROR "${f}: a migration is named NNN_name.sql")
  endif()
  math(EXPR version "${CMAKE_MATCH_1}")
  file(READ "${f}" hex HEX)
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "static const char m${n}[] = { ${bytes} 0 };\n")
  string(APPEND table "    { ${version}, \"${name}\", m${n} },\n")
  math(EXPR n "${n} + 1")
endforeach()
string(APPEND body "const fw_migration fw_migrations[] = {\n${table}};\n"
                   "const size_t fw_nmigrations = ${n};\n")
file(WRITE "${OUT}" "${body}")
