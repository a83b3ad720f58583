# mmdebias_add_plugin(NAME SOURCES src... [OUTPUT_DIRECTORY dir])
# Builds a plugin the host accepts: a MODULE library named mmdebias-NAME.so, linked to the SDK and
# LibTorch, with hidden visibility and a version script that exports the one entry symbol only.
set(_MMDEBIAS_PLUGIN_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "Directory of mmdebiasPlugin.cmake")

function(mmdebias_add_plugin name)
  cmake_parse_arguments(ARG "" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "mmdebias_add_plugin(${name}): SOURCES is required")
  endif()
  set(target mmdebias_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE mmdebias::sdk)
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME "mmdebias-${name}"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  if(ARG_OUTPUT_DIRECTORY)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${ARG_OUTPUT_DIRECTORY})
  elseif(DEFINED MMDEBIAS_PLUGIN_OUTPUT_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${MMDEBIAS_PLUGIN_OUTPUT_DIR})
  endif()
  target_link_options(${target} PRIVATE
    "LINKER:--version-script=${_MMDEBIAS_PLUGIN_CMAKE_DIR}/plugin.map"
    "LINKER:--no-undefined")
  if(COMMAND mmdebias_use_pch)
    mmdebias_use_pch(${target})
  endif()
endfunction()
