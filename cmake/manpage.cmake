# cmake -DBIN=path/to/fraudwatch -DVERSION=x.y.z -DOUT=fraudwatch.1 -P cmake/manpage.cmake
# Writes the man page fraudwatch(1) from the binary's own help: `fraudwatch
# --help`, then each command's --help, as preformatted sections. So the page
# says what --help says, and cannot drift from it.
execute_process(COMMAND "${BIN}" --help OUTPUT_VARIABLE top RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "${BIN} --help failed (${rc})")
endif()
# The commands: the indented words of the "Commands:" section.
string(REGEX MATCH "Commands:\n(.*)\n\n" section "${top}")
string(REGEX MATCHALL "\n  ([a-z]+) " lines "\n${CMAKE_MATCH_1}")
set(commands "")
foreach(l ${lines})
  string(STRIP "${l}" l)
  list(APPEND commands "${l}")
endforeach()
if(NOT commands)
  message(FATAL_ERROR "no commands found in `${BIN} --help`")
endif()

# troff: a backslash is \e, a line starting with . or ' is escaped with \&.
function(troff_escape in out)
  string(REPLACE "\\" "\\e" t "${in}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" t "${t}")
  set(${out} "${t}" PARENT_SCOPE)
endfunction()

string(TIMESTAMP year "%Y")
troff_escape("${top}" top_t)
set(page ".\\\" fraudwatch.1, written at build time by cmake/manpage.cmake from --help\n")
string(APPEND page ".TH FRAUDWATCH 1 \"${year}\" \"fraudwatch ${VERSION}\" \"User Commands\"\n"
  ".SH NAME\nfraudwatch \\- real-time fraud and anti-money-laundering detection on Kafka\n"
  ".SH SYNOPSIS\n.B fraudwatch\n.I COMMAND\n[\\fIOPTIONS\\fR]\n"
  ".SH DESCRIPTION\n.nf\n${top_t}\n.fi\n")
foreach(cmd ${commands})
  execute_process(COMMAND "${BIN}" ${cmd} --help OUTPUT_VARIABLE help RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "${BIN} ${cmd} --help failed (${rc})")
  endif()
  troff_escape("${help}" help_t)
  string(TOUPPER "${cmd}" CMD)
  string(APPEND page ".SH \"FRAUDWATCH ${CMD}\"\n.nf\n${help_t}\n.fi\n")
endforeach()
string(APPEND page ".SH SEE ALSO\nThe documentation under /usr/share/doc/fraudwatch "
  "(README.md, docs/): rules, the rule language, alerts, monitoring, the console's API, "
  "deployment.\n")
file(WRITE "${OUT}" "${page}")
