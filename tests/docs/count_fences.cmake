# cmake -DPROGRAM=xlens_doc_snippets -DROOT=repo -P count_fences.cmake
# Counts the ```cpp fences of README.md and docs/*.md without the extractor, and checks the snippet
# program holds exactly that many.
file(GLOB pages ${ROOT}/docs/*.md)
list(PREPEND pages ${ROOT}/README.md)
set(fences 0)
foreach(page ${pages})
  file(STRINGS ${page} lines REGEX "^[ \t]*```cpp")
  list(LENGTH lines n)
  math(EXPR fences "${fences} + ${n}")
endforeach()
execute_process(COMMAND ${PROGRAM} --count OUTPUT_VARIABLE compiled OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE status)
if(NOT status EQUAL 0 OR NOT compiled STREQUAL "${fences}")
  message(FATAL_ERROR "${fences} ```cpp fences in README.md and docs/*.md, but the snippet program holds '${compiled}' (rebuild xlens_doc_snippets?)")
endif()
message(STATUS "${fences} ```cpp fences, ${compiled} snippets compiled")
