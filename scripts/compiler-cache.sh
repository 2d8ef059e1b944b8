# Sourced by the build scripts: sets `launcher` to the CMake argument that
# compiles through ccache when it is installed (empty otherwise).
#
# The cache is shared by every clone of the repository on the machine, so a
# fresh clone (CI's) reuses what a developer's clone compiled: paths under the
# clone are hashed relative to it (base_dir) and the build directory is left
# out of the hash even with -g (hash_dir=false). The limit holds the plain,
# benchmark and both sanitizer builds at once (about 2 GB each, compressed).
# Settings already in the environment win.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd -P)}
  export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
  export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-12G}
fi
