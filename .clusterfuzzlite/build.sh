#!/bin/bash -eu
# ClusterFuzzLite's build step: everything lives in fuzz/build.sh.
"$SRC/fpconform/fuzz/build.sh"
