# Loaded by every .bats file: assertions, and the paths tests use.
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${OUT:-$TOP/out}
load "$TOP/tests/node_modules/bats-support/load.bash"
load "$TOP/tests/node_modules/bats-assert/load.bash"
