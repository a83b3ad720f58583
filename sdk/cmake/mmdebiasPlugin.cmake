# mmdebias_add_plugin(NAME SOURCES src... [OUTPUT_DIRECTORY dir] [NO_INSTALL])
# Builds a plugin the host accepts: a MODULE library named mmdebias-NAME.so, linked to the SDK and
# LibTorch (whose CXX11 ABI flag the SDK target carries), with hidden visibility, a version script that
# exports the one entry symbol only, and --no-undefined (a missing symbol fails the link, not the load).
# `cmake --install` puts it in <prefix>/${MMDEBIAS_PLUGIN_INSTALL_DIR}, where a host installed in the
# same prefix finds it with no path to set; NO_INSTALL leaves it out (test fixtures).
# Used in-tree (add_subdirectory(sdk)) and from the installed package (find_package(mmdebias_sdk)).
set(_MMDEBIAS_PLUGIN_CMAKE_DIR ${CMAKE_CURRENT_LIST_DIR} CACHE INTERNAL "Directory of mmdebiasPlugin.cmake")

function(mmdebias_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  if(NOT ARG_SOURCES)
    message(FATAL_ERROR "mmdebias_add_plugin(${name}): SOURCES is required")
  endif()
  if(NOT name MATCHES "^[A-Za-z_][A-Za-z0-9_]*$")
    message(FATAL_ERROR "mmdebias_add_plugin(${name}): the name must be an identifier (letters, digits, _), "
                        "as it is the prefix of the plugin's component names")
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
  if(NOT ARG_NO_INSTALL)
    # Relative to the install prefix: the host searches <its bin>/../lib/mmdebias/plugins.
    set(destination lib/mmdebias/plugins)
    if(DEFINED MMDEBIAS_PLUGIN_INSTALL_DIR)
      set(destination ${MMDEBIAS_PLUGIN_INSTALL_DIR})
    endif()
    # OPTIONAL: installing a tree in which only some plugins were built installs those.
    install(TARGETS ${target} LIBRARY DESTINATION ${destination} OPTIONAL)
  endif()
  if(COMMAND mmdebias_use_pch)
    mmdebias_use_pch(${target})
  endif()
endfunction()
