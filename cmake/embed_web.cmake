# cmake -DDIR=web -DOUT=file.c -P cmake/embed_web.cmake
# Writes every file under DIR, sorted by path, as the table fw_web_files
# (src/console/console_static.c): the console's web page built into the
# binary. Each entry has the file's path from DIR ("/app.js"), its bytes,
# its length and a Content-Type chosen by extension; any other extension
# fails the build, so nothing is served with a guessed type.
file(GLOB_RECURSE files RELATIVE "${DIR}" "${DIR}/*")
list(SORT files)
string(CONCAT body "/* web/, built in by cmake/embed_web.cmake: edit those files */\n"
       "#include <stddef.h>\n"
       "typedef struct fw_web_file {\n"
       "    const char *path, *body;\n    size_t len;\n    const char *type;\n"
       "} fw_web_file;\n"
       "extern const fw_web_file fw_web_files[];\nextern const size_t fw_nweb_files;\n")
set(table "")
set(n 0)
foreach(f ${files})
  if(f MATCHES "\\.html$")
    set(type "text/html; charset=utf-8")
  elseif(f MATCHES "\\.css$")
    set(type "text/css; charset=utf-8")
  elseif(f MATCHES "\\.js$")
    set(type "text/javascript; charset=utf-8")
  elseif(f MATCHES "\\.svg$")
    set(type "image/svg+xml")
  elseif(f MATCHES "\\.png$")
    set(type "image/png")
  else()
    message(FATAL_ERROR "${DIR}/${f}: no Content-Type for this extension (cmake/embed_web.cmake)")
  endif()
  if(NOT f MATCHES "^[A-Za-z0-9_./-]+$" OR f MATCHES "\\.\\.")
    message(FATAL_ERROR "${DIR}/${f}: a web file's path is letters, digits, _ . - and /")
  endif()
  file(READ "${DIR}/${f}" hex HEX)
  string(LENGTH "${hex}" hexlen)
  math(EXPR len "${hexlen} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  string(APPEND body "static const char w${n}[] = { ${bytes} 0 };\n")
  string(APPEND table "    { \"/${f}\", w${n}, ${len}, \"${type}\" },\n")
  math(EXPR n "${n} + 1")
endforeach()
if(n EQUAL 0)
  message(FATAL_ERROR "${DIR}: no web files")
endif()
string(APPEND body "const fw_web_file fw_web_files[] = {\n${table}};\n"
                   "const size_t fw_nweb_files = ${n};\n")
file(WRITE "${OUT}" "${body}")
