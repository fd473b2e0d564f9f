# Finds the six third-party libraries from Debian packages. A missing one
# fails here, at configure time, naming the package that provides it.
find_package(PkgConfig)

function(strata_missing what pkg)
  message(FATAL_ERROR "Strata needs ${what}: install the Debian package '${pkg}' "
                      "(or run deploy/install-deps.sh, which `make` runs for you).")
endfunction()

if(NOT PKG_CONFIG_FOUND)
  strata_missing("pkg-config" "pkg-config")
endif()

# libuv: pkg-config only.
pkg_check_modules(LIBUV IMPORTED_TARGET libuv>=1.40)
if(NOT LIBUV_FOUND)
  strata_missing("libuv >= 1.40" "libuv1-dev")
endif()

# hiredis: its CMake config defines no target; use pkg-config.
pkg_check_modules(HIREDIS IMPORTED_TARGET hiredis)
if(NOT HIREDIS_FOUND)
  strata_missing("hiredis" "libhiredis-dev")
endif()

# RocksDB: the shared library, not the 9 MB static archive.
find_package(RocksDB CONFIG QUIET)
if(NOT RocksDB_FOUND OR NOT TARGET RocksDB::rocksdb-shared)
  strata_missing("RocksDB" "librocksdb-dev")
endif()

# msgpack-c (the C library). The version range matters: libmsgpack-cxx-dev
# installs another msgpack-config.cmake that an unversioned call may pick.
find_package(msgpack 4.0...<4.1 CONFIG QUIET)
if(NOT msgpack_FOUND OR NOT TARGET msgpackc)
  strata_missing("msgpack-c 4.0" "libmsgpack-dev")
endif()

# Catch2 v2, only for tests.
if(STRATA_BUILD_TESTS)
  find_package(Catch2 2 CONFIG QUIET)
  if(NOT Catch2_FOUND)
    strata_missing("Catch2 v2" "catch2")
  endif()
endif()

# toml++ (header-only) for the config file.
find_package(tomlplusplus 3 CONFIG QUIET)
if(NOT tomlplusplus_FOUND)
  strata_missing("toml++ 3" "libtomlplusplus-dev")
endif()

# llhttp: Debian's node-llhttp ships the C sources; build them here.
set(STRATA_LLHTTP_SRC /usr/share/llhttp)
set(STRATA_LLHTTP_INC /usr/share/include/llhttp)
if(NOT EXISTS ${STRATA_LLHTTP_SRC}/llhttp.c OR NOT EXISTS ${STRATA_LLHTTP_INC}/llhttp.h)
  strata_missing("llhttp sources" "node-llhttp")
endif()
add_library(strata_llhttp STATIC
  ${STRATA_LLHTTP_SRC}/api.c ${STRATA_LLHTTP_SRC}/http.c ${STRATA_LLHTTP_SRC}/llhttp.c)
target_include_directories(strata_llhttp SYSTEM PUBLIC ${STRATA_LLHTTP_INC})
target_compile_options(strata_llhttp PRIVATE -w)
set_target_properties(strata_llhttp PROPERTIES POSITION_INDEPENDENT_CODE ON)
